package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateAuth: `userbridge validate` refuses userbridge's own upstream
// credentials with passthrough (they would be lent to unchecked callers),
// with every problem and where it is, and accepts verify.
func TestValidateAuth(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(`upstream: {url: http://idp.internal}
dialects:
  shift:
    auth:
      mode: passthrough
      upstream: {bearer: {env: SHIFT_TOKEN}}
  crafter:
    auth: {mode: check}
`), 0o600)
	code, _, errs := runCmd("", "validate", "--config", bad)
	if code == 0 {
		t.Fatal("upstream credentials with passthrough validated")
	}
	for _, want := range []string{"dialects.shift.auth.upstream: userbridge's own upstream credentials need mode verify",
		`dialects.crafter.auth.mode: "check" is not a mode`} {
		if !strings.Contains(errs, want) {
			t.Errorf("missing %q in:\n%s", want, errs)
		}
	}
	if strings.Contains(errs, "SHIFT_TOKEN=") {
		t.Error("a secret's value in the message")
	}
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(`upstream: {url: http://idp.internal}
dialects:
  shift:
    auth:
      mode: verify
      apiKeys: {file: /etc/userbridge/shift.keys}
      upstream: {bearer: {env: SHIFT_TOKEN}}
`), 0o600)
	if code, out, errs := runCmd("", "validate", "--config", good); code != 0 || !strings.Contains(out, "valid") {
		t.Fatalf("%d %q %q", code, out, errs)
	}
}
