package config

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestAuthDefaults(t *testing.T) {
	keys := func(header, id string) Auth {
		return Auth{Mode: ModeVerify, APIKeys: &APIKeys{File: "/k", Header: header, IDHeader: id}}
	}
	for _, tc := range []struct {
		dialect     string
		in          Auth
		header, id  string
		problemLike string
	}{
		{"shift", keys("", ""), "x-secret", "x-key", ""},
		{"shift", keys("", "X-Key-Id"), "x-secret", "X-Key-Id", ""},
		{"shift", keys("X-Api-Key", ""), "X-Api-Key", "", ""}, // a configured header takes no default id
		{"trustedtwin", keys("", ""), "Authorization", "", ""},
		{"finix", keys("", ""), "", "", "dialects.finix.auth.apiKeys.header: required"},
		{"shift", keys("", "x-secret"), "x-secret", "x-secret", "dialects.shift.auth.apiKeys.idHeader: must differ from header"},
	} {
		before := *tc.in.APIKeys
		got := authOf(Source{Dir: "/etc"}, tc.dialect, tc.in)
		if got.APIKeys.Header != tc.header || got.APIKeys.IDHeader != tc.id || got.APIKeys.File != "/k" {
			t.Errorf("%s %+v: got %+v", tc.dialect, before, *got.APIKeys)
		}
		if *tc.in.APIKeys != before {
			t.Error("authOf changed the configuration as written")
		}
		errs := validateAuth(Source{Name: "c.yaml"}, tc.dialect, got, (&Config{}).where)
		if tc.problemLike == "" && len(errs) > 0 {
			t.Errorf("%s: %v", tc.dialect, errs)
		}
		if tc.problemLike != "" && (len(errs) == 0 || !strings.Contains(errors.Join(errs...).Error(), tc.problemLike) || !errors.Is(errs[0], ErrInvalid)) {
			t.Errorf("%s: want %q, got %v", tc.dialect, tc.problemLike, errs)
		}
	}
	// Files are relative to the config file, as rule files are.
	c := authOf(Source{Dir: "/etc/userbridge"}, "finix", Auth{Mode: ModeVerify,
		Basic:    &Basic{File: "finix.htpasswd"},
		Upstream: &UpstreamCreds{OAuth2: &OAuth2{ClientSecretFile: "/run/secrets/s"}, Bearer: &Bearer{File: "t"}, Basic: &UpstreamBasic{PasswordFile: "p"}}})
	if c.Basic.File != "/etc/userbridge/finix.htpasswd" || c.Upstream.OAuth2.ClientSecretFile != "/run/secrets/s" ||
		c.Upstream.Bearer.File != "/etc/userbridge/t" || c.Upstream.Basic.PasswordFile != "/etc/userbridge/p" {
		t.Errorf("relative files: %+v %+v", c.Basic, c.Upstream)
	}
	// Passthrough, the default, needs nothing.
	if errs := validateAuth(Source{Name: "c.yaml"}, "crafter", authOf(Source{}, "crafter", Auth{}), (&Config{}).where); len(errs) > 0 {
		t.Error(errs)
	}
}

// TestAuthDocExamples resolves the auth examples of the documentation.
func TestAuthDocExamples(t *testing.T) {
	for _, doc := range []string{"../docs/security.md", "../docs/configuration.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, block := range strings.Split(string(b), "```yaml\n")[1:] {
			block, _, _ = strings.Cut(block, "```")
			if !strings.Contains(block, "    auth:") {
				continue
			}
			n++
			c, err := Parse(Source{Name: doc}, []byte(block))
			if err != nil {
				t.Errorf("%s: %v", doc, err)
				continue
			}
			if _, err := c.Resolve(Source{Name: doc}); err != nil {
				t.Errorf("%s: %v", doc, err)
			}
		}
		if n == 0 {
			t.Errorf("%s: no auth example", doc)
		}
	}
}
