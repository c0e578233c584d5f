package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(stdin string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestTranslate(t *testing.T) {
	code, out, _ := runCmd(`{"enabled":false,"tags":{"a":"b"}}`, "translate", "--dialect", "finix", "--path", "/users/US123")
	if code != 0 || out != `{"set":{"active":false,"attributes":{"a":"b"}},"unset":[]}`+"\n" {
		t.Fatalf("%d %q", code, out)
	}
	code, out, _ = runCmd(`{"password":"Sup3r$ecret!","userName":"bob"}`, "translate", "--dialect", "shift")
	if code != 0 || strings.Contains(out, "Sup3r") || !strings.Contains(out, "[redacted]") {
		t.Fatalf("password not redacted: %d %q", code, out)
	}
	code, out, _ = runCmd(`{"enabled":"no"}`, "translate", "--dialect", "finix")
	if code != 1 || !strings.Contains(out, "HTTP 422") || !strings.Contains(out, "INVALID_FIELD") {
		t.Fatalf("%d %q", code, out)
	}
	if code, _, errs := runCmd(`{}`, "translate", "--dialect", "nope"); code != 2 || !strings.Contains(errs, "unknown dialect") {
		t.Fatalf("%d %q", code, errs)
	}
	// The rule file must define the dialect asked for, as serve requires.
	minimal := filepath.Join("..", "..", "bench", "minimal", "rules.yaml")
	if code, _, errs := runCmd(`{"enabled":true}`, "translate", "--rules", minimal, "--dialect", "other"); code != 2 || !strings.Contains(errs, `defines dialect "minimal", not "other"`) {
		t.Fatalf("a mismatched --dialect: %d %q", code, errs)
	}
	if code, out, _ := runCmd(`{"enabled":true}`, "translate", "--rules", minimal, "--dialect", "minimal"); code != 0 || !strings.Contains(out, `"active":true`) {
		t.Fatalf("--rules with its own name: %d %q", code, out)
	}
}

func TestDialects(t *testing.T) {
	code, out, _ := runCmd("", "dialects")
	for _, want := range []string{"baasic", "PUT", "/v1/:apiKey/users/:username", "shift", "trustedtwin", "PATCH", "finix", "crafter", "POST"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("missing %q: %s", want, out)
		}
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("listen: 127.0.0.1:9000\nupstream: {url: http://idp.internal}\n"), 0o600)
	if code, out, errs := runCmd("", "validate", "--config", good); code != 0 || !strings.Contains(out, "valid") {
		t.Fatalf("%d %q %q", code, out, errs)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("listen: nowhere\nupstream: {url: ftp://x, maxAttempts: 99}\nlog: {level: loud}\ndialects:\n  finix: {prefix: nope/}\n  acme: {}\n"), 0o600)
	code, _, errs := runCmd("", "validate", "--config", bad)
	if code == 0 {
		t.Fatal("a bad config validated")
	}
	for _, want := range []string{"listen", "upstream.url", "upstream.maxAttempts", "log.level", "dialects.finix.prefix", "dialects.acme"} {
		if !strings.Contains(errs, want) {
			t.Errorf("missing %q in:\n%s", want, errs)
		}
	}
	typo := filepath.Join(dir, "typo.yaml")
	os.WriteFile(typo, []byte("listen: 127.0.0.1:9000\nupstrem: {}\n"), 0o600)
	if code, _, errs := runCmd("", "validate", "--config", typo); code == 0 || !strings.Contains(errs, "line 2") || !strings.Contains(errs, "upstrem") {
		t.Fatalf("%d %q", code, errs)
	}
	clash := filepath.Join(dir, "clash.yaml")
	os.WriteFile(clash, []byte("dialects:\n  finix: {prefix: /x}\n  shift: {prefix: /x/users}\n"), 0o600)
	if code, _, errs := runCmd("", "validate", "--config", clash); code != 0 {
		t.Fatalf("different methods and paths must not clash: %q", errs)
	}
	// A new dialect by configuration alone, on the route finix already has.
	finix, _ := os.ReadFile("../../adapters/finix/rules.yaml")
	os.WriteFile(filepath.Join(dir, "acme.yaml"), bytes.Replace(finix, []byte("dialect: finix"), []byte("dialect: acme"), 1), 0o600)
	same := filepath.Join(dir, "same.yaml")
	os.WriteFile(same, []byte("dialects:\n  acme: {rules: acme.yaml}\n"), 0o600)
	code, _, errs = runCmd("", "validate", "--config", same)
	if code == 0 || !strings.Contains(errs, "dialects acme (PUT /users/:user_id) and finix (PUT /users/:user_id) would answer the same requests") {
		t.Fatalf("%d %q", code, errs)
	}
	os.WriteFile(same, []byte("dialects:\n  acme: {rules: acme.yaml, prefix: /acme}\n"), 0o600)
	if code, out, errs := runCmd("", "routes", "--config", same); code != 0 || !strings.Contains(out, "/acme/users/:user_id") || !strings.Contains(out, "acme") {
		t.Fatalf("a configured dialect is not mounted: %d %q %q", code, out, errs)
	}
}

func TestUnknownCommand(t *testing.T) {
	if code, _, errs := runCmd("", "frobnicate"); code != 2 || !strings.Contains(errs, "Usage") {
		t.Fatalf("%d %q", code, errs)
	}
	if code, out, _ := runCmd("", "version"); code != 0 || !strings.HasPrefix(out, "userbridge ") {
		t.Fatalf("%d %q", code, out)
	}
}
