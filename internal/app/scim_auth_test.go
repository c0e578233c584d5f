package app_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/app"
	"github.com/userbridge/userbridge/internal/upstream/scim"
	"github.com/userbridge/userbridge/internal/upstream/scim/scimtest"
)

// The tokens of a SCIM provider that wants one on every endpoint:
// userbridge's for discovery, and the one Shift's clients send (passed
// through to /Users as the dialect's auth decides).
const (
	scimDiscoveryToken = "SCIM-DISCOVERY-T0KEN-zq71"
	scimCallerToken    = "SCIM-CALLER-T0KEN-zq72"
)

// guardedSCIM starts a SCIM provider that accepts only tokens, on every
// endpoint, with john.
func guardedSCIM(t *testing.T, tokens ...string) (*scimtest.Server, string) {
	t.Helper()
	srv, err := scimtest.StartWith(scimtest.Options{Extension: scim.DefaultExtensionSchema, Tokens: tokens})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv, srv.Add(scimJohn)
}

// TestSCIMDiscoveryWantsCredentials: a provider that wants credentials
// for discovery stops start-up with a line that says so (not one that
// suggests it has no discovery endpoints); validate reports it too.
func TestSCIMDiscoveryWantsCredentials(t *testing.T) {
	srv, john := guardedSCIM(t, scimDiscoveryToken)
	_, err := app.New(scimConfig(t, srv.URL, nil), config.Source{Name: "test"}, slog.New(slog.DiscardHandler))
	want := "upstream.url: scim: discovery: GET /ServiceProviderConfig: answered 401: the provider wants credentials for discovery: " +
		"set upstream.scim.discoveryCredentials, or pin the capabilities with upstream.scim.discover: false"
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), want) {
		t.Fatalf("start-up error %v, want %q", err, want)
	}
	// validate says it as serve does, the way out included.
	if err := app.CheckUpstream(scimConfig(t, srv.URL, nil), config.Source{Name: "test"}); err == nil || !strings.Contains(err.Error(), want) ||
		!strings.Contains(err.Error(), "(upstream.scim.startUndiscovered: true starts without it)") {
		t.Errorf("validate: %v", err)
	}

	// Started undiscovered, /readyz says the provider answers but is not
	// discovered, not that it is unreachable.
	logs := &syncBuffer{}
	a, err := app.New(scimConfig(t, srv.URL, func(c *config.Config) { c.Upstream.SCIM.StartUndiscovered = true }),
		config.Source{Name: "test"}, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	s := launch(t, a, "127.0.0.1:0", logs)
	if r := s.do(t, "GET", "/readyz", nil, ""); r.Status != 503 || gjson.GetBytes(r.Body, "upstream").Str != "not discovered" {
		t.Errorf("readyz %d %s", r.Status, r.Body)
	}
	// An update meanwhile is the dialect's 503; why discovery failed (the
	// endpoint, the configuration keys to set) is the operator's, not the
	// legacy client's.
	r := s.do(t, "PUT", "/v3/users/"+john, jsonHdr, `{"firstName":"Johnny"}`)
	if r.Status != 503 || gjson.GetBytes(r.Body, "message").Str != "upstream unavailable; retry later" {
		t.Errorf("update while undiscovered: %d %s", r.Status, r.Body)
	}
}

// TestSCIMDiscoveryCredentialsBearer: with a bearer token from a file
// (relative to the config file), userbridge discovers the provider and an
// update goes through end to end; the discovery token travels on the
// three discovery GETs only, never on /Users, and is never logged. A
// reload with the block unchanged holds nothing; a changed one is held
// for a restart, as every upstream key.
func TestSCIMDiscoveryCredentialsBearer(t *testing.T) {
	srv, john := guardedSCIM(t, scimDiscoveryToken, scimCallerToken)
	conf := func(level, tokenFile string) string {
		return fmt.Sprintf(`listen: 127.0.0.1:0
log: {level: %s}
upstream:
  profile: scim
  url: %s
  timeout: 2s
  breaker: {enabled: false}
  scim:
    discoveryCredentials:
      bearer: {file: %s}
`, level, srv.URL, tokenFile)
	}
	f := startFile(t, fileSetup{yaml: conf("info", "scim.token"), files: map[string]string{"scim.token": scimDiscoveryToken + "\n"}})
	if !strings.Contains(f.logs.String(), `"msg":"scim: provider capabilities discovered"`) {
		t.Errorf("not discovered: %s", f.logs.String())
	}
	discovery := srv.Requests()
	if len(discovery) != 3 {
		t.Fatalf("discovery requests %+v", discovery)
	}
	for _, r := range discovery {
		if r.Method != "GET" || r.Header.Get("Authorization") != "Bearer "+scimDiscoveryToken {
			t.Errorf("%s %s with Authorization %q", r.Method, r.URI, r.Header.Get("Authorization"))
		}
	}

	caller := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + scimCallerToken}
	if a := f.do(t, "PUT", "/v3/users/"+john, caller, `{"firstName":"Johnny","status":"LOCKED"}`); a.Status != 204 {
		t.Fatalf("update: %d %s", a.Status, a.Body)
	}
	u := gjson.ParseBytes(srv.User(john))
	want(t, "givenName", u.Get("name.givenName"), "Johnny")
	want(t, "locked", ubExt(u).Get("locked"), "true")
	// A caller without credentials gets none upstream: the provider
	// refuses, and discovery's token never stands in.
	if a := f.do(t, "PUT", "/v3/users/"+john, jsonHdr, `{"firstName":"Jo"}`); a.Status != 401 {
		t.Errorf("update without credentials: %d %s", a.Status, a.Body)
	}
	for _, r := range srv.Requests() {
		if strings.Contains(fmt.Sprint(r.Header), scimDiscoveryToken) {
			t.Errorf("%s %s carried the discovery token", r.Method, r.URI)
		}
	}

	f.write(t, "config.yaml", conf("debug", "scim.token"))
	if err := f.app.Reload(); err != nil {
		t.Fatal(err)
	}
	f.write(t, "config.yaml", conf("debug", "other.token"))
	if err := f.app.Reload(); err != nil {
		t.Fatal(err)
	}
	var held []string
	for _, l := range strings.Split(f.logs.String(), "\n") {
		if strings.Contains(l, "needs a restart") {
			held = append(held, gjson.Get(l, "key").Str)
		}
	}
	if len(held) != 1 || held[0] != "upstream.scim.discoveryCredentials.bearer.file" {
		t.Errorf("held for a restart: %v", held)
	}
	if strings.Contains(f.logs.String(), scimDiscoveryToken) {
		t.Errorf("the discovery token was logged: %s", f.logs.String())
	}
}

// TestSCIMDiscoveryCredentialsOAuth2: an OAuth2 client-credentials token
// for discovery, fetched once; a token endpoint that refuses userbridge
// stops start-up naming the token fetch, without the secret or what the
// endpoint echoed.
func TestSCIMDiscoveryCredentialsOAuth2(t *testing.T) {
	srv, john := guardedSCIM(t, oauthToken, scimCallerToken)
	secret := authFile(t, "client.secret", oauthSecret+"\n")
	withOAuth2 := func(tokenURL string) func(*config.Config) {
		return func(c *config.Config) {
			c.Upstream.SCIM.DiscoveryCredentials = &config.UpstreamCreds{OAuth2: &config.OAuth2{TokenURL: tokenURL,
				ClientID: "userbridge", ClientSecretFile: secret, Scopes: []string{"scim"}}}
		}
	}
	te := newTokenEndpoint(t, false)
	s := start(t, "", srv.URL, func(c *config.Config) {
		e2eConfig(c)
		c.Upstream.Profile = config.ProfileSCIM
		withOAuth2(te.srv.URL)(c)
	})
	if n := te.issued.Load(); n != 1 {
		t.Errorf("%d tokens issued for discovery, want 1", n)
	}
	caller := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + scimCallerToken}
	if a := s.do(t, "PUT", "/v3/users/"+john, caller, `{"firstName":"Johnny"}`); a.Status != 204 {
		t.Fatalf("update: %d %s", a.Status, a.Body)
	}
	for _, r := range srv.Requests() {
		if strings.HasPrefix(r.URI, "/Users") && r.Header.Get("Authorization") != "Bearer "+scimCallerToken {
			t.Errorf("%s %s with Authorization %q", r.Method, r.URI, r.Header.Get("Authorization"))
		}
	}

	refusing := newTokenEndpoint(t, true)
	logs := &syncBuffer{}
	_, err := app.New(scimConfig(t, srv.URL, withOAuth2(refusing.srv.URL)), config.Source{Name: "test"}, slog.New(slog.NewJSONHandler(logs, nil)))
	want := "scim: discovery: GET /ServiceProviderConfig: no credential: upstream.scim.discoveryCredentials: " +
		"auth: oauth2: the token endpoint refused: status 401, error invalid_client"
	if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), oauthSecret) {
		t.Errorf("start-up error %v, want %q", err, want)
	}
	if strings.Contains(logs.String(), oauthSecret) {
		t.Errorf("the secret was logged: %s", logs.String())
	}
	// validate: a refusing token endpoint is reported, one that is down
	// is not (as an unreachable provider).
	if err := app.CheckUpstream(scimConfig(t, srv.URL, withOAuth2(refusing.srv.URL)), config.Source{Name: "test"}); err == nil ||
		!strings.Contains(err.Error(), want) {
		t.Errorf("validate, refused: %v", err)
	}
	if err := app.CheckUpstream(scimConfig(t, srv.URL, withOAuth2("http://127.0.0.1:1/token")), config.Source{Name: "test"}); err != nil {
		t.Errorf("validate, token endpoint down: %v", err)
	}
}

// TestSCIMDiscoveryCredentialsFile: a credential file that cannot be read
// stops start-up naming the key, and nothing is sent.
func TestSCIMDiscoveryCredentialsFile(t *testing.T) {
	srv, _ := guardedSCIM(t, scimDiscoveryToken)
	missing := t.TempDir() + "/missing.token"
	_, err := app.New(scimConfig(t, srv.URL, func(c *config.Config) {
		c.Upstream.SCIM.DiscoveryCredentials = &config.UpstreamCreds{Bearer: &config.Bearer{File: missing}}
	}), config.Source{Name: "test"}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "test: upstream.scim.discoveryCredentials: bearer: ") || !strings.Contains(err.Error(), missing) {
		t.Errorf("start-up error %v", err)
	}
	if reqs := srv.Requests(); len(reqs) != 0 {
		t.Errorf("sent %+v", reqs)
	}
}
