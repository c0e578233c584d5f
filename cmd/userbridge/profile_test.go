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

// TestValidateUpstreamRulesProblems: an upstream rule file's problems are
// one each, on a line of their own saying whose they are, and counted,
// as a dialect rule file's are: unknown keys (they were one problem, in
// the YAML library's words: "unmarshal errors:" and a line for each key
// without the file's name) and the compiler's problems alike.
func TestValidateUpstreamRulesProblems(t *testing.T) {
	dir := t.TempDir()
	kc, err := os.ReadFile("../../examples/upstreams/keycloak.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "userbridge.yaml")
	os.WriteFile(cfg, []byte("upstream: {url: 'http://kc.internal:8080', rules: kc.yaml, profile: rules}\n"), 0o600)
	for _, tc := range []struct {
		name, from, to string
		want           []string
	}{
		{"unknown keys", "  id: 0.id\n  username: 0.username\n", "  idd: 0.id\n  usernam: 0.username\n",
			[]string{"kc.yaml: line 38: unknown key idd", "kc.yaml: line 39: unknown key usernam"}},
		{"compiler", "  unset: [email, givenName, familyName, attributes]", "  unset: [email, givenName, familyName, attributes, roles, mobile]",
			[]string{"update.byId.body: accepts.unset has mobile", "update.byId.body: accepts.unset has roles"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(kc), tc.from) {
				t.Fatalf("the example no longer has %q", tc.from)
			}
			os.WriteFile(filepath.Join(dir, "kc.yaml"), []byte(strings.Replace(string(kc), tc.from, tc.to, 1)), 0o600)
			code, _, errs := runCmd("", "validate", "--config", cfg)
			lines := strings.Split(strings.TrimSpace(errs), "\n")
			if code == 0 || len(lines) != len(tc.want)+1 || !strings.HasSuffix(lines[len(lines)-1], "userbridge.yaml: 2 problems") {
				t.Fatalf("exit %d:\n%s", code, errs)
			}
			for i, want := range tc.want {
				if !strings.HasPrefix(lines[i], "config: invalid: ") || !strings.Contains(lines[i], "upstream.rules: ") ||
					!strings.Contains(lines[i], want) {
					t.Errorf("problem %d: %q, want one line with %q", i, lines[i], want)
				}
			}
		})
	}
}
