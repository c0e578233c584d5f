package config

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestAuthValidateReportsEverything(t *testing.T) {
	c := Auth{
		Mode:    ModeVerify,
		APIKeys: &APIKeys{Header: "x key", IDHeader: "X-Key"},
		Basic:   &Basic{},
		JWT: &JWT{JWKSURL: "http://idp.example.com/jwks", Algorithms: []string{"HS256", "none"},
			RequiredClaims: map[string]string{"aud": "x"}, ClockSkew: Duration(time.Hour), RefreshInterval: -1},
		Upstream: &UpstreamCreds{
			Bearer: &Bearer{Env: "A", File: "b"},
			Basic:  &UpstreamBasic{User: "a:b"},
			OAuth2: &OAuth2{TokenURL: "https://user:pw@idp.example.com/token", Scopes: []string{"a b"}},
		},
		Policy: Policy{Roles: []string{""}, SelfCannotChange: []string{"nickname"}},
	}
	errs := c.Validate("dialects.shift.auth")
	want := []string{
		`dialects.shift.auth.apiKeys.header: "x key" is not a header name`,
		`dialects.shift.auth.apiKeys.file: required`,
		`dialects.shift.auth.basic.file: required`,
		`dialects.shift.auth.jwt.jwksUrl: must be https`,
		`dialects.shift.auth.jwt.issuer: required`,
		`dialects.shift.auth.jwt.audience: required`,
		`dialects.shift.auth.jwt.algorithms[0]: "HS256" is not accepted`,
		`dialects.shift.auth.jwt.algorithms[1]: "none" is not accepted`,
		`dialects.shift.auth.jwt.requiredClaims.aud: is checked by issuer`,
		`dialects.shift.auth.jwt.clockSkew: must be between`,
		`dialects.shift.auth.jwt.refreshInterval: must not be negative`,
		`dialects.shift.auth.upstream.bearer: needs exactly one of env and file`,
		`dialects.shift.auth.upstream.basic.user: must not hold a colon`,
		`dialects.shift.auth.upstream.basic.passwordFile: required`,
		`dialects.shift.auth.upstream.oauth2.tokenUrl: must not hold credentials`,
		`dialects.shift.auth.upstream.oauth2.clientId: required`,
		`dialects.shift.auth.upstream.oauth2.clientSecretFile: required`,
		`dialects.shift.auth.upstream.oauth2.scopes[0]: "a b" is not a scope`,
		`dialects.shift.auth.upstream: needs exactly one of bearer, basic and oauth2`,
		`dialects.shift.auth.policy.roles[0]: required`,
		`dialects.shift.auth.policy.selfCannotChange: applies only with self: true`,
		`dialects.shift.auth.policy.selfCannotChange[0]: "nickname" is not a canonical field`,
	}
	assertErrors(t, errs, want)
}

func assertErrors(t *testing.T, errs []error, want []string) {
	t.Helper()
	var all []string
	for _, e := range errs {
		all = append(all, e.Error())
	}
	joined := strings.Join(all, "\n")
	for _, w := range want {
		if !strings.Contains(joined, w) {
			t.Errorf("missing %q", w)
		}
	}
	if len(errs) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(errs), len(want), joined)
	}
}

func TestAuthValidatePassthrough(t *testing.T) {
	for _, mode := range []string{"", ModePassthrough} {
		c := Auth{Mode: mode,
			JWT:      &JWT{JWKSURL: "https://idp/jwks", Issuer: "i", Audience: []string{"a"}},
			Upstream: &UpstreamCreds{Bearer: &Bearer{Env: "TOKEN"}},
			Policy:   Policy{Self: true},
		}
		assertErrors(t, c.Validate("dialects.crafter.auth"), []string{
			"dialects.crafter.auth.mode: apiKeys, basic and jwt check callers only in mode verify",
			"dialects.crafter.auth.upstream: userbridge's own upstream credentials need mode verify",
			"dialects.crafter.auth.policy: a policy needs mode verify",
		})
		// The upstream credentials alone are refused too.
		c = Auth{Mode: mode, Upstream: &UpstreamCreds{OAuth2: &OAuth2{TokenURL: "https://idp/token", ClientID: "c", ClientSecretFile: "f"}}}
		assertErrors(t, c.Validate("auth"), []string{"auth.upstream: userbridge's own upstream credentials need mode verify"})
	}
	if errs := (&Auth{}).Validate("auth"); len(errs) != 0 {
		t.Errorf("the zero config: %v", errs)
	}
}

func TestAuthValidateModes(t *testing.T) {
	assertErrors(t, (&Auth{Mode: "Verify"}).Validate("auth"), []string{`auth.mode: "Verify" is not a mode`})
	assertErrors(t, (&Auth{Mode: ModeVerify}).Validate("auth"), []string{"auth.mode: mode verify needs at least one of apiKeys, basic and jwt"})
	c := Auth{Mode: ModeVerify, APIKeys: &APIKeys{File: "k"}, Policy: Policy{Scopes: []string{"users:write"}}}
	assertErrors(t, c.Validate("auth"), []string{"auth.policy.scopes: only jwt callers hold scopes"})
	c = Auth{Mode: ModeVerify, APIKeys: &APIKeys{File: "k", Header: "x-key", IDHeader: "X-KEY"}}
	assertErrors(t, c.Validate("auth"), []string{"auth.apiKeys.idHeader: must differ from header"})
	c = Auth{Mode: ModeVerify, JWT: &JWT{JWKSURL: "http://127.0.0.1:8080/jwks", Issuer: "i", Audience: []string{"a"}}}
	assertErrors(t, c.Validate("auth"), nil) // http on loopback is allowed
}

// exampleYAML is the example of docs/security.md.
const exampleYAML = `
mode: verify
jwt:
  jwksUrl: https://login.example.com/realms/acme/protocol/openid-connect/certs
  issuer: https://login.example.com/realms/acme
  audience: [userbridge]
  rolesClaim: realm_access.roles
  requiredClaims: {email_verified: "true"}
  clockSkew: 30s
  refreshInterval: 1h
basic:
  file: /etc/userbridge/crafter.htpasswd
upstream:
  oauth2:
    tokenUrl: https://login.example.com/realms/acme/protocol/openid-connect/token
    clientId: userbridge
    clientSecretFile: /run/secrets/userbridge-client-secret
    scopes: [users:write]
policy:
  roles: [admin]
  self: true
  selfCannotChange: [roles, active, locked, deleted, extensions.crafter.externally_managed]
`

func TestAuthYAMLExample(t *testing.T) {
	var c Auth
	dec := yaml.NewDecoder(strings.NewReader(exampleYAML))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if errs := c.Validate("dialects.crafter.auth"); len(errs) != 0 {
		t.Fatal(errs)
	}
	if c.JWT.ClockSkew.D() != 30*time.Second || c.JWT.RefreshInterval.D() != time.Hour || !c.Policy.Self || c.Upstream.OAuth2.Scopes[0] != "users:write" {
		t.Errorf("decoded %+v", c)
	}
	bad := strings.Replace(exampleYAML, "clockSkew: 30s", "clockSkew: 30", 1)
	if err := yaml.Unmarshal([]byte(bad), &c); err == nil || !strings.Contains(err.Error(), "not a duration") {
		t.Errorf("a bad duration: %v", err)
	}
	dec = yaml.NewDecoder(strings.NewReader("mode: verify\napiKey: {file: x}\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&Auth{}); err == nil {
		t.Error("a misspelt key is accepted")
	}
	var buf bytes.Buffer
	if err := yaml.NewEncoder(&buf).Encode(c); err != nil || !strings.Contains(buf.String(), "clockSkew: 30s") {
		t.Errorf("encode: %v\n%s", err, buf.String())
	}
}

func TestAuthValidateSelfLists(t *testing.T) {
	verify := func(p Policy) Auth {
		return Auth{Mode: ModeVerify, APIKeys: &APIKeys{File: "k"}, Policy: p}
	}
	c := verify(Policy{SelfMayChange: []string{"email"}})
	assertErrors(t, c.Validate("auth"), []string{"auth.policy.selfMayChange: applies only with self: true"})
	c = verify(Policy{Self: true, SelfMayChange: []string{"email", "Email", "extensions.shift"}})
	assertErrors(t, c.Validate("auth"), []string{
		`auth.policy.selfMayChange[1]: "Email" is not in selfCannotChange (or its default): nothing to allow`,
		`auth.policy.selfMayChange[2]: "extensions.shift" is not in selfCannotChange (or its default): nothing to allow`,
	})
	// Against the list as written, when there is one.
	c = verify(Policy{Self: true, SelfCannotChange: []string{"roles", "id", "tenant", "extensions.shift"}, SelfMayChange: []string{"email", "extensions.shift"}})
	assertErrors(t, c.Validate("auth"), []string{`auth.policy.selfMayChange[0]: "email" is not in selfCannotChange`})
	// The default, written out, is valid: read-only fields included.
	c = verify(Policy{Self: true, SelfCannotChange: DefaultSelfCannotChange()})
	assertErrors(t, c.Validate("auth"), nil)
	// In passthrough a selfMayChange alone is a policy too.
	c = Auth{Policy: Policy{SelfMayChange: []string{"email"}}}
	if errs := c.Validate("auth"); len(errs) == 0 {
		t.Error("selfMayChange in passthrough accepted")
	}
}

func TestSelfProtected(t *testing.T) {
	p := Policy{Self: true}
	if got := p.SelfProtected(); !slices.Equal(got, DefaultSelfCannotChange()) {
		t.Errorf("default: %v", got)
	}
	p.SelfMayChange = []string{"email", "extensions.shift.ssoId"}
	got := p.SelfProtected()
	if slices.Contains(got, "email") || slices.Contains(got, "extensions.shift.ssoId") || !slices.Contains(got, "username") || len(got) != len(DefaultSelfCannotChange())-2 {
		t.Errorf("loosened: %v", got)
	}
	if got := (&Policy{Self: true, SelfCannotChange: []string{}}).SelfProtected(); len(got) != 0 {
		t.Errorf("explicit empty: %v", got)
	}
	// The default is a copy: changing it changes nothing.
	d := DefaultSelfCannotChange()
	d[0] = "x"
	if DefaultSelfCannotChange()[0] == "x" {
		t.Error("the default is shared")
	}
}
