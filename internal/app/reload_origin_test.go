package app_test

import (
	"strings"
	"testing"
)

// TestReloadNamesOverride: a reload refused for a value a USERBRIDGE_*
// variable set names the variable, not a line of the file read again (the
// file here writes no URL; its upstream block is on line 2).
func TestReloadNamesOverride(t *testing.T) {
	rec := okUpstream(t)
	t.Setenv("USERBRIDGE_UPSTREAM_URL", rec.srv.URL)
	f := startFile(t, fileSetup{yaml: "listen: 127.0.0.1:0\nupstream: {profile: canonical}\n"})
	f.write(t, "config.yaml", "listen: 127.0.0.1:0\nupstream:\n  profile: ldap\n  ldap: {bindDN: cn=x, bindPasswordEnv: PW, baseDN: dc=x}\n")
	err := f.app.Reload()
	want := "USERBRIDGE_UPSTREAM_URL (upstream.url): profile ldap needs an ldap:// or ldaps:// URL"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("reload: %v; want %q", err, want)
	}
	for _, l := range strings.Split(err.Error(), "\n") {
		if strings.Contains(l, "upstream.url") && strings.Contains(l, "line ") {
			t.Errorf("the URL blamed on a line of the file: %q", l)
		}
	}
	if !strings.Contains(f.logs.String(), want) {
		t.Errorf("refusal not logged with the variable:\n%s", f.logs.String())
	}
}
