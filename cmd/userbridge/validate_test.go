package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateEveryProblem: one run of validate lists every problem of a
// config, each with its file and line: a value of the wrong type and an
// unknown key (which stop the decoding of nothing else), the meaning
// errors of the rest, the problems of a rule file it names (with the rule
// file's lines), auth, and the host values.
func TestValidateEveryProblem(t *testing.T) {
	dir := t.TempDir()
	rules := "dialect: acme\nroute: {method: PUT, path: /acme/:id}\nrequest:\n  bogus: 1\n  fields:\n    - {source: x, nope: 2}\n"
	if err := os.WriteFile(filepath.Join(dir, "acme.yaml"), []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "all.yaml")
	if err := os.WriteFile(cfg, []byte(`listen: nowhere
upstream:
  url: ftp://x
  maxAttempts: lots
  timeout: 0s
log: {level: loud}
serve: {}
dialects:
  finix: {prefix: nope/}
  crafter: {host: "http://studio.example.com/x"}
  shift: {host: "studio.example.com:8080"}
  acme:
    rules: acme.yaml
  trustedtwin:
    auth: {mode: check}
  baasic: {host: "[::1]"}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCmd("", "validate", "--config", cfg)
	if code != 1 || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	want := []string{
		"all.yaml: line 4: upstream.maxAttempts: `lots` is not a whole number",
		"all.yaml: line 7: unknown key serve; did you mean server?",
		`all.yaml: line 1: listen: "nowhere" is not host:port`,
		"all.yaml: line 3: upstream.url: scheme must be http or https",
		"all.yaml: line 5: upstream.timeout: 0s: must be from 10ms to 10m",
		`all.yaml: line 6: log.level: "loud"`,
		`all.yaml: line 9: dialects.finix.prefix: "nope/"`,
		`all.yaml: line 10: dialects.crafter.host: "http://studio.example.com/x": a host name or IP address, without a scheme`,
		`all.yaml: line 11: dialects.shift.host: "studio.example.com:8080": a host name or IP address, without a port`,
		`all.yaml: line 16: dialects.baasic.host: "[::1]": an IPv6 address is written without brackets`,
		"all.yaml: line 13: dialects.acme.rules: mapping: invalid rules: " + filepath.Join(dir, "acme.yaml") + ": line 4: unknown key bogus",
		"acme.yaml: line 6: unknown key nope in request.fields[0]; expected one of empty, enum, items, list, normalize, null, required, source, target, type, validate, wrap",
		`all.yaml: line 15: dialects.trustedtwin.auth.mode: "check" is not a mode`,
		"all.yaml: 13 problems",
	}
	for _, w := range want {
		if !strings.Contains(errs, w) {
			t.Errorf("missing %q", w)
		}
	}
	if t.Failed() {
		t.Logf("validate said:\n%s", errs)
	}
	// One problem a line, each naming the file.
	for _, l := range strings.Split(strings.TrimSpace(errs), "\n") {
		if !strings.Contains(l, "all.yaml: ") {
			t.Errorf("a line without the file: %q", l)
		}
	}
}

// TestValidateHost: a dialect's host is a host name or an IP address as
// the Host header carries it, port aside: anything else matches nothing.
func TestValidateHost(t *testing.T) {
	dir := t.TempDir()
	for host, problem := range map[string]string{
		"studio.example.com":     "",
		"Studio.Example.COM":     "",
		"localhost":              "",
		"10.0.0.7":               "",
		"::1":                    "",
		"https://studio.example": "without a scheme",
		"studio.example.com/api": "without a path",
		"studio.example.com:443": "without a port",
		"10.0.0.7:80":            "without a port",
		"[2001:db8::1]":          "without brackets",
		"[2001:db8::1]:443":      "without a port",
		"*.example.com":          "not a host name",
		"-studio.example.com":    "not a host name",
		"studio..example.com":    "not a host name",
		"studio_1.example.com":   "not a host name",
		"studio example.com":     "not a host name",
		strings.Repeat("a", 64):  "not a host name",
	} {
		cfg := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(cfg, []byte("dialects:\n  crafter:\n    host: '"+host+"'\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, errs := runCmd("", "validate", "--config", cfg)
		switch {
		case problem == "" && code != 0:
			t.Errorf("host %q refused: %s", host, errs)
		case problem != "" && (code != 1 || !strings.Contains(errs, "line 3: dialects.crafter.host: ") || !strings.Contains(errs, problem)):
			t.Errorf("host %q: exit %d, %q, want %q", host, code, errs, problem)
		}
	}
}
