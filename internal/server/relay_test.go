package server

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/userbridge/userbridge/adapters/registry"
	"github.com/userbridge/userbridge/mapping"
)

// engineOf is an unmatched answer over the built-in dialects named, each
// mounted under its prefix ("" at the root), with userbridge's probes.
func engineOf(t *testing.T, prefixes map[string]string) (*unmatchedAnswer, map[string]*handler) {
	t.Helper()
	u := &unmatchedAnswer{obs: noObserver{}}
	hs := map[string]*handler{}
	for _, b := range registry.Builtins() {
		prefix, ok := prefixes[b.Name]
		if !ok {
			continue
		}
		d, err := b.Load("", nil, mapping.Options{})
		if err != nil {
			t.Fatal(err)
		}
		h := &handler{name: b.Name, p: d.Program()}
		r := d.Program().Route()
		u.add(r.Method, prefix+r.Path, prefix, h)
		hs[b.Name] = h
	}
	var own [][]string
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		own = append(own, strings.Split(p, "/"))
	}
	u.seal(own)
	return u, hs
}

// TestRelayOwner: which dialect a request no route matched belongs to
// (relay.go's rule).
func TestRelayOwner(t *testing.T) {
	type req struct {
		method, path string
		header       map[string]string
		want         string // the owner's name; "" for none
	}
	for _, c := range []struct {
		name     string
		prefixes map[string]string
		reqs     []req
	}{
		{"one dialect at the root owns everything but userbridge's own paths", map[string]string{"finix": ""}, []req{
			{"GET", "/users/US1", nil, "finix"},
			{"POST", "/identities", nil, "finix"},
			{"DELETE", "/", nil, "finix"},
			{"GET", "/healthz", nil, ""},
			{"POST", "/metrics", nil, ""},
			{"GET", "/readyz/", nil, ""},
		}},
		{"a prefix owns what is under it, and only that", map[string]string{"shift": "/shift", "finix": "/finix"}, []req{
			{"GET", "/shift/v3/users/u1", nil, "shift"},
			{"GET", "/shift", nil, "shift"},
			{"POST", "/shift/v3/users", nil, "shift"},
			{"GET", "/finix/users/US1", map[string]string{"x-key": "k"}, "finix"},
			{"GET", "/shiftx/v3/users/u1", nil, ""},
			{"GET", "/v3/users/u1", map[string]string{"x-key": "k"}, ""}, // Shift's path, outside its prefix
			{"GET", "/finix/healthz", nil, "finix"},
			{"GET", "/healthz", nil, ""},
		}},
		{"one dialect under a prefix owns nothing outside it", map[string]string{"shift": "/shift"}, []req{
			{"GET", "/v3/users/u1", map[string]string{"x-key": "k"}, ""},
			{"GET", "/shift/anything", nil, "shift"},
		}},
		{"at the root, beside others, the route and its method or a distinctive header", map[string]string{"finix": "", "trustedtwin": "", "shift": "/shift"}, []req{
			{"GET", "/users/US1", map[string]string{"Finix-Version": "2022-02-01"}, "finix"},
			{"GET", "/users/US1", map[string]string{"Authorization": "x"}, ""}, // Finix's and Trusted Twin's path
			{"PATCH", "/users/", nil, "trustedtwin"},
			{"PUT", "/users/", nil, "finix"},
			{"GET", "/identities", map[string]string{"Finix-Version": "2022-02-01"}, "finix"}, // no route fits: the header says whose
			{"GET", "/identities", nil, ""},
			{"GET", "/shift/v3/users/u1", nil, "shift"},
		}},
		{"no route fits: a dialect's own header names it, at the root", map[string]string{"crafter": "", "shift": "", "finix": "/finix"}, []req{
			{"GET", "/studio/api/1/services/api/1/user/get.json", map[string]string{"X-XSRF-TOKEN": "t"}, "crafter"},
			{"GET", "/studio/api/1/services/api/1/user/get.json", nil, ""},
			{"GET", "/identities", map[string]string{"Finix-Version": "2022-02-01"}, ""}, // Finix is under /finix
			{"GET", "/finix/identities", nil, "finix"},
			{"GET", "/anything", map[string]string{"X-XSRF-TOKEN": "t", "x-key": "k"}, ""}, // two dialects named
		}},
		{"a path only one dialect's route fits is its, unless another dialect's header is there", map[string]string{"finix": "/finix", "trustedtwin": "", "shift": "", "crafter": ""}, []req{
			{"PUT", "/users/US1", nil, "trustedtwin"},
			{"DELETE", "/v3/users/u1", nil, "shift"},
			{"PUT", "/users/US1", map[string]string{"Finix-Version": "2022-02-01", "Authorization": "Basic x"}, ""}, // a Finix client lost
			{"GET", "/v3/users/u1", map[string]string{"X-XSRF-TOKEN": "t"}, ""},                                     // Crafter's header
			{"GET", "/v3/users/u1", map[string]string{"x-key": "k"}, "shift"},
		}},
		{"dialects sharing a prefix: the route rule chooses", map[string]string{"finix": "/legacy", "trustedtwin": "/legacy"}, []req{
			{"PATCH", "/legacy/users/", nil, "trustedtwin"},
			{"GET", "/legacy/users/US1", map[string]string{"Finix-Version": "2022-02-01"}, "finix"},
			{"GET", "/legacy/users/US1", nil, ""},
			{"GET", "/legacy/other", nil, ""},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			u, hs := engineOf(t, c.prefixes)
			for _, r := range c.reqs {
				req := httptest.NewRequest(r.method, r.path, nil)
				for k, v := range r.header {
					req.Header.Set(k, v)
				}
				got := u.relayOwner(req)
				if (got == nil) != (r.want == "") || (got != nil && got != hs[r.want]) {
					name := "none"
					if got != nil {
						name = got.name
					}
					t.Errorf("%s %s %v: owner %s, want %q", r.method, r.path, r.header, name, r.want)
				}
			}
		})
	}
}
