package config

import (
	"path/filepath"
	"testing"
)

// TestSourcePath: a relative name is read from beside the configuration
// file; empty, absolute and embedded-configuration names stay as written.
func TestSourcePath(t *testing.T) {
	dir := filepath.Join(string(filepath.Separator)+"etc", "userbridge")
	for _, tc := range []struct {
		src        Source
		name, want string
	}{
		{Source{Name: "c.yaml", Dir: dir}, "rules/finix.yaml", filepath.Join(dir, "rules", "finix.yaml")},
		{Source{Name: "c.yaml", Dir: dir}, "../keys", filepath.Join(string(filepath.Separator)+"etc", "keys")},
		{Source{Name: "c.yaml", Dir: dir}, "", ""},
		{Source{Name: "c.yaml", Dir: dir}, "/run/secrets/pw", "/run/secrets/pw"},
		{Source{Name: "embedded default"}, "rules/finix.yaml", "rules/finix.yaml"},
	} {
		if got := tc.src.Path(tc.name); got != tc.want {
			t.Errorf("%+v.Path(%q) = %q, want %q", tc.src, tc.name, got, tc.want)
		}
	}
}
