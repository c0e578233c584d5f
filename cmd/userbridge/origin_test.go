package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOverrideNamedByOrigin: a value a USERBRIDGE_* variable or a flag
// gives is reported, when it is wrong, by that variable or flag, never on
// a line of the file (or of the embedded default), which holds another
// value or none: every variable of config's env table that sets a value
// and every configuration flag of serve and validate. An upstream URL is
// never quoted (it may carry a credential).
func TestOverrideNamedByOrigin(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "cfg.good")
	if err := os.WriteFile(good, []byte(`# a good file
listen: 127.0.0.1:20080
upstream:
  url: http://127.0.0.1:9999
  profile: canonical
  timeout: 5s
log:
  level: info
  format: json
admin:
  listen: 127.0.0.1:20090
server:
  maxBodyBytes: 2048
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		env, val string   // a variable and its value, or
		flags    []string // flags
		want     string   // the problem, as reported
	}{
		{env: "USERBRIDGE_LISTEN", val: "nowhere", want: `config: invalid: USERBRIDGE_LISTEN (listen): "nowhere" is not host:port`},
		{env: "USERBRIDGE_UPSTREAM_URL", val: "ftp://bob:s3cret@x", want: "config: invalid: USERBRIDGE_UPSTREAM_URL (upstream.url): scheme must be http or https"},
		{env: "USERBRIDGE_UPSTREAM_URL", val: "http://bob:s3cret@x", want: "config: invalid: USERBRIDGE_UPSTREAM_URL (upstream.url): must not carry credentials"},
		{env: "USERBRIDGE_UPSTREAM_PROFILE", val: "bogus", want: `config: invalid: USERBRIDGE_UPSTREAM_PROFILE (upstream.profile): "bogus": the profiles are`},
		{env: "USERBRIDGE_UPSTREAM_TIMEOUT", val: "1h", want: `config: invalid: USERBRIDGE_UPSTREAM_TIMEOUT (upstream.timeout): "1h": must be from 10ms to 10m`},
		{env: "USERBRIDGE_MAX_BODY_BYTES", val: "1", want: `config: invalid: USERBRIDGE_MAX_BODY_BYTES (server.maxBodyBytes): "1": must be from 1024`},
		{env: "USERBRIDGE_SERVER_TRANSPORT", val: "x", want: `config: invalid: USERBRIDGE_SERVER_TRANSPORT (server.transport): "x": removed`},
		{env: "USERBRIDGE_UPSTREAM_TRANSPORT", val: "x", want: `config: invalid: USERBRIDGE_UPSTREAM_TRANSPORT (upstream.transport): "x": removed`},
		{env: "USERBRIDGE_LOG_LEVEL", val: "loud", want: `config: invalid: USERBRIDGE_LOG_LEVEL (log.level): "loud": debug, info, warn or error`},
		{env: "USERBRIDGE_LOG_FORMAT", val: "xml", want: `config: invalid: USERBRIDGE_LOG_FORMAT (log.format): "xml": json or text`},
		{env: "USERBRIDGE_ADMIN_LISTEN", val: "nowhere", want: `config: invalid: USERBRIDGE_ADMIN_LISTEN (admin.listen): "nowhere" is not host:port`},
		{flags: []string{"--listen", "nowhere"}, want: `config: invalid: --listen (listen): "nowhere" is not host:port`},
		{flags: []string{"--upstream", "ftp://bob:s3cret@x"}, want: "config: invalid: --upstream (upstream.url): scheme must be http or https"},
		{flags: []string{"--upstream", "http://bob:s3cret@x"}, want: "config: invalid: --upstream (upstream.url): must not carry credentials"},
		{flags: []string{"--upstream-profile", "bogus"}, want: `config: invalid: --upstream-profile (upstream.profile): "bogus": the profiles are`},
		// A flag wins over a variable: its value, its name.
		{env: "USERBRIDGE_LOG_LEVEL", val: "debug", flags: []string{"--listen", "nowhere"}, want: `--listen (listen): "nowhere"`},
		{env: "USERBRIDGE_LISTEN", val: "127.0.0.1:20081", flags: []string{"--listen", "nowhere"}, want: `config: invalid: --listen (listen): "nowhere" is not host:port`},
	}
	for _, c := range cases {
		for _, file := range []string{good, ""} {
			name := c.env + "=" + c.val + " " + strings.Join(c.flags, " ") + " " + file
			t.Run(name, func(t *testing.T) {
				if c.env != "" {
					t.Setenv(c.env, c.val)
				}
				args := []string{"validate"}
				if file != "" {
					args = append(args, "--config", file)
				}
				code, out, errs := runCmd("", append(args, c.flags...)...)
				if code != 1 || out != "" || !strings.Contains(errs, c.want) {
					t.Fatalf("exit %d, stdout %q, stderr %q; want %q", code, out, errs, c.want)
				}
				for _, l := range strings.Split(strings.TrimSpace(errs), "\n") {
					if strings.Contains(l, "line ") || strings.Contains(l, "cfg.good: ") && !strings.HasSuffix(l, "problem") {
						t.Errorf("blamed on the file: %q", l)
					}
				}
				if strings.Contains(errs, "s3cret") {
					t.Errorf("the URL's credential is shown: %q", errs)
				}
			})
		}
	}
}

// TestOverrideNamedInOtherProblems: a problem that names an overridden key
// beside the one at fault names its variable or flag: the listener
// admin.listen collides with, upstream.timeout in a legacy vendor's budget.
func TestOverrideNamedInOtherProblems(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(file, []byte("listen: 127.0.0.1:20080\nadmin:\n  listen: 127.0.0.1:20090\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runCmd("", "validate", "--config", file, "--listen", "127.0.0.1:20090")
	if want := `c.yaml: line 3: admin.listen: "127.0.0.1:20090" is also a dialect listener (--listen);`; code != 1 || !strings.Contains(errs, want) {
		t.Errorf("exit %d, %q; want %q", code, errs, want)
	}
	t.Setenv("USERBRIDGE_ADMIN_LISTEN", "127.0.0.1:20080")
	code, _, errs = runCmd("", "validate", "--config", file)
	if want := `config: invalid: USERBRIDGE_ADMIN_LISTEN (admin.listen): "127.0.0.1:20080" is also a dialect listener (line 1: listen);`; code != 1 || !strings.Contains(errs, want) {
		t.Errorf("exit %d, %q; want %q", code, errs, want)
	}
	t.Setenv("USERBRIDGE_ADMIN_LISTEN", "")

	// The profile a flag or variable sets, in the problems of the keys it
	// requires.
	code, _, errs = runCmd("", "validate", "--upstream-profile", "rules")
	for _, want := range []string{"upstream.url: profile rules (--upstream-profile) needs the upstream's URL",
		"upstream.rules: required by profile rules (--upstream-profile)"} {
		if code != 1 || !strings.Contains(errs, want) {
			t.Errorf("exit %d, %q; want %q", code, errs, want)
		}
	}
	t.Setenv("USERBRIDGE_UPSTREAM_PROFILE", "scim")
	code, _, errs = runCmd("", "validate")
	if want := "upstream.url: profile scim (USERBRIDGE_UPSTREAM_PROFILE) needs the upstream's URL"; code != 1 || !strings.Contains(errs, want) {
		t.Errorf("exit %d, %q; want %q", code, errs, want)
	}
	t.Setenv("USERBRIDGE_UPSTREAM_PROFILE", "")

	legacy := filepath.Join(dir, "l.yaml")
	if err := os.WriteFile(legacy, []byte(`listen: 127.0.0.1:20080
server: {writeTimeout: 10s}
upstream:
  url: http://127.0.0.1:9999
dialects:
  finix:
    legacy: {mode: shadow, url: "http://127.0.0.1:9998", timeout: 5s}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runCmd("", "validate", "--config", legacy, "--upstream-timeout", "6s")
	if want := "5s plus upstream.timeout 6s (--upstream-timeout) is not below server.writeTimeout 10s (line 2: server.writeTimeout)"; code != 1 || !strings.Contains(errs, want) {
		t.Errorf("exit %d, %q; want %q", code, errs, want)
	}
}
