package scim_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/auth"
	"github.com/userbridge/userbridge/internal/upstream"
	"github.com/userbridge/userbridge/internal/upstream/scim"
	"github.com/userbridge/userbridge/internal/upstream/scim/scimtest"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// The tokens the guarded provider accepts: one for discovery, one the
// callers' updates carry.
const (
	discoveryToken = "disc-7c1f-secret"
	usersToken     = "t"
)

// credFunc is a discovery credential.
type credFunc func(context.Context) (string, error)

func (f credFunc) Authorization(ctx context.Context) (string, error) { return f(ctx) }

func bearer(tok string) scim.Credential {
	return credFunc(func(context.Context) (string, error) { return "Bearer " + tok, nil })
}

// guarded starts a provider that wants a bearer token on every endpoint,
// with jane, and a client of it with cred for discovery (none when nil).
func guarded(t *testing.T, cred scim.Credential) (*scimtest.Server, *scim.Client, string) {
	t.Helper()
	srv, err := scimtest.StartWith(scimtest.Options{Extension: scim.DefaultExtensionSchema, Tokens: []string{discoveryToken, usersToken}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	id := srv.Add(jane)
	hc, err := upstream.New(config.Upstream{URL: srv.URL, Timeout: config.Duration(2 * time.Second), Breaker: config.Breaker{Enabled: new(bool)}}, upstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var cfg config.Upstream
	if cred != nil {
		cfg.SCIM.DiscoveryCredentials = &config.UpstreamCreds{Bearer: &config.Bearer{Env: "UNUSED"}}
	}
	c, err := scim.NewWith(hc, cfg, scim.Options{DiscoveryCredential: cred})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return srv, c, id
}

// A provider that wants credentials on discovery too: without
// discoveryCredentials, discovery fails saying so (not as a provider
// without discovery endpoints), and updates are refused unavailable.
func TestDiscoveryWantsCredentials(t *testing.T) {
	srv, c, id := guarded(t, nil)
	_, err := c.Discover(context.Background())
	var de *scim.DiscoveryError
	if !errors.As(err, &de) || de.Unreachable || de.Endpoint != "/ServiceProviderConfig" || err.Error() !=
		"scim: discovery: GET /ServiceProviderConfig: answered 401: the provider wants credentials for discovery: "+
			"set upstream.scim.discoveryCredentials, or pin the capabilities with upstream.scim.discover: false" {
		t.Fatalf("%v", err)
	}
	if reqs := srv.Requests(); len(reqs) != 1 || reqs[0].Header.Get("Authorization") != "" {
		t.Errorf("requests %+v", reqs)
	}
	_, cerr := c.Patch(context.Background(), call(canonical.ByID, id, `{"set":{"givenName":"Janet"}}`))
	// Why is the operator's (the error above): the caller is told no
	// configuration key.
	if cerr == nil || cerr.Code != canonical.Unavailable || strings.Contains(cerr.Message, "upstream.scim") {
		t.Errorf("%v", cerr)
	}
}

// With discoveryCredentials, the three discovery GETs carry it and
// nothing else does: an update carries what its call carries.
func TestDiscoveryWithCredential(t *testing.T) {
	srv, c, id := guarded(t, bearer(discoveryToken))
	if _, err := c.Discover(context.Background()); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("requests %+v", reqs)
	}
	for _, r := range reqs {
		if r.Method != "GET" || r.Header.Get("Authorization") != "Bearer "+discoveryToken {
			t.Errorf("%s %s with Authorization %q", r.Method, r.URI, r.Header.Get("Authorization"))
		}
	}
	if _, cerr := c.Patch(context.Background(), call(canonical.ByID, id, `{"set":{"givenName":"Janet"}}`)); cerr != nil {
		t.Fatal(cerr)
	}
	for _, r := range srv.Requests() {
		if got := r.Header.Get("Authorization"); got != "Bearer "+usersToken {
			t.Errorf("%s %s with Authorization %q, want the call's", r.Method, r.URI, got)
		}
	}
	// An update without credentials of its own gets none: the provider
	// refuses it, and discovery's never stands in.
	noAuth := call(canonical.ByID, id, `{"set":{"givenName":"Jo"}}`)
	noAuth.Header.Del("Authorization")
	if _, cerr := c.Patch(context.Background(), noAuth); cerr == nil || cerr.Code != canonical.Unauthorized {
		t.Errorf("%v", cerr)
	}
	for _, r := range srv.Requests() {
		if got := r.Header.Get("Authorization"); got != "" {
			t.Errorf("%s %s with Authorization %q", r.Method, r.URI, got)
		}
	}
}

// A credential the provider refuses, or one that cannot be had, is a
// discovery failure that says so, never quoting the credential.
func TestDiscoveryCredentialFails(t *testing.T) {
	_, c, _ := guarded(t, bearer("wrong-token"))
	_, err := c.Discover(context.Background())
	if err == nil || err.Error() != "scim: discovery: GET /ServiceProviderConfig: answered 401: the provider refused upstream.scim.discoveryCredentials" {
		t.Errorf("refused: %v", err)
	}
	for _, tc := range []struct {
		err         error
		unreachable bool
	}{
		{errors.New("auth: oauth2: the token endpoint refused: status 401, error invalid_client"), false},
		{fmt.Errorf("auth: oauth2: the token endpoint is unreachable: %w", auth.ErrNoAnswer), true},
	} {
		srv, c, _ := guarded(t, credFunc(func(context.Context) (string, error) { return "", tc.err }))
		_, err := c.Discover(context.Background())
		var de *scim.DiscoveryError
		if !errors.As(err, &de) || de.Unreachable != tc.unreachable ||
			err.Error() != "scim: discovery: GET /ServiceProviderConfig: no credential: upstream.scim.discoveryCredentials: "+tc.err.Error() {
			t.Errorf("%v (unreachable %v)", err, de != nil && de.Unreachable)
		}
		if reqs := srv.Requests(); len(reqs) != 0 {
			t.Errorf("sent without a credential: %+v", reqs)
		}
	}
}

// The credential block and the credential go together.
func TestNewWithDiscoveryCredential(t *testing.T) {
	hc, err := upstream.New(config.Upstream{URL: "http://127.0.0.1:1"}, upstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Upstream{SCIM: config.SCIM{DiscoveryCredentials: &config.UpstreamCreds{Bearer: &config.Bearer{Env: "X"}}}}
	if _, err := scim.New(hc, cfg); err == nil || !strings.Contains(err.Error(), "discoveryCredentials") {
		t.Errorf("block without credential: %v", err)
	}
	if _, err := scim.NewWith(hc, config.Upstream{}, scim.Options{DiscoveryCredential: bearer("x")}); err == nil {
		t.Error("credential without block: accepted")
	}
	off := false
	cfg.SCIM.Discover = &off
	if _, err := scim.NewWith(hc, cfg, scim.Options{DiscoveryCredential: bearer("x")}); err == nil ||
		!strings.Contains(err.Error(), "upstream.scim.discoveryCredentials: set, but upstream.scim.discover is false") {
		t.Errorf("with discover false: %v", err)
	}
}
