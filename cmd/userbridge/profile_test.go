package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUpstreamProfileFlag(t *testing.T) {
	dir := t.TempDir()
	kc, err := os.ReadFile("../../examples/upstreams/keycloak.yaml")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "kc.yaml"), kc, 0o600)
	cfg := filepath.Join(dir, "userbridge.yaml")
	os.WriteFile(cfg, []byte("upstream: {url: 'http://kc.internal:8080', rules: kc.yaml, profile: rules}\n"), 0o600)

	code, out, errs := runCmd("", "routes", "--config", cfg)
	if code != 0 || !strings.Contains(out, "http://kc.internal:8080 (rules: keycloak, "+filepath.Join(dir, "kc.yaml")+")") {
		t.Fatalf("%d %s %s", code, out, errs)
	}
	code, out, errs = runCmd("", "routes", "--upstream", "http://scim.internal/v2", "--upstream-profile", "scim")
	if code != 0 || !strings.Contains(out, "http://scim.internal/v2 (scim)") {
		t.Fatalf("%d %s %s", code, out, errs)
	}
	code, _, errs = runCmd("", "validate", "--config", cfg, "--upstream-profile", "scim")
	if code == 0 || !strings.Contains(errs, "upstream.rules: set, but upstream.profile is scim") {
		t.Fatalf("%d %s", code, errs)
	}
	code, _, errs = runCmd("", "validate", "--upstream-profile", "soap")
	if code == 0 || !strings.Contains(errs, `"soap": the profiles are canonical, scim, rules and ldap`) {
		t.Fatalf("%d %s", code, errs)
	}
}
