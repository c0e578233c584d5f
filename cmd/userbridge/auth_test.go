package main

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
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
	// validate reads the files and variables as serve does: they exist.
	t.Setenv("SHIFT_TOKEN", "t0ken")
	sum := sha256.Sum256([]byte("key"))
	os.WriteFile(filepath.Join(dir, "shift.keys"), []byte("k1:"+hex.EncodeToString(sum[:])+"\n"), 0o600)
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(`upstream: {url: http://idp.internal}
dialects:
  shift:
    auth:
      mode: verify
      apiKeys: {file: shift.keys}
      upstream: {bearer: {env: SHIFT_TOKEN}}
`), 0o600)
	if code, out, errs := runCmd("", "validate", "--config", good); code != 0 || !strings.Contains(out, "valid") {
		t.Fatalf("%d %q %q", code, out, errs)
	}
}

// TestValidateAuthFiles: validate refuses what serve would refuse to start
// with in the files and variables a mounted dialect's auth block names
// (the key and htpasswd files: missing, empty, a bad line; userbridge's
// own upstream credential: a missing bearer file, password file, client
// secret file, an unset variable), every problem on a line of its own
// naming the key and its line, quoting no secret or hash. The JWKS is not
// fetched: serve starts without it too.
func TestValidateAuthFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const secret = "s3cr3t-line-one"
	const hashy = "deadbeefnothex"
	write("bad.keys", "k1:"+hashy+":admin\nbadline\n")
	write("empty.keys", "# no key yet\n")
	write("bad.htpasswd", "alice:"+hashy+"\n")
	write("two.secret", secret+"\nline two\n")
	var fetched atomic.Int32
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetched.Add(1)
		w.Write([]byte(`{"keys":[]}`))
	}))
	defer jwks.Close()
	cfg := filepath.Join(dir, "v2.yaml")
	write("v2.yaml", `upstream: {url: http://idp.internal}
dialects:
  shift:
    auth: {mode: verify, apiKeys: {file: bad.keys}}
  trustedtwin:
    auth:
      mode: verify
      apiKeys: {file: missing.keys}
      upstream: {bearer: {file: missing.token}}
  crafter:
    auth:
      mode: verify
      basic: {file: bad.htpasswd}
      jwt: {jwksUrl: "`+jwks.URL+`/certs", issuer: https://idp, audience: [userbridge]}
      upstream:
        basic: {user: u, passwordFile: two.secret}
  baasic:
    auth:
      mode: verify
      basic: {file: empty.keys}
      upstream: {oauth2: {tokenUrl: "http://127.0.0.1:1/token", clientId: c, clientSecretFile: missing.secret}}
  finix:
    auth:
      mode: verify
      apiKeys: {header: X-Api-Key, file: empty.keys}
      upstream: {bearer: {env: USERBRIDGE_TEST_UNSET_TOKEN}}
`)
	code, out, errs := runCmd("", "validate", "--config", cfg)
	if code != 1 || out != "" {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, out, errs)
	}
	at := func(f string) string { return filepath.Join(dir, f) }
	want := []string{
		"config: invalid: " + cfg + ": line 4: dialects.shift.auth.apiKeys.file: auth: " + at("bad.keys") + ": line 1: the hash must be 64 hex digits",
		"config: invalid: " + cfg + ": line 4: dialects.shift.auth.apiKeys.file: auth: " + at("bad.keys") + `: line 2: want "name:hash[:roles[:id]]"`,
		"config: invalid: " + cfg + ": line 8: dialects.trustedtwin.auth.apiKeys.file: auth: open " + at("missing.keys") + ": no such file",
		"config: invalid: " + cfg + ": line 9: dialects.trustedtwin.auth.upstream.bearer: auth: open " + at("missing.token") + ": no such file",
		"config: invalid: " + cfg + ": line 13: dialects.crafter.auth.basic.file: auth: " + at("bad.htpasswd") + ": line 1: the hash must be 64 hex digits",
		"config: invalid: " + cfg + ": line 16: dialects.crafter.auth.upstream.basic.passwordFile: auth: " + at("two.secret") + ": holds more than one line",
		"config: invalid: " + cfg + ": line 20: dialects.baasic.auth.basic.file: auth: " + at("empty.keys") + ": holds no credentials",
		"config: invalid: " + cfg + ": line 21: dialects.baasic.auth.upstream.oauth2.clientSecretFile: auth: open " + at("missing.secret") + ": no such file",
		"config: invalid: " + cfg + ": line 25: dialects.finix.auth.apiKeys.file: auth: " + at("empty.keys") + ": holds no credentials",
		"config: invalid: " + cfg + ": line 26: dialects.finix.auth.upstream.bearer: auth: environment variable USERBRIDGE_TEST_UNSET_TOKEN is empty or unset",
		cfg + ": 10 problems",
	}
	for _, w := range want {
		if !strings.Contains(errs, w) {
			t.Errorf("missing %q", w)
		}
	}
	if n := strings.Count(strings.TrimSpace(errs), "\n") + 1; n != len(want) {
		t.Errorf("%d lines, want %d", n, len(want))
	}
	for _, s := range []string{secret, "line two", hashy, "k1:", "alice:"} {
		if strings.Contains(errs, s) {
			t.Errorf("validate quotes %q", s)
		}
	}
	if t.Failed() {
		t.Logf("validate said:\n%s", errs)
	}
	if n := fetched.Load(); n != 0 {
		t.Errorf("validate fetched the JWKS %d times", n)
	}
}
