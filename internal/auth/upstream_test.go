package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// clientHeaders are what a Shift, Crafter or Trusted Twin client might
// send, after the dialect's forwardHeaders picked them.
func clientHeaders() http.Header {
	h := http.Header{}
	h.Set("Authorization", "Basic Y2xpZW50OnB3")
	h.Set("Proxy-Authorization", "Basic eDp5")
	h.Set("Cookie", "JSESSIONID=abc; XSRF-TOKEN=t")
	h.Set("X-Xsrf-Token", "t")
	h.Set("x-key", "client-key")
	h.Set("x-secret", "client-secret")
	h.Set("MediaSiloHostContext", "acme")
	h.Set("MediaSiloSessionKey", "sess")
	h.Set(HeaderPrincipal, "root") // a caller trying to name someone
	h.Set("Idempotency-Key", "idem-1")
	h.Set("X-Request-Id", "req-1")
	h.Set("Finix-Version", "2022-02-01")
	return h
}

var shiftDialect = Dialect{Name: "shift", APIKeyHeader: "x-secret", APIKeyIDHeader: "x-key",
	CredentialHeaders: []string{"x-key", "x-secret", "Authorization", "MediaSiloSessionKey", "MediaSiloHostContext", "MediaSiloApiKey"}}

var crafterDialect = Dialect{Name: "crafter", CredentialHeaders: []string{"Cookie", "X-XSRF-TOKEN"}}

func TestUpstreamHeaderVerify(t *testing.T) {
	keys := writeFile(t, "keys", "client-key:"+sha256Hex("client-secret")+"\n")
	tokenFile := writeFile(t, "token", "ub-token-123\n")
	a := newAuth(t, config.Auth{Mode: config.ModeVerify, APIKeys: &config.APIKeys{File: keys},
		Upstream: &config.UpstreamCreds{Bearer: &config.Bearer{File: tokenFile}}},
		Options{Dialect: shiftDialect})
	h := clientHeaders()
	p, e := a.Authenticate(&http.Request{Header: h.Clone()})
	if e != nil {
		t.Fatal(e)
	}
	if e := a.UpstreamHeader(context.Background(), h, p); e != nil {
		t.Fatal(e)
	}
	for _, gone := range []string{"Proxy-Authorization", "Cookie", "X-Key", "X-Secret", "Mediasilohostcontext", "Mediasilosessionkey"} {
		if v := h.Values(gone); len(v) > 0 {
			t.Errorf("%s still goes upstream: %q", gone, v)
		}
	}
	if got := h.Values("Authorization"); len(got) != 1 || got[0] != "Bearer ub-token-123" {
		t.Errorf("Authorization = %q", got)
	}
	if got := h.Values(HeaderPrincipal); len(got) != 1 || got[0] != "client-key" {
		t.Errorf("%s = %q", HeaderPrincipal, got)
	}
	for _, kept := range []string{"Idempotency-Key", "X-Request-Id", "Finix-Version"} {
		if h.Get(kept) == "" {
			t.Errorf("%s is dropped", kept)
		}
	}
	// X-XSRF-TOKEN is the Crafter dialect's: named there, removed there.
	b := newAuth(t, config.Auth{Mode: config.ModeVerify, Basic: &config.Basic{File: writeFile(t, "h", "alice:"+bcryptHash(t, "pw", 4)+"\n")},
		Upstream: &config.UpstreamCreds{Basic: &config.UpstreamBasic{User: "userbridge", PasswordFile: writeFile(t, "pw", "s3cret\n")}}},
		Options{Dialect: crafterDialect})
	h = http.Header{}
	h.Set("X-XSRF-TOKEN", "t")
	h.Set("Cookie", "JSESSIONID=abc")
	if e := b.UpstreamHeader(context.Background(), h, &Principal{Subject: "alice"}); e != nil {
		t.Fatal(e)
	}
	if h.Get("X-Xsrf-Token") != "" || h.Get("Cookie") != "" {
		t.Errorf("Crafter's session goes upstream: %v", h)
	}
	if got := h.Get("Authorization"); got != "Basic "+base64.StdEncoding.EncodeToString([]byte("userbridge:s3cret")) {
		t.Errorf("Authorization = %q", got)
	}
}

func TestUpstreamHeaderVerifyWithoutOwnCredentials(t *testing.T) {
	a := newAuth(t, config.Auth{Mode: config.ModeVerify, APIKeys: &config.APIKeys{File: writeFile(t, "k", "k:"+sha256Hex("x")+"\n"), Header: "x-secret"}},
		Options{Dialect: shiftDialect})
	h := clientHeaders()
	if e := a.UpstreamHeader(context.Background(), h, &Principal{Subject: "k"}); e != nil {
		t.Fatal(e)
	}
	if h.Get("Authorization") != "" || h.Get("X-Secret") != "" {
		t.Errorf("the caller's credentials go upstream: %v", h)
	}
	if h.Get(HeaderPrincipal) != "k" {
		t.Errorf("principal %q", h.Get(HeaderPrincipal))
	}
}

func TestUpstreamHeaderPassthrough(t *testing.T) {
	a := newAuth(t, config.Auth{Mode: config.ModePassthrough}, Options{Dialect: shiftDialect})
	h := clientHeaders()
	want := clientHeaders()
	want.Del(HeaderPrincipal)
	if e := a.UpstreamHeader(context.Background(), h, nil); e != nil {
		t.Fatal(e)
	}
	if fmt.Sprint(h) != fmt.Sprint(want) {
		t.Errorf("passthrough changed the headers:\n got %v\nwant %v", h, want)
	}
	var none *Authenticator
	h = clientHeaders()
	_ = none.UpstreamHeader(context.Background(), h, nil)
	if h.Get(HeaderPrincipal) != "" || h.Get("Authorization") == "" {
		t.Errorf("nil Authenticator: %v", h)
	}
}

func TestUpstreamBearerFromEnv(t *testing.T) {
	t.Setenv("UB_TEST_UPSTREAM_TOKEN", " env-token \n")
	keys := writeFile(t, "k", "k:"+sha256Hex("x")+"\n")
	a := newAuth(t, config.Auth{Mode: config.ModeVerify, APIKeys: &config.APIKeys{File: keys, Header: "x-key"},
		Upstream: &config.UpstreamCreds{Bearer: &config.Bearer{Env: "UB_TEST_UPSTREAM_TOKEN"}}}, Options{})
	h := http.Header{}
	if e := a.UpstreamHeader(context.Background(), h, &Principal{Subject: "k"}); e != nil {
		t.Fatal(e)
	}
	if h.Get("Authorization") != "Bearer env-token" {
		t.Errorf("Authorization = %q", h.Get("Authorization"))
	}
	t.Setenv("UB_TEST_UPSTREAM_TOKEN", "")
	_, err := New(context.Background(), config.Auth{Mode: config.ModeVerify, APIKeys: &config.APIKeys{File: keys, Header: "x-key"},
		Upstream: &config.UpstreamCreds{Bearer: &config.Bearer{Env: "UB_TEST_UPSTREAM_TOKEN"}}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "UB_TEST_UPSTREAM_TOKEN is empty") {
		t.Errorf("an empty variable: %v", err)
	}
}

// tokenServer is an OAuth2 token endpoint. It checks the client's
// credentials and issues numbered tokens.
type tokenServer struct {
	*httptest.Server
	issued    atomic.Int32
	expiresIn int
	fail      atomic.Bool
	mu        sync.Mutex
	scopes    []string
}

const (
	clientID     = "userbridge"
	clientSecret = "cs-7f3a9c1e-top-secret"
)

func newTokenServer(t *testing.T, expiresIn int) *tokenServer {
	t.Helper()
	s := &tokenServer{expiresIn: expiresIn}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		raw, _ := io.ReadAll(r.Body)
		if s.fail.Load() || r.PostForm.Get("grant_type") != "client_credentials" || id != clientID || secret != clientSecret {
			// A careless endpoint that echoes what it got, secret included.
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client",
				"error_description": "bad client " + id + ":" + secret + " " + r.Header.Get("Authorization") + string(raw)})
			return
		}
		s.mu.Lock()
		s.scopes = strings.Fields(r.PostForm.Get("scope"))
		s.mu.Unlock()
		n := s.issued.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprintf("at-%d", n), "token_type": "bearer", "expires_in": s.expiresIn})
	}))
	t.Cleanup(s.Close)
	return s
}

func oauthAuth(t *testing.T, tokenURL, secret string, logs *logBuffer) *Authenticator {
	t.Helper()
	keys := writeFile(t, "k", "k:"+sha256Hex("x")+"\n")
	o := Options{}
	if logs != nil {
		o.Logger = logs.logger()
	}
	return newAuth(t, config.Auth{Mode: config.ModeVerify, APIKeys: &config.APIKeys{File: keys, Header: "x-key"},
		Upstream: &config.UpstreamCreds{OAuth2: &config.OAuth2{TokenURL: tokenURL, ClientID: clientID,
			ClientSecretFile: writeFile(t, "secret", secret+"\n"), Scopes: []string{"users:write", "users:read"}}}}, o)
}

func authorization(t *testing.T, a *Authenticator) (string, *canonical.Error) {
	t.Helper()
	h := http.Header{}
	e := a.UpstreamHeader(context.Background(), h, &Principal{Subject: "k"})
	return h.Get("Authorization"), e
}

func TestOAuth2CachedAcrossCalls(t *testing.T) {
	s := newTokenServer(t, 3600)
	a := oauthAuth(t, s.URL, clientSecret, nil)
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got, e := authorization(t, a); e != nil || got != "Bearer at-1" {
				t.Errorf("got %q, %v", got, e)
			}
		}()
	}
	wg.Wait()
	if n := s.issued.Load(); n != 1 {
		t.Errorf("%d tokens fetched for 20 calls, want 1", n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.Join(s.scopes, " ") != "users:write users:read" {
		t.Errorf("scopes requested: %v", s.scopes)
	}
}

func TestOAuth2RefreshedAfterExpiry(t *testing.T) {
	// oauth2 treats a token as expired 10s early: expires_in 11 leaves it
	// valid for one second.
	s := newTokenServer(t, 11)
	a := oauthAuth(t, s.URL, clientSecret, nil)
	if got, e := authorization(t, a); e != nil || got != "Bearer at-1" {
		t.Fatalf("got %q, %v", got, e)
	}
	if got, _ := authorization(t, a); got != "Bearer at-1" {
		t.Fatalf("the token is not reused: %q", got)
	}
	time.Sleep(1100 * time.Millisecond)
	if got, e := authorization(t, a); e != nil || got != "Bearer at-2" {
		t.Fatalf("after expiry got %q, %v; want a new token", got, e)
	}
}

func TestOAuth2SecretNeverInErrors(t *testing.T) {
	s := newTokenServer(t, 3600)
	logs := &logBuffer{}
	a := oauthAuth(t, s.URL, clientSecret+"-wrong", logs)
	got, e := authorization(t, a)
	if e == nil || e.Code != canonical.BadGateway || got != "" {
		t.Fatalf("got %q, %v; want bad_gateway", got, e)
	}
	enc := base64.StdEncoding.EncodeToString([]byte(clientID + ":" + clientSecret + "-wrong"))
	for _, where := range []string{e.Error(), logs.String()} {
		if strings.Contains(where, clientSecret) || strings.Contains(where, enc) || strings.Contains(where, "bad client") {
			t.Errorf("the secret or the endpoint's echo leaks: %s", where)
		}
	}
	if !strings.Contains(logs.String(), "status 401, error invalid_client") {
		t.Errorf("the log does not say why: %s", logs.String())
	}

	// An endpoint that is down: still no secret, and bad_gateway.
	url := s.URL
	s.Close()
	b := oauthAuth(t, url, clientSecret, logs)
	if _, e := authorization(t, b); e == nil || e.Code != canonical.BadGateway {
		t.Fatalf("got %v, want bad_gateway", e)
	}
	if strings.Contains(logs.String(), clientSecret) {
		t.Error("the secret leaks")
	}
}

func TestOAuth2WaitsNoLongerThanTheRequest(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	a := oauthAuth(t, slow.URL, clientSecret, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if e := a.UpstreamHeader(ctx, http.Header{}, &Principal{Subject: "k"}); e == nil || e.Code != canonical.BadGateway {
		t.Fatalf("got %v", e)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the token request outlived the request's context: %s", d)
	}
}

// TestOAuth2HungEndpointSharedFailure: requests that queue behind a token
// fetch to a hung endpoint wait for that one fetch, bounded by the
// credential timeout (the upstream's), and share its failure instead of
// each making its own in turn; a failure is then reported at once for a
// moment rather than the endpoint being called once per request.
func TestOAuth2HungEndpointSharedFailure(t *testing.T) {
	var hits atomic.Int32
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hung.Close()
	defer close(release)
	keys := writeFile(t, "k", "k:"+sha256Hex("x")+"\n")
	a := newAuth(t, config.Auth{Mode: config.ModeVerify, APIKeys: &config.APIKeys{File: keys, Header: "x-key"},
		Upstream: &config.UpstreamCreds{OAuth2: &config.OAuth2{TokenURL: hung.URL, ClientID: clientID,
			ClientSecretFile: writeFile(t, "secret", clientSecret+"\n")}}}, Options{CredentialTimeout: 300 * time.Millisecond})

	const callers = 4
	var wg sync.WaitGroup
	start := time.Now()
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The server's request context has no deadline of its own.
			if e := a.UpstreamHeader(context.Background(), http.Header{}, &Principal{Subject: "k"}); e == nil || e.Code != canonical.BadGateway {
				t.Errorf("got %v", e)
			}
		}()
	}
	wg.Wait()
	// One fetch, bounded at 300ms, its failure shared: not 4 fetches in a
	// row (the bound is loose on purpose; it catches the queue, not speed).
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("%d callers took %s behind a hung token endpoint", callers, d)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("the token endpoint was called %d times, want 1", n)
	}
	// Right after, the failure is reported without calling it again.
	if e := a.UpstreamHeader(context.Background(), http.Header{}, &Principal{Subject: "k"}); e == nil {
		t.Error("accepted")
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("called again at once after a failure: %d calls", n)
	}
}
