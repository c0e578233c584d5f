package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/config"
)

// namesRules describes an API that stores a user's roles as a list of
// names and one Baasic extension member: its body reads the roles and the
// extensions only in part.
const namesRules = `upstream: names
accepts:
  set: [roles, extensions]
  unset: [extensions]
lookup: {path: "/u?name=${param.username|query}", id: "0.id"}
update:
  byId:
    method: PUT
    path: /u/${param.id|path}
    body:
      roles: ${update.set.roles.#.name?}
      dashboard: ${update.set.extensions.baasic.allowDashboardAccess?|unset:null}
get:
  byId: {method: GET, path: "/u/${param.id|path}"}
user:
  id: ${reply.id}
  username: ${reply.name?}
`

// TestRulesPartReadRefused: a body that reads a field only in part
// (${update.set.roles.#.name}: each role's name) cannot carry the rest of
// what an update sends in it. A role with an id, or an extension member
// the body does not read, is refused naming the field in the client's
// terms, and nothing is sent; what the body does carry goes through. (The
// role's id was dropped and the update answered 200.)
func TestRulesPartReadRefused(t *testing.T) {
	var mu sync.Mutex
	var puts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/u":
			_ = json.NewEncoder(w).Encode([]any{map[string]any{"id": "a-1", "name": r.URL.Query().Get("name")}})
		case r.Method == http.MethodGet && r.URL.Path == "/u/a-1":
			_ = json.NewEncoder(w).Encode(map[string]any{"id": "a-1", "name": "jane.doe"})
		case r.Method == http.MethodPut && r.URL.Path == "/u/a-1":
			body, _ := io.ReadAll(r.Body)
			puts = append(puts, string(body))
			w.WriteHeader(http.StatusNoContent)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	file := filepath.Join(t.TempDir(), "names.yaml")
	if err := os.WriteFile(file, []byte(namesRules), 0o600); err != nil {
		t.Fatal(err)
	}
	s := start(t, "", srv.URL, func(c *config.Config) {
		e2eConfig(c)
		c.Upstream.Profile = config.ProfileRules
		c.Upstream.Rules = file
	})
	hdr := map[string]string{"Content-Type": "application/json"}
	sent := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), puts...)
	}
	for _, tc := range []struct{ name, body, field string }{
		{"a role's id", `{"roles":[{"name":"admin"},{"id":"r-2","name":"ops"}]}`, "roles"},
		{"a role's description", `{"roles":[{"name":"admin","description":"all"}]}`, "roles"},
		{"an extension member not read", `{"dashboardSettings":{"theme":"dark"}}`, "dashboardSettings"},
		{"an extension member's removal not carried", `{"dashboardSettings":null}`, "dashboardSettings"},
	} {
		a := s.do(t, "PUT", "/v1/app/users/jane.doe", hdr, tc.body)
		if a.Status != 400 || gjson.GetBytes(a.Body, "details").Str != tc.field || len(sent()) != 0 {
			t.Errorf("%s: %d %s; sent %q", tc.name, a.Status, a.Body, sent())
		}
	}
	a := s.do(t, "PUT", "/v1/app/users/jane.doe", hdr, `{"roles":["admin",{"name":"ops"}],"allowDashboardAccess":true}`)
	if got := sent(); a.Status != 204 || len(got) != 1 || gjson.Get(got[0], "roles").Raw != `["admin","ops"]` || !gjson.Get(got[0], "dashboard").Bool() {
		t.Fatalf("names only: %d %s; sent %q", a.Status, a.Body, got)
	}
}
