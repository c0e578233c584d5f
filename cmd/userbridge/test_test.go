package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/userbridge/userbridge/adapters/conformance"
	"github.com/userbridge/userbridge/adapters/registry"
)

// lastLine is the output's last line, the summary.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	return lines[len(lines)-1]
}

// TestRuleTestBuiltins runs every built-in dialect's golden cases through
// the command: all pass, the summary counts them all, and they exercise
// every field rule.
func TestRuleTestBuiltins(t *testing.T) {
	var dirs []string
	total := 0
	for _, b := range registry.Builtins() {
		dir := filepath.Join("..", "..", "adapters", b.Name, "testdata")
		cs, err := conformance.LoadCases(dir)
		if err != nil {
			t.Fatal(err)
		}
		total += len(cs)
		dirs = append(dirs, dir)
	}
	// Every field rule of every built-in dialect has a golden case.
	code, out, errs := runCmd("", append([]string{"test", "--coverage-min", "100"}, dirs...)...)
	if code != 0 || lastLine(out) != fmt.Sprintf("%d passed, 0 failed", total) || strings.Contains(out, "FAIL") {
		t.Fatalf("exit %d, want 0 and %d passed:\n%s%s", code, total, out, errs)
	}
	for _, b := range registry.Builtins() {
		if !strings.Contains(out, "coverage "+b.Name+": ") {
			t.Errorf("no coverage line for %s:\n%s", b.Name, out)
		}
	}
}

// TestRuleTestFailure: a case expecting the wrong update fails with a
// path-by-path diff; the other case of the file passes.
func TestRuleTestFailure(t *testing.T) {
	code, out, _ := runCmd("", "test", filepath.Join("testdata", "ruletest", "broken"))
	if code != 1 || lastLine(out) != "1 passed, 1 failed" {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{
		"--- FAIL: " + filepath.Join("testdata", "ruletest", "broken", "finix.yaml") + ":enabled false is not active true (line 8, dialect finix)",
		"update differs (- want, + got):",
		"- set.active: true",
		"+ set.active: false",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "attributes") {
		t.Errorf("the diff shows a member that is equal:\n%s", out)
	}
}

// TestRuleTestCoverage runs cases against a dialect a config serves alone
// (its rules from a file, its constant overridden): coverage names the
// field no case sends and the member no rule names, and --coverage-min
// fails under the exercised share (2 of 3).
func TestRuleTestCoverage(t *testing.T) {
	cfg := filepath.Join("testdata", "ruletest", "config.yaml")
	cases := filepath.Join("testdata", "ruletest", "cases")
	code, out, errs := runCmd("", "test", "--config", cfg, cases)
	if code != 0 || lastLine(out) != "2 passed, 0 failed" {
		t.Fatalf("exit %d:\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"coverage probe: 2 of 3 rule fields exercised (67%); not exercised: nickname",
		"coverage probe: members no rule names (kept or refused, never mapped): extra",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCmd("", "test", "--config", cfg, "--coverage-min", "70", cases)
	if code != 1 || !strings.Contains(out, "--- FAIL: coverage probe: 66.7% of rule fields exercised, under --coverage-min 70") ||
		lastLine(out) != "2 passed, 0 failed" {
		t.Fatalf("under --coverage-min: exit %d:\n%s", code, out)
	}
	if code, out, _ := runCmd("", "test", "--config", cfg, "--coverage-min", "60", cases); code != 0 {
		t.Fatalf("over --coverage-min: exit %d:\n%s", code, out)
	}
	// Without the config, the probe dialect is not served: nothing runs,
	// exit 2 (a config to give, as for an invalid one), once per file.
	code, out, errs = runCmd("", "test", cases)
	if code != 2 || out != "" || strings.Count(errs, `no dialect "probe" is served`) != 1 || !strings.Contains(errs, filepath.Join("cases", "probe.yaml")+":") ||
		strings.Contains(errs, "--help") { // the call was right: its input is not

		t.Fatalf("exit %d:\n%s%s", code, out, errs)
	}
}

// TestRuleTestUsage: what makes the run impossible exits 2, saying why.
func TestRuleTestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"test"}, "give the case files"},
		{[]string{"test", "--nope", "x"}, "flag provided but not defined"},
		{[]string{"test", "--coverage-min", "120", "testdata"}, "0 to 100"},
		{[]string{"test", filepath.Join("testdata", "ruletest", "missing")}, "no such file"},
		{[]string{"test", filepath.Join("testdata", "ruletest", "nodialect")}, "list.yaml:1: a plain list outside a testdata folder names no dialect: no dialect"},
		{[]string{"test", "--config", filepath.Join("testdata", "ruletest", "probe.yaml"), "testdata"}, "unknown key"},
	} {
		code, _, errs := runCmd("", tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, want 2 with %q: %s", tc.args, code, tc.want, errs)
		}
	}
	if code, out, errs := runCmd("", "test", "--help"); code != 0 || !strings.HasPrefix(out, "Usage: userbridge test") || !strings.Contains(out, "-coverage-min") {
		t.Errorf("--help: exit %d: %s %s", code, out, errs)
	}
}

// TestRuleTestWrongPath: a case whose path the route does not match fails
// saying so, not as a request the rules refuse for a missing parameter.
func TestRuleTestWrongPath(t *testing.T) {
	cases := filepath.Join(t.TempDir(), "cases.yaml")
	os.WriteFile(cases, []byte(`dialect: probe
cases:
  - name: a path of another route
    path: /prob/x
    body: {mail: a@b.c}
`), 0o600)
	code, out, errs := runCmd("", "test", "--config", filepath.Join("testdata", "ruletest", "config.yaml"), cases)
	if code != 1 || lastLine(out) != "0 passed, 1 failed" ||
		!strings.Contains(out, `path "/prob/x" does not match the route PUT /probe/:id`) {
		t.Fatalf("exit %d:\n%s%s", code, out, errs)
	}
}
