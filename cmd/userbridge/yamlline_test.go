package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestYAMLSyntaxErrorLine: validate, test and a config's rule files name
// the line a YAML syntax error is on, not the line before it (yaml.v3's
// context line): a flow sequence never closed, a tab that breaks the
// indentation, a key out of place, with LF and CRLF line ends, in a config
// file, in a rule file it names (with the rule file's own line), in an
// upstream rule file and in a case file.
func TestYAMLSyntaxErrorLine(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct{ file, data, want string }{
		{"y.yaml", "listen: 127.0.0.1:20080\nupstream: [1,2\n", "y.yaml: line 2: did not find expected ',' or ']'"},
		{"y2.yaml", "listen: 127.0.0.1:20080\nupstream:\n  url: demo\n\tlog: x\n", "y2.yaml: line 4: found a tab character that violates indentation"},
		{"y3.yaml", "listen: 127.0.0.1:20080\r\nupstream:\r\n  url: demo\r\n\tlog: x\r\n", "y3.yaml: line 4: found a tab character that violates indentation"},
		{"y4.yaml", "listen: 127.0.0.1:20080\nupstream:\n  url: demo\n timeout: 3s\n", "y4.yaml: line 4: did not find expected key"},
		{"y5.yaml", "\tlisten: 127.0.0.1:20080\n", "y5.yaml: line 1: found character that cannot start any token"},
	} {
		p := write(c.file, c.data)
		code, out, errs := runCmd("", "validate", "--config", p)
		if code != 1 || out != "" || !strings.Contains(errs, c.want) {
			t.Errorf("%s: exit %d, %q; want %q", c.file, code, errs, c.want)
		}
	}

	write("acme.yaml", "dialect: acme\nroute:\n  method: PUT\n\tpath: /acme/:id\n")
	cfg := write("c.yaml", "listen: 127.0.0.1:20080\ndialects:\n  acme:\n    rules: acme.yaml\n")
	code, _, errs := runCmd("", "validate", "--config", cfg)
	if want := "acme.yaml: yaml: line 4: found a tab character that violates indentation"; code != 1 || !strings.Contains(errs, "c.yaml: line 4: dialects.acme.rules") || !strings.Contains(errs, want) {
		t.Errorf("rule file: exit %d, %q; want %q", code, errs, want)
	}

	write("up.yaml", "name: up\r\nusers: {get: /u\r\n")
	cfg = write("u.yaml", "listen: 127.0.0.1:20080\nupstream:\n  url: http://127.0.0.1:9\n  profile: rules\n  rules: up.yaml\n")
	code, _, errs = runCmd("", "validate", "--config", cfg)
	if want := "up.yaml: line 2: did not find expected ',' or '}'"; code != 1 || !strings.Contains(errs, want) {
		t.Errorf("upstream rule file: exit %d, %q; want %q", code, errs, want)
	}

	cases := write("cases.yaml", "dialect: finix\ncases:\n  - name: one\n    request: {method: PUT\n")
	code, out, errs := runCmd("", "test", cases)
	if want := "cases.yaml: yaml: line 4: did not find expected ',' or '}'"; code != 2 || !strings.Contains(out+errs, want) {
		t.Errorf("case file: exit %d, %q %q; want %q", code, out, errs, want)
	}
}
