package auth

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// TestPipeline runs the three calls where internal/server's handler makes
// them, against a real upstream: a Crafter-like "Admin, self" dialect in
// verify mode with JWT callers and an OAuth2 upstream credential.
func TestPipeline(t *testing.T) {
	k := newRSAKey(t, "k1")
	p := newIDP(t, k)
	ts := newTokenServer(t, 3600)
	var (
		mu  sync.Mutex
		got http.Header
	)
	seen := func() http.Header {
		mu.Lock()
		defer mu.Unlock()
		return got
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.Header.Clone()
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer up.Close()
	c := jwtConfig(p.URL)
	c.Upstream = &config.UpstreamCreds{OAuth2: &config.OAuth2{TokenURL: ts.URL, ClientID: clientID, ClientSecretFile: writeFile(t, "s", clientSecret)}}
	c.Policy = config.Policy{Roles: []string{"admin"}, Self: true}
	a := newAuth(t, c, Options{Where: "dialects.crafter.auth", Dialect: crafterDialect})

	// serve is the handler's pipeline, reduced to the auth steps.
	serve := func(r *http.Request, target canonical.Target, value, update string) int {
		pr, e := a.Authenticate(r) // 1. before reading the body
		if e != nil {
			return e.HTTPStatus()
		}
		if e := a.Authorize(pr, target, value, []byte(update)); e != nil { // 2. after Translate
			return e.HTTPStatus()
		}
		h := r.Header.Clone()                                    // the forwarded headers
		if e := a.UpstreamHeader(r.Context(), h, pr); e != nil { // 3. before the upstream call
			return e.HTTPStatus()
		}
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPatch, up.URL+"/users/by-username/"+value, strings.NewReader(update))
		req.Header = h
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	in := func(token string) *http.Request {
		r := request("Cookie", "JSESSIONID=abc", "X-XSRF-TOKEN", "t", HeaderPrincipal, "admin")
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		return r
	}
	alice := k.sign(t, claims(nil))
	root := k.sign(t, claims(map[string]any{"sub": "u-root", "preferred_username": "root", "realm_access": map[string]any{"roles": []string{"admin"}}}))
	names := `{"set":{"givenName":"Alice"}}`
	for _, tc := range []struct {
		name, token, user, update string
		want                      int
		principal                 string
	}{
		{"no credentials", "", "alice", names, 401, ""},
		{"bad token", "x.y.z", "alice", names, 401, ""},
		{"self", alice, "alice", names, 204, "u-alice"},
		{"someone else", alice, "root", names, 403, ""},
		{"self, granting roles", alice, "alice", `{"set":{"roles":[{"name":"admin"}]}}`, 403, ""},
		{"admin, anyone", root, "alice", `{"set":{"roles":[{"name":"admin"}]}}`, 204, "u-root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			got = nil
			mu.Unlock()
			if status := serve(in(tc.token), canonical.ByUsername, tc.user, tc.update); status != tc.want {
				t.Fatalf("status %d, want %d", status, tc.want)
			}
			got := seen()
			if tc.want != 204 {
				if got != nil {
					t.Error("a refused request reached the upstream")
				}
				return
			}
			if got.Get("Authorization") != "Bearer at-1" || got.Get(HeaderPrincipal) != tc.principal {
				t.Errorf("upstream saw Authorization %q, principal %q", got.Get("Authorization"), got.Get(HeaderPrincipal))
			}
			if got.Get("Cookie") != "" || got.Get("X-Xsrf-Token") != "" {
				t.Errorf("the caller's session reached the upstream: %v", got)
			}
		})
	}
}

// TestConcurrentAuthenticate runs every method at once, for the race
// detector.
func TestConcurrentAuthenticate(t *testing.T) {
	k := newECKey(t, "k")
	p := newIDP(t, k)
	c := jwtConfig(p.URL)
	c.Basic = &config.Basic{File: writeFile(t, "h", "alice:"+bcryptHash(t, "pw", 4)+"\n")}
	c.APIKeys = &config.APIKeys{File: writeFile(t, "k", "svc:"+sha256Hex("key")+"\n"), Header: "x-api-key"}
	c.Policy = config.Policy{Self: true}
	a := newAuth(t, c, Options{})
	tok := k.sign(t, claims(nil))
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				r := request()
				switch j % 3 {
				case 0:
					r.Header.Set("Authorization", "Bearer "+tok)
				case 1:
					r.SetBasicAuth("alice", "pw")
				case 2:
					r.Header.Set("X-Api-Key", "key")
				}
				pr, e := a.Authenticate(r)
				if e != nil {
					t.Error(e)
					return
				}
				if e := a.Authorize(pr, canonical.ByUsername, pr.Username, nil); e != nil {
					t.Error(e)
					return
				}
			}
		}()
	}
	wg.Wait()
}
