package config

import (
	"strings"
	"testing"
)

func TestAdminListen(t *testing.T) {
	for _, c := range []struct{ yaml, problem string }{
		{"admin: {listen: 127.0.0.1:9090}\n", ""},
		{"admin: {listen: nowhere}\n", `admin.listen: "nowhere" is not host:port`},
		{"listen: 127.0.0.1:9090\nadmin: {listen: 127.0.0.1:9090}\n", "admin.listen: \"127.0.0.1:9090\" is also a dialect listener"},
		{"admin: {listen: 127.0.0.1:9091}\ndialects:\n  shift: {listen: 127.0.0.1:9091}\n", "admin.listen: \"127.0.0.1:9091\" is also a dialect listener"},
	} {
		cfg, err := Parse(Source{Name: "t"}, []byte(c.yaml))
		if err != nil {
			t.Fatal(err)
		}
		_, err = cfg.Resolve(Source{Name: "t"})
		switch {
		case c.problem == "" && err != nil:
			t.Errorf("%q: %v", c.yaml, err)
		case c.problem != "" && (err == nil || !strings.Contains(err.Error(), c.problem)):
			t.Errorf("%q: %v, want %q", c.yaml, err, c.problem)
		}
	}
	cfg, _ := Parse(Source{Name: "t"}, nil)
	if err := cfg.ApplyEnv(func(k string) (string, bool) {
		return map[string]string{"USERBRIDGE_ADMIN_LISTEN": "0.0.0.0:9090"}[k], k == "USERBRIDGE_ADMIN_LISTEN"
	}); err != nil || cfg.Admin.Listen != "0.0.0.0:9090" {
		t.Errorf("env: %v %q", err, cfg.Admin.Listen)
	}
}

// TestMountFields: the names a validation metric may carry come from the
// rule files.
func TestMountFields(t *testing.T) {
	cfg, err := Parse(Source{Name: "t"}, DefaultYAML())
	if err != nil {
		t.Fatal(err)
	}
	mounts, err := cfg.Resolve(Source{Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"finix":  {"enabled", "tags", "user_id", "id", "_links"},
		"shift":  {"email", "userId"},
		"baasic": {"email", "apiKey", "username"},
	}
	for _, m := range mounts {
		have := map[string]bool{}
		for _, f := range m.Fields {
			have[f] = true
		}
		for _, f := range want[m.Dialect.Name()] {
			if !have[f] {
				t.Errorf("%s: %q not among %v", m.Dialect.Name(), f, m.Fields)
			}
		}
		if len(m.Fields) == 0 {
			t.Errorf("%s: no fields", m.Dialect.Name())
		}
	}
}
