package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUpstreamTimeoutRange: --upstream-timeout means what it says or is
// refused, naming the flag and the range: 0s no longer silently means the
// default, 1ns no longer reports the upstream unreachable, 100000h is no
// longer accepted. serve stops before it listens; the same range holds for
// the environment and the file, in the same words.
func TestUpstreamTimeoutRange(t *testing.T) {
	const rangeText = "must be from 10ms to 10m (default 5s)"
	for _, v := range []string{"0s", "0", "1ns", "9ms", "-1s", "10m1s", "100000h"} {
		for _, cmd := range []string{"serve", "validate", "routes"} {
			// An address no interface has: were the flag let through,
			// serve would fail to listen rather than serve for ever.
			code, _, errs := runCmd("", cmd, "--listen", "192.0.2.1:1", "--upstream-timeout", v)
			if code != 1 || !strings.Contains(errs, "--upstream-timeout ") || !strings.Contains(errs, "upstream.timeout "+rangeText) {
				t.Errorf("%s --upstream-timeout %s: exit %d, %q", cmd, v, code, errs)
			}
		}
	}
	for _, v := range []string{"10ms", "3s", "10m"} {
		if code, out, errs := runCmd("", "validate", "--upstream-timeout", v); code != 0 || !strings.Contains(out, "valid") {
			t.Errorf("--upstream-timeout %s: exit %d, %q %q", v, code, out, errs)
		}
	}

	t.Setenv("USERBRIDGE_UPSTREAM_TIMEOUT", "0s")
	if code, _, errs := runCmd("", "validate"); code != 1 || !strings.Contains(errs, `USERBRIDGE_UPSTREAM_TIMEOUT (upstream.timeout): "0s": `+rangeText) {
		t.Errorf("USERBRIDGE_UPSTREAM_TIMEOUT=0s: exit %d, %q", code, errs)
	}
	// A flag in range wins over the variable, as flags do.
	if code, _, errs := runCmd("", "validate", "--upstream-timeout", "2s"); code != 1 || !strings.Contains(errs, "USERBRIDGE_UPSTREAM_TIMEOUT") {
		t.Errorf("the variable is still read and refused: exit %d, %q", code, errs)
	}
	t.Setenv("USERBRIDGE_UPSTREAM_TIMEOUT", "")

	file := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(file, []byte("listen: 127.0.0.1:0\nupstream:\n  timeout: 0s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCmd("", "validate", "--config", file); code != 1 || !strings.Contains(errs, "line 3: upstream.timeout: 0s: "+rangeText) {
		t.Errorf("timeout: 0s in a file: exit %d, %q", code, errs)
	}
	// A file that says 0s is wrong whatever replaces its value, as a file
	// with any other problem is.
	if code, out, errs := runCmd("", "validate", "--config", file, "--upstream-timeout", "2s"); code != 1 || out != "" || !strings.Contains(errs, "line 3: upstream.timeout") {
		t.Errorf("a written 0s is refused whatever replaces it: exit %d, %q", code, errs)
	}
}

// TestHealthTimeoutRange: health's --timeout 0 would wait for ever.
func TestHealthTimeoutRange(t *testing.T) {
	for _, v := range []string{"0s", "1ns", "1m1s"} {
		if code, _, errs := runCmd("", "health", "--url", "http://127.0.0.1:1/healthz", "--timeout", v); code != 1 ||
			!strings.Contains(errs, "--timeout "+v+": must be from 10ms to 1m (default 2s)") {
			t.Errorf("--timeout %s: exit %d, %q", v, code, errs)
		}
	}
}

// TestDurationProblemsNameTheirKey: a duration that is no duration names
// its key and line, as every other problem of the file does (it named the
// line alone, and a list was `""`), and its variable or flag with the key
// (the variable's said Go's "time: unknown unit", the flag's "parse
// error").
func TestDurationProblemsNameTheirKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(file, []byte("upstream:\n  timeout: 5 seconds\nserver:\n  readTimeout: [1]\n  writeTimeout: {a: 1}\ndialects:\n  shift:\n    legacy: {timeout: 3}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runCmd("", "validate", "--config", file)
	for _, want := range []string{
		file + ": line 2: upstream.timeout: `5 seconds` is not a duration such as 5s or 250ms",
		file + ": line 4: server.readTimeout: a list is not a duration such as 5s or 250ms",
		file + ": line 5: server.writeTimeout: a mapping is not a duration such as 5s or 250ms",
		file + ": line 8: dialects.shift.legacy.timeout: `3` is not a duration such as 5s or 250ms",
	} {
		if code != 1 || !strings.Contains(errs, want) {
			t.Errorf("missing %q: exit %d, %q", want, code, errs)
		}
	}
	if n := strings.Count(errs, "is not a duration"); n != 4 {
		t.Errorf("%d duration problems, want 4 (each once): %q", n, errs)
	}
	code, _, errs = runCmd("", "validate", "--upstream-timeout", "5 seconds")
	if want := `-upstream-timeout: upstream.timeout: "5 seconds" is not a duration such as 5s or 250ms`; code != 2 || !strings.Contains(errs, want) {
		t.Errorf("--upstream-timeout '5 seconds': exit %d, %q", code, errs)
	}
	t.Setenv("USERBRIDGE_UPSTREAM_TIMEOUT", "5 seconds")
	code, _, errs = runCmd("", "validate")
	if want := `USERBRIDGE_UPSTREAM_TIMEOUT (upstream.timeout): "5 seconds": not a duration such as 5s or 250ms`; code != 1 || !strings.Contains(errs, want) {
		t.Errorf("USERBRIDGE_UPSTREAM_TIMEOUT='5 seconds': exit %d, %q", code, errs)
	}
}
