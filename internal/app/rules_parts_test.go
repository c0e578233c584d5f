package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
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
	s, sent := startNames(t, namesRules)
	hdr := map[string]string{"Content-Type": "application/json"}
	for _, tc := range []struct{ name, body, field string }{
		{"a role's id", `{"roles":[{"name":"admin"},{"id":"r-2","name":"ops"}]}`, "roles"},
		{"a role's description", `{"roles":[{"name":"admin","description":"all"}]}`, "roles"},
		{"an extension member not read", `{"dashboardSettings":{"theme":"dark"}}`, "dashboardSettings"},
		{"an empty extension member not read", `{"dashboardSettings":{}}`, "dashboardSettings"},
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

// streetRules stores a user's address member by member: its body reads
// the address only in part.
const streetRules = `upstream: streets
accepts:
  set: [address]
lookup: {path: "/u?name=${param.username|query}", id: "0.id"}
update:
  byId:
    method: PUT
    path: /u/${param.id|path}
    body:
      street: ${update.set.address.street?}
      city: ${update.set.address.city?}
      lat: ${update.set.address.geo.lat?}
get:
  byId: {method: GET, path: "/u/${param.id|path}"}
user:
  id: ${reply.id}
`

// TestRulesPartReadClearRefused: an update that clears a field the body
// reads only by member (Shift's address: {}, or one whose members are all
// null) renders nothing of it: it is refused naming the field, and nothing
// is sent. (The body went out without the address and the update was
// answered 204: the address the client cleared stayed; so was a member
// read by its members sent as {}, geo: {}.) address: null,
// Shift's removal, is refused too (accepts.unset has no address), and an
// address with a member the body reads goes through.
func TestRulesPartReadClearRefused(t *testing.T) {
	var mu sync.Mutex
	var puts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/u/a-1":
			_ = json.NewEncoder(w).Encode(map[string]any{"id": "a-1"})
		case r.Method == http.MethodPut && r.URL.Path == "/u/a-1":
			body, _ := io.ReadAll(r.Body)
			puts = append(puts, string(body))
			w.WriteHeader(http.StatusNoContent)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	file := filepath.Join(t.TempDir(), "streets.yaml")
	if err := os.WriteFile(file, []byte(streetRules), 0o600); err != nil {
		t.Fatal(err)
	}
	s := start(t, "", srv.URL, func(c *config.Config) {
		e2eConfig(c)
		c.Upstream.Profile = config.ProfileRules
		c.Upstream.Rules = file
	})
	hdr := map[string]string{"Content-Type": "application/json", "x-key": "k-123", "x-secret": "s-456"}
	sent := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), puts...)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"cleared", `{"address":{}}`, "address: the streets upstream cannot clear this field"},
		{"only null members", `{"address":{"street":null}}`, "address: the streets upstream cannot clear this field"},
		{"removed", `{"address":null}`, "address: the streets upstream cannot remove this field"},
		{"a member read by its members cleared", `{"address":{"city":"Oslo","geo":{}}}`, "address: the streets upstream cannot store its geo"},
	} {
		a := s.do(t, "PUT", "/v3/users/a-1", hdr, tc.body)
		if a.Status != 400 || gjson.GetBytes(a.Body, "address").Str != tc.want || len(sent()) != 0 {
			t.Errorf("%s: %d %s; sent %q", tc.name, a.Status, a.Body, sent())
		}
	}
	a := s.do(t, "PUT", "/v3/users/a-1", hdr, `{"address":{"city":"Oslo"}}`)
	if got := sent(); a.Status != 204 || len(got) != 1 || got[0] != `{"city":"Oslo"}` {
		t.Fatalf("a city: %d %s; sent %q", a.Status, a.Body, got)
	}
}

// TestRulesDigitLedExtensionMember: an extension member whose name begins
// with a digit (Baasic's unknown field 2fa, extensions.baasic.2fa: the
// contract's names are [A-Za-z0-9_-]+) is read by member, set and removed.
// The file was refused: the read was taken for an item index.
func TestRulesDigitLedExtensionMember(t *testing.T) {
	s, sent := startNames(t, tfaRules)
	hdr := map[string]string{"Content-Type": "application/json"}
	for _, body := range []string{`{"2fa":true}`, `{"2fa":null}`} {
		if a := s.do(t, "PUT", "/v1/app/users/jane.doe", hdr, body); a.Status != 204 {
			t.Fatalf("%s: %d %s", body, a.Status, a.Body)
		}
	}
	if puts := sent(); len(puts) != 2 || puts[0] != `{"tfa":true}` || puts[1] != `{"tfa":false}` {
		t.Fatalf("sent %q", sent())
	}
}

// TestRulesWholeDialectExtensions: a body that reads one dialect's
// extensions whole (${update.set.extensions.baasic?}) carries every member
// of them; the check of what a body carries panicked on it (an empty path
// narrowed twice), and every such update was a 500.
func TestRulesWholeDialectExtensions(t *testing.T) {
	rules := strings.NewReplacer("dashboard: ${update.set.extensions.baasic.allowDashboardAccess?|unset:null}",
		"ext: ${update.set.extensions.baasic?}", "  unset: [extensions]\n", "").Replace(namesRules)
	s, sent := startNames(t, rules)
	a := s.do(t, "PUT", "/v1/app/users/jane.doe", map[string]string{"Content-Type": "application/json"},
		`{"dashboardSettings":{"theme":"dark"},"allowDashboardAccess":true}`)
	puts := sent()
	if a.Status != 204 || len(puts) != 1 || gjson.Get(puts[0], "ext.dashboardSettings.theme").Str != "dark" ||
		!gjson.Get(puts[0], "ext.allowDashboardAccess").Bool() {
		t.Fatalf("%d %s; sent %q", a.Status, a.Body, puts)
	}
}

// TestRulesCarriedByChosenRequest: what an update carries is checked
// against the update request that sends it, not every one configured.
// byId reads the roles whole and byUsername only their names: a role with
// an id goes through by id (it was refused, "cannot store a role's id",
// because byUsername would drop it) and is refused by username.
func TestRulesCarriedByChosenRequest(t *testing.T) {
	var mu sync.Mutex
	var puts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodPut {
			body, _ := io.ReadAll(r.Body)
			puts = append(puts, r.URL.Path+" "+string(body))
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	t.Cleanup(srv.Close)
	rules := strings.NewReplacer("      roles: ${update.set.roles.#.name?}\n", "      roles: ${update.set.roles?}\n",
		"get:\n", `  byUsername:
    method: PUT
    path: /u/by-name/${param.username|path}
    body:
      roles: ${update.set.roles.#.name?}
      dashboard: ${update.set.extensions.baasic.allowDashboardAccess?|unset:null}
get:
`).Replace(namesRules)
	file := filepath.Join(t.TempDir(), "chosen.yaml")
	if err := os.WriteFile(file, []byte(rules), 0o600); err != nil {
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
	body := `{"roles":[{"id":"r-1","name":"admin"}]}`
	a := s.do(t, "PUT", "/v1/app/users/0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a", hdr, body)
	got := sent()
	if a.Status != 204 || len(got) != 1 || !strings.HasPrefix(got[0], "/u/0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a ") ||
		!strings.Contains(got[0], `"id":"r-1"`) {
		t.Fatalf("by id: %d %s; sent %q", a.Status, a.Body, got)
	}
	a = s.do(t, "PUT", "/v1/app/users/jane.doe", hdr, body)
	if a.Status != 400 || gjson.GetBytes(a.Body, "details").Str != "roles" || len(sent()) != 1 {
		t.Fatalf("by username: %d %s; sent %q", a.Status, a.Body, sent())
	}
}

// tfaRules stores one Baasic extension member whose name begins with a
// digit (2fa), set and removed by member.
const tfaRules = `upstream: tfa
accepts: {set: [extensions], unset: [extensions]}
lookup: {path: "/u?name=${param.username|query}", id: "0.id"}
update:
  byId:
    method: PUT
    path: /u/${param.id|path}
    body:
      tfa: ${update.set.extensions.baasic.2fa?|unset:false}
get:
  byId: {method: GET, path: "/u/${param.id|path}"}
user:
  id: ${reply.id}
  username: ${reply.name?}
`

// startNames serves e2eConfig with profile rules from the rules text, in
// front of the REST upstream these rules files describe: GET /u?name=N
// finds user a-1 named N, GET /u/a-1 answers jane.doe, and each PUT of
// /u/a-1 is answered 204 and recorded; sent returns the bodies put so far.
func startNames(t *testing.T, rules string) (s *started, sent func() []string) {
	t.Helper()
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
	file := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(file, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	s = start(t, "", srv.URL, func(c *config.Config) {
		e2eConfig(c)
		c.Upstream.Profile = config.ProfileRules
		c.Upstream.Rules = file
	})
	return s, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), puts...)
	}
}
