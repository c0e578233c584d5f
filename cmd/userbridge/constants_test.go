package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUndeclaredConstantAtItsLine: a deployment's value for a constant the
// rule file does not declare is the configuration's mistake, reported on
// the configuration's dialects.<d>.config.<key> line with the constant
// meant. (It was reported at the rule file's config: line, a file the
// deployment may not own, and for a built-in dialect at no line at all.)
func TestUndeclaredConstantAtItsLine(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "dd.yaml")
	if err := os.WriteFile(rules, []byte(`dialect: dd
route: {method: PUT, path: /u/:id}
config: {supportUrl: x, realm: y}
request:
  target: {from: param.id, by: id}
response: {status: 204}
errors: {body: {message: "${error.message}", help: "${config.supportUrl}"}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(file, []byte(`dialects:
  dd:
    rules: dd.yaml
    config:
      realm: r
      supportURL: z
  shift: {config: {nope: "1"}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runCmd("", "validate", "--config", file)
	for _, want := range []string{
		file + ": line 6: dialects.dd.config.supportURL: the rule file " + rules + " declares no such config constant; did you mean supportUrl?\n",
		file + ": line 7: dialects.shift.config.nope: the rule file shift/rules.yaml (embedded) declares no config constant\n",
	} {
		if code != 1 || !strings.Contains(errs, want) {
			t.Errorf("missing %q: exit %d, %q", want, code, errs)
		}
	}
	if strings.Contains(errs, rules+":3") || !strings.Contains(errs, ": 2 problems") {
		t.Errorf("reported at the rule file's line, or more than once: %q", errs)
	}
}
