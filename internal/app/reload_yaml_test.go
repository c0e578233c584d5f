package app_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestReloadYAMLSyntaxLine: a reload refused for a YAML syntax error names
// the line the problem is on (the tab on line 4), not the line before it.
func TestReloadYAMLSyntaxLine(t *testing.T) {
	rec := okUpstream(t)
	f := startFile(t, fileSetup{yaml: fmt.Sprintf("listen: 127.0.0.1:0\nupstream:\n  url: %s\n", rec.srv.URL)})
	f.write(t, "config.yaml", fmt.Sprintf("listen: 127.0.0.1:0\nupstream:\n  url: %s\n\tlog: x\n", rec.srv.URL))
	err := f.app.Reload()
	if want := "config.yaml: line 4: found a tab character that violates indentation"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("reload: %v; want %q", err, want)
	}
}
