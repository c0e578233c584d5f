package app

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/userbridge/userbridge/config"
)

// TestResolveCompilesUpstreamRules: package config reads profile rules'
// rule file but cannot compile it (the rules profile is internal); Resolve
// reports its problems with config's own, and LoadRules compiles it.
func TestResolveCompilesUpstreamRules(t *testing.T) {
	dir := t.TempDir()
	kc, err := os.ReadFile("../../examples/upstreams/keycloak.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kc.yaml"), kc, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("upstream: Bad\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := config.Source{Name: "test.yaml", Dir: dir}
	parse := func(yaml string) *config.Config {
		t.Helper()
		c, err := config.Parse(src, []byte(yaml))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	c := parse("upstream: {profile: rules, url: 'https://kc.example', rules: kc.yaml}")
	if _, err := Resolve(c, src); err != nil {
		t.Fatal(err)
	}
	if r, err := LoadRules(c, src); err != nil || r.Name() != "keycloak" {
		t.Errorf("LoadRules: %v", err)
	}

	// A broken rule file is reported with its own problems, and with the
	// configuration's.
	_, err = Resolve(parse("listen: nope\nupstream: {profile: rules, url: 'http://x', rules: bad.yaml}"), src)
	if err == nil || !errors.Is(err, config.ErrInvalid) {
		t.Fatalf("accepted: %v", err)
	}
	for _, want := range []string{`test.yaml: upstream.rules: `, `upstream: "Bad" is not a name`, "update.byId: missing", `listen: "nope" is not host:port`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	// A missing one is reported once.
	_, err = Resolve(parse("upstream: {profile: rules, url: 'http://x', rules: missing.yaml}"), src)
	if err == nil || strings.Count(err.Error(), "missing.yaml") != 1 {
		t.Errorf("missing file: %v", err)
	}
}
