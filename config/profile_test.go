package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestProfiles(t *testing.T) {
	dir := t.TempDir()
	kc, err := os.ReadFile("../examples/upstreams/keycloak.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kc.yaml"), kc, 0o600); err != nil {
		t.Fatal(err)
	}
	src := Source{Name: "test.yaml", Dir: dir}
	for _, ok := range []string{
		"upstream: {profile: canonical, url: demo}",
		"upstream: {profile: scim, url: 'https://idp.example/scim/v2'}",
		"upstream: {profile: scim, url: 'https://idp.example/scim/v2', lookupTTL: 1m, scim: {extensionSchema: 'urn:acme:scim:User', unmapped: reject}}",
		"upstream: {profile: rules, url: 'https://kc.example', rules: kc.yaml}",
		"upstream: {profile: scim, url: 'https://idp.example/scim/v2', scim: {startUndiscovered: true}}",
		"upstream: {profile: scim, url: 'https://idp.example/scim/v2', scim: {discover: false, extension: false, patch: false, etag: true}}",
	} {
		c, err := Parse(src, []byte(ok))
		if err == nil {
			_, err = c.Resolve(src)
		}
		if err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	c, _ := Parse(src, []byte("upstream: {profile: rules, url: 'https://kc.example', rules: kc.yaml}"))
	if file, data, err := c.ReadRules(src); err != nil || string(data) != string(kc) || file != filepath.Join(dir, "kc.yaml") {
		t.Errorf("ReadRules: %q, %v", file, err)
	}

	for _, tc := range []struct{ yaml, want string }{
		{"upstream: {profile: soap, url: 'http://x'}", `upstream.profile: "soap": the profiles are canonical, scim, rules and ldap`},
		{"upstream: {profile: scim}", "upstream.url: profile scim needs the upstream's URL"},
		{"upstream: {profile: scim, url: 'http://x', scim: {extensionSchema: 'not a urn', unmapped: drop}}",
			"upstream.scim.extensionSchema"},
		{"upstream: {profile: scim, url: 'http://x', scim: {unmapped: drop}}", `upstream.scim.unmapped: "drop": extension or reject`},
		{"upstream: {profile: scim, url: 'http://x', byIdPath: '/u/{id}'}", "only profile canonical has path templates"},
		{"upstream: {profile: rules, url: 'http://x'}", "upstream.rules: required by profile rules"},
		{"upstream: {profile: rules, url: 'http://x', rules: missing.yaml}", "missing.yaml"},
		{"upstream: {url: 'http://x', rules: kc.yaml, scim: {unmapped: reject}}", "upstream.rules: set, but upstream.profile is canonical"},
		{"upstream: {url: 'http://x', scim: {unmapped: reject}}", "upstream.scim: set, but upstream.profile is canonical"},
		{"upstream: {profile: scim, url: 'http://x', scim: {schema: x}}", "line 1: unknown key schema"},
		{"upstream: {profile: scim, url: 'http://x', scim: {extension: false}}", "upstream.scim.extension: pins a capability: only with upstream.scim.discover: false"},
		{"upstream: {profile: scim, url: 'http://x', scim: {discover: true, patch: false}}", "upstream.scim.patch: pins a capability"},
		{"upstream: {profile: scim, url: 'http://x', scim: {etag: true}}", "upstream.scim.etag: pins a capability"},
		{"upstream: {profile: scim, url: 'http://x', scim: {discover: false, startUndiscovered: true}}",
			"upstream.scim.startUndiscovered: set, but upstream.scim.discover is false"},
	} {
		c, err := Parse(src, []byte(tc.yaml))
		if err == nil {
			_, err = c.Resolve(src)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

func TestCheckSchemaURN(t *testing.T) {
	for _, ok := range []string{DefaultSCIMExtensionSchema, "urn:acme:scim:User", "URN:x:y"} {
		if err := CheckSchemaURN(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "acme:User", "urn:", "urn:a:", "urn:a b", `urn:a"b`, "urn:a[b]"} {
		if CheckSchemaURN(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// upstream.scim.discoveryCredentials: an auth block's upstream credential,
// checked as one, each problem on its line; only with profile scim and
// discovery on.
func TestSCIMDiscoveryCredentials(t *testing.T) {
	src := Source{Name: "test.yaml", Dir: "/etc/userbridge"}
	for _, ok := range []string{`
upstream:
  profile: scim
  url: https://idp.example/scim/v2
  scim:
    discoveryCredentials: {bearer: {file: scim.token}}
`, `
upstream:
  profile: scim
  url: https://idp.example/scim/v2
  scim:
    startUndiscovered: true
    discoveryCredentials:
      oauth2: {tokenUrl: 'https://login.example/token', clientId: userbridge, clientSecretFile: /run/secrets/cs, scopes: [scim]}
`} {
		c, err := Parse(src, []byte(ok))
		if err == nil {
			_, err = c.Resolve(src)
		}
		if err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	c, _ := Parse(src, []byte("upstream: {profile: scim, url: 'http://x', scim: {discoveryCredentials: {bearer: {file: scim.token}}}}"))
	if u := c.Upstream.SCIM.DiscoveryCreds(src); u == nil || u.Bearer.File != filepath.Join("/etc/userbridge", "scim.token") ||
		c.Upstream.SCIM.DiscoveryCredentials.Bearer.File != "scim.token" {
		t.Errorf("DiscoveryCreds: %+v, as written %+v", u.Bearer, c.Upstream.SCIM.DiscoveryCredentials.Bearer)
	}

	for _, tc := range []struct {
		yaml string
		want []string
	}{
		{`
upstream:
  profile: scim
  url: http://x
  scim:
    discover: false
    discoveryCredentials: {bearer: {env: SCIM_TOKEN}}
`, []string{"line 7: upstream.scim.discoveryCredentials: set, but upstream.scim.discover is false"}},
		{`
upstream:
  url: http://x
  scim:
    discoveryCredentials: {bearer: {env: SCIM_TOKEN}}
`, []string{"line 4: upstream.scim: set, but upstream.profile is canonical"}},
		{`
upstream:
  profile: scim
  url: http://x
  scim:
    discoveryCredentials:
      bearer: {env: A, file: b}
      oauth2:
        tokenUrl: http://login.example/token
        clientId: userbridge
`, []string{
			"line 7: upstream.scim.discoveryCredentials.bearer: needs exactly one of env and file",
			"line 9: upstream.scim.discoveryCredentials.oauth2.tokenUrl: must be https (http only on a loopback address)",
			"line 8: upstream.scim.discoveryCredentials.oauth2.clientSecretFile: required",
			"line 6: upstream.scim.discoveryCredentials: needs exactly one of bearer, basic and oauth2"}},
		{`
upstream:
  profile: scim
  url: http://x
  scim:
    discoveryCredentials: {}
`, []string{"line 6: upstream.scim.discoveryCredentials: needs exactly one of bearer, basic and oauth2"}},
		{`
upstream:
  profile: scim
  url: http://x
  scim:
    discoveryCredentials: {bearer: {token: x}}
`, []string{"line 6: unknown key token"}},
	} {
		c, err := Parse(src, []byte(tc.yaml))
		if err == nil {
			_, err = c.Resolve(src)
		}
		for _, want := range tc.want {
			if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: %v, want %q", tc.yaml, err, want)
			}
		}
	}
}
