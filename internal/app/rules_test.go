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

// fakeKeycloak is a small stand-in for Keycloak's admin users API: PUT
// sets the members given ("" clears a name or e-mail; attributes are
// replaced whole), GET reads, a search finds exact usernames.
type fakeKeycloak struct {
	mu    sync.Mutex
	users map[string]map[string]any
	puts  int
	calls int // every request
}

func (k *fakeKeycloak) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls++
	w.Header().Set("Content-Type", "application/json")
	const prefix = "/admin/realms/master/users"
	id := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, prefix), "/")
	switch {
	case !strings.HasPrefix(r.URL.Path, prefix):
		w.WriteHeader(http.StatusNotFound)
	case id == "" && r.Method == http.MethodGet:
		out := []any{}
		for _, u := range k.users {
			if u["username"] == r.URL.Query().Get("username") {
				out = append(out, u)
			}
		}
		_ = json.NewEncoder(w).Encode(out)
	case k.users[id] == nil:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"User not found"}`))
	case r.Method == http.MethodGet:
		_ = json.NewEncoder(w).Encode(k.users[id])
	case r.Method == http.MethodPut:
		var rep map[string]any
		if err := json.NewDecoder(r.Body).Decode(&rep); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if name, ok := rep["username"]; ok {
			for other, u := range k.users {
				if other != id && u["username"] == name {
					w.WriteHeader(http.StatusConflict)
					_, _ = w.Write([]byte(`{"errorMessage":"User exists with same username"}`))
					return
				}
			}
		}
		k.puts++
		for key, v := range rep {
			if v == "" {
				delete(k.users[id], key)
			} else {
				k.users[id][key] = v
			}
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// TestRulesEndToEnd runs dialects through the real server in front of a
// Keycloak-like API described by examples/upstreams/keycloak.yaml.
func TestRulesEndToEnd(t *testing.T) {
	kc := &fakeKeycloak{users: map[string]map[string]any{
		"u-1": {"id": "u-1", "username": "john.smith", "firstName": "John", "lastName": "Smith", "email": "john@example.com",
			"enabled": true, "createdTimestamp": 1705311000123, "attributes": map[string]any{"department": []any{"sales"}}},
		"u-2": {"id": "u-2", "username": "jane.doe", "enabled": true},
	}}
	srv := httptest.NewServer(kc)
	t.Cleanup(srv.Close)
	s := start(t, "", srv.URL, func(c *config.Config) {
		e2eConfig(c)
		c.Upstream.Profile = config.ProfileRules
		c.Upstream.Rules = "../../examples/upstreams/keycloak.yaml"
	})
	hdr := map[string]string{"Content-Type": "application/json"}
	user := func(id string) map[string]any {
		kc.mu.Lock()
		defer kc.mu.Unlock()
		b, _ := json.Marshal(kc.users[id])
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return m
	}

	// Finix by id: PUT, then a GET for the answer (Keycloak answers 204).
	a := s.do(t, "PUT", "/users/u-1", hdr, `{"enabled":false,"tags":{"order_number":"25"}}`)
	if a.Status != 200 {
		t.Fatalf("finix: %d %s", a.Status, a.Body)
	}
	jsonSame(t, "finix tags", []byte(gjson.GetBytes(a.Body, "tags").Raw), `{"order_number":"25"}`)
	if got := gjson.GetBytes(a.Body, "created_at").Str; got != "2024-01-15T09:30:00.123Z" {
		t.Errorf("created_at %q", got)
	}
	if u := user("u-1"); u["enabled"] != false || gjson.Get(mustJSON(u), "attributes.order_number.0").Str != "25" ||
		gjson.Get(mustJSON(u), "attributes.department").Exists() {
		t.Errorf("stored %v", u)
	}

	// Crafter by username: lookup, then PUT; "" clears the first name.
	a = s.do(t, "POST", "/studio/api/1/services/api/1/user/update.json", hdr, `{"username":"john.smith","first_name":"","email":"j2@example.com"}`)
	if a.Status != 200 {
		t.Fatalf("crafter: %d %s", a.Status, a.Body)
	}
	if u := user("u-1"); u["firstName"] != nil || u["email"] != "j2@example.com" || u["lastName"] != "Smith" {
		t.Errorf("stored %v", u)
	}

	// What one PUT cannot do is refused, in the dialect's terms, and
	// nothing reaches the upstream: not the PUT, not the username lookup,
	// not the stored-user GET Shift's password rule needs.
	calls := func() int {
		kc.mu.Lock()
		defer kc.mu.Unlock()
		return kc.calls
	}
	before := calls()
	a = s.do(t, "POST", "/studio/api/1/services/api/1/user/update.json", hdr, `{"username":"john.smith","password":"S3cret!!"}`)
	if a.Status != 400 || gjson.GetBytes(a.Body, "message").Str != "Invalid parameter: password" || calls() != before {
		t.Errorf("crafter password: %d %s; %d upstream requests", a.Status, a.Body, calls()-before)
	}
	a = s.do(t, "PUT", "/v3/users/u-1", hdr, `{"password":"Abcdefg1!"}`)
	if a.Status != 400 || gjson.GetBytes(a.Body, "password").Str == "" || calls() != before {
		t.Errorf("shift password: %d %s; %d upstream requests", a.Status, a.Body, calls()-before)
	}

	// Not found and conflict.
	if a := s.do(t, "PUT", "/v1/app/users/nobody", hdr, `{"isApproved":true}`); a.Status != 404 {
		t.Errorf("not found: %d %s", a.Status, a.Body)
	}
	a = s.do(t, "PUT", "/v1/app/users/jane.doe", hdr, `{"userName":"john.smith"}`)
	if a.Status != 409 || gjson.GetBytes(a.Body, "details").Str != "userName" {
		t.Errorf("conflict: %d %s", a.Status, a.Body)
	}

	if a := s.do(t, "GET", "/readyz", nil, ""); a.Status != 200 || gjson.GetBytes(a.Body, "profile").Str != "rules" {
		t.Errorf("readyz %d %s", a.Status, a.Body)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// envelopeRules describes an accounts API whose GET wraps the account in
// {"data": …} and whose PUT takes the bare account, whole.
const envelopeRules = `upstream: accounts
accepts:
  set: [email, attributes]
  unset: [attributes]
lookup: {path: "/accounts?login=${param.username|query}", id: "items.0.id"}
update:
  byId:
    method: PUT
    path: /accounts/${param.id|path}
    merge: true
    mergeFrom: data
    body:
      mail: ${update.set.email?}
      props: ${update.set.attributes?|unset:{}}
get:
  byId: {method: GET, path: "/accounts/${param.id|path}"}
user:
  id: ${reply.data.id}
  username: ${reply.data.login?}
  email: ${reply.data.mail?}
  attributes: ${reply.data.props?}
`

// TestRulesMergeFromEnvelope: with merge and mergeFrom, the update is laid
// over the user the GET wraps and the user alone is PUT back: the members
// the update does not name are kept, and no envelope is sent as a member
// of the user (laid over the whole reply, the PUT held "data" and the
// update's members only, and an API that takes the account whole would
// have lost the rest of it).
func TestRulesMergeFromEnvelope(t *testing.T) {
	var mu sync.Mutex
	stored := map[string]any{"id": "a-1", "login": "jane.doe", "mail": "jane@example.com", "first": "Jane"}
	var puts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path != "/accounts/a-1":
			w.WriteHeader(http.StatusNotFound)
		case r.Method == http.MethodGet:
			_ = json.NewEncoder(w).Encode(map[string]any{"data": stored})
		case r.Method == http.MethodPut:
			var whole map[string]any
			body, _ := io.ReadAll(r.Body)
			puts = append(puts, string(body))
			if err := json.Unmarshal(body, &whole); err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			stored = whole // the account, replaced whole
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(srv.Close)
	file := filepath.Join(t.TempDir(), "accounts.yaml")
	if err := os.WriteFile(file, []byte(envelopeRules), 0o600); err != nil {
		t.Fatal(err)
	}
	s := start(t, "", srv.URL, func(c *config.Config) {
		e2eConfig(c)
		c.Upstream.Profile = config.ProfileRules
		c.Upstream.Rules = file
	})
	a := s.do(t, "PUT", "/users/a-1", map[string]string{"Content-Type": "application/json"}, `{"tags":{"team":"blue"}}`)
	if a.Status != 200 || gjson.GetBytes(a.Body, "email").Str != "jane@example.com" {
		t.Fatalf("finix: %d %s", a.Status, a.Body)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(puts) != 1 || gjson.Get(puts[0], "data").Exists() {
		t.Fatalf("PUT bodies %q", puts)
	}
	got := mustJSON(stored)
	if gjson.Get(got, "login").Str != "jane.doe" || gjson.Get(got, "mail").Str != "jane@example.com" ||
		gjson.Get(got, "first").Str != "Jane" || gjson.Get(got, "props.team").Str != "blue" {
		t.Errorf("stored %s", got)
	}
}
