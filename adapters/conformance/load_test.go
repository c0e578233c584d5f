package conformance

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func write(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCaseDialects: a case's dialect is its own, else its document's, else
// the folder's above testdata; left without one, the file is refused.
func TestCaseDialects(t *testing.T) {
	dir := t.TempDir()
	doc := write(t, filepath.Join(dir, "doc.yaml"), "dialect: acme\ncases:\n  - name: a\n    path: /x\n  - name: b\n    dialect: finix\n    path: /y\n")
	list := write(t, filepath.Join(dir, "shift", "testdata", "l.yaml"), "# first\n- name: c\n  path: /z\n")
	var got []string
	for _, f := range []string{doc, list} {
		cs, err := LoadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			got = append(got, c.Name+"="+c.Dialect+"@"+c.File+":"+itoa(c.Line))
		}
	}
	if strings.Join(got, " ") != "a=acme@doc.yaml:3 b=finix@doc.yaml:5 c=shift@l.yaml:2" {
		t.Fatalf("got %v", got)
	}
	none := write(t, filepath.Join(dir, "cases", "n.yaml"), "- name: d\n  path: /z\n")
	if _, err := LoadFile(none); err == nil || !errors.Is(err, ErrCases) || !strings.Contains(err.Error(), "n.yaml:1: d: no dialect") {
		t.Fatalf("got %v", err)
	}
	typo := write(t, filepath.Join(dir, "t.yaml"), "dialect: acme\ncases:\n  - name: e\n    pathh: /z\n")
	if _, err := LoadFile(typo); err == nil || !strings.Contains(err.Error(), "t.yaml:4: unknown key pathh") {
		t.Fatalf("a misspelt key: %v", err)
	}
	files, err := Files([]string{dir})
	if err != nil || len(files) != 4 {
		t.Fatalf("Files: %v %v", files, err)
	}
}

// TestJSONDiff: equal values give no lines; a difference names its path,
// a member on one side only says which.
func TestJSONDiff(t *testing.T) {
	if d := jsonDiff([]byte(`{"b":[1,{"c":2}],"a":"x"}`), map[string]any{"a": "x", "b": []any{1, map[string]any{"c": 2}}}); d != nil {
		t.Fatalf("equal: %v", d)
	}
	d := jsonDiff([]byte(`{"set":{"active":false,"extra":1},"unset":[]}`), map[string]any{"set": map[string]any{"active": true, "gone": "y"}, "unset": []any{}})
	want := []string{
		`    - set.active: true`, `    + set.active: false`,
		`    + set.extra: 1   (not expected)`,
		`    - set.gone: "y"   (missing)`,
	}
	if strings.Join(d, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(d, "\n"), strings.Join(want, "\n"))
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestBodyHas: bodyHas checks the members it names, whatever else the
// body holds; a member missing or different fails.
func TestBodyHas(t *testing.T) {
	body := []byte(`{"error":{"code":"X","message":"m","docs":"d"},"total":1}`)
	if d := jsonSubset(body, map[string]any{"error": map[string]any{"code": "X"}}); d != nil {
		t.Fatalf("a subset: %v", d)
	}
	d := jsonSubset(body, map[string]any{"error": map[string]any{"code": "Y", "field": "f"}})
	if strings.Join(d, "\n") != "    - error.code: \"Y\"\n    + error.code: \"X\"\n    - error.field: \"f\"   (missing)" {
		t.Fatalf("got %q", d)
	}
}
