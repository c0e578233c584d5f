package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exampleDir is the worked example of a custom dialect.
var exampleDir = filepath.Join("..", "..", "examples", "dialects", "acme")

// TestExampleDialect: the worked example's config validates and serves
// acme alone, and its cases all pass through `userbridge test`.
func TestExampleDialect(t *testing.T) {
	cfg := filepath.Join(exampleDir, "config.yaml")
	if code, out, errs := runCmd("", "validate", "--config", cfg); code != 0 || !strings.Contains(out, "valid; 1 dialects mounted") {
		t.Fatalf("validate: exit %d: %s%s", code, out, errs)
	}
	code, out, errs := runCmd("", "routes", "--config", cfg)
	if code != 0 || !strings.Contains(out, "PUT     /acme/v2/accounts/:accountId  acme") {
		t.Fatalf("routes: exit %d: %s%s", code, out, errs)
	}
	for _, builtin := range []string{"baasic", "shift", "trustedtwin", "finix", "crafter"} {
		if strings.Contains(out, builtin) {
			t.Errorf("the built-in %s is served beside acme:\n%s", builtin, out)
		}
	}
	code, out, errs = runCmd("", "test", "--config", cfg, "--coverage-min", "100", filepath.Join(exampleDir, "tests"))
	if code != 0 || lastLine(out) != "13 passed, 0 failed" || !strings.Contains(out, "coverage acme: 6 of 6 rule fields exercised (100%)") {
		t.Fatalf("test: exit %d:\n%s%s", code, out, errs)
	}
}

// TestOrbitExample: the second worked example validates, serves orbit
// alone, and its cases pass with every field rule exercised (bodyHas
// reading members of the objects in an array, details[0].field, among
// them).
func TestOrbitExample(t *testing.T) {
	dir := filepath.Join("..", "..", "examples", "dialects", "orbit")
	cfg := filepath.Join(dir, "config.yaml")
	if code, out, errs := runCmd("", "validate", "--config", cfg); code != 0 || !strings.Contains(out, "valid; 1 dialects mounted") {
		t.Fatalf("validate: exit %d: %s%s", code, out, errs)
	}
	code, out, errs := runCmd("", "test", "--config", cfg, "--coverage-min", "100", filepath.Join(dir, "tests"))
	if code != 0 || lastLine(out) != "12 passed, 0 failed" || !strings.Contains(out, "coverage orbit: 11 of 11 rule fields exercised (100%)") {
		t.Fatalf("test: exit %d:\n%s%s", code, out, errs)
	}
}

// TestExampleCasesCatchARegression: the example's cases are a real check
// of the rules: the answer rendering state as the canonical value, as
// before the enum filter, fails the cases that read it.
func TestExampleCasesCatchARegression(t *testing.T) {
	dir := t.TempDir()
	rules, err := os.ReadFile(filepath.Join(exampleDir, "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(rules), "state: ${user|enum:state|default:open}", "state: ${user.locked}", 1)
	if broken == string(rules) {
		t.Fatal("the example's state rendering changed: update this test")
	}
	cfg, _ := os.ReadFile(filepath.Join(exampleDir, "config.yaml"))
	os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(broken), 0o600)
	os.WriteFile(filepath.Join(dir, "config.yaml"), cfg, 0o600)
	code, out, _ := runCmd("", "test", "--config", filepath.Join(dir, "config.yaml"), filepath.Join(exampleDir, "tests"))
	if code != 1 || !strings.Contains(out, `- state: "locked"`) || !strings.Contains(out, "+ state: true") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}
