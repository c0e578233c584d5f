package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/userbridge/userbridge/internal/backend"
)

// End-to-end checks, through the real server and the demo backend, of
// dialect behaviour whose rules are proved by golden cases in
// adapters/<dialect>/testdata.

var finixHeader = map[string]string{"Content-Type": "application/json", "Authorization": basicValue("USdemo", "demo-password"),
	"Finix-Version": "2022-02-01"}

// A Finix client that PUTs a user's identity back, or a forged one, never
// rewrites it.
func TestFinixIdentityReadOnly(t *testing.T) {
	s := start(t, "", "", nil)
	a := s.do(t, "PUT", "/users/"+backend.DemoMerchantID, finixHeader, `{"identity":"IDforged","enabled":true}`)
	if a.Status != 200 {
		t.Fatalf("status %d: %s", a.Status, a.Body)
	}
	if got := gjson.GetBytes(a.Body, "identity"); got.Type != gjson.Null {
		t.Errorf("answered identity %s, want null (the stored user has none)", got.Raw)
	}
	user, _ := s.app.Demo.User(backend.DemoMerchantID)
	if ext := gjson.GetBytes(user, "extensions.finix.identity"); ext.Exists() {
		t.Errorf("stored extensions.finix.identity = %s", ext.Raw)
	}
}

// An empty role name names no role: refused in Baasic's envelope naming the
// field, and nothing is stored.
func TestBaasicEmptyRoleName(t *testing.T) {
	s := start(t, "", "", nil)
	hdr := map[string]string{"Content-Type": "application/json", "Authorization": "BEARER demo-token"}
	for body, field := range map[string]string{`{"roles":[""]}`: "roles[0]", `{"roles":[{"name":""}]}`: "roles[0].name"} {
		a := s.do(t, "PUT", "/v1/demo-app/users/jane.doe", hdr, body)
		if a.Status != 400 || gjson.GetBytes(a.Body, "details").String() != field {
			t.Errorf("%s: %d %s, want 400 naming %s", body, a.Status, a.Body, field)
		}
	}
	user, _ := s.app.Demo.User(backend.DemoJaneID)
	if got := gjson.GetBytes(user, "roles.0.name").String(); got != "ROLE_MERCHANT" {
		t.Errorf("stored roles changed: %s", gjson.GetBytes(user, "roles").Raw)
	}
}

// A GUID in upper case or braces (.NET's "B" format, percent-encoded as a
// client sends it) names the same user as its canonical lower-case form.
func TestUUIDNormalisedBeforeForwarding(t *testing.T) {
	s := start(t, "", "", nil)
	baasic := map[string]string{"Content-Type": "application/json", "Authorization": "BEARER demo-token"}
	for _, ref := range []string{"0B6F4C1E-8C2A-4D7E-9F3B-5A1D2E3C4B5A", "%7B0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a%7D",
		"%7B0B6F4C1E-8C2A-4D7E-9F3B-5A1D2E3C4B5A%7D"} {
		a := s.do(t, "PUT", "/v1/demo-app/users/"+ref, baasic, `{"name":"Jane `+ref[:3]+`"}`)
		if a.Status != 204 {
			t.Errorf("baasic %s: %d %s, want 204", ref, a.Status, a.Body)
		}
	}
	tt := map[string]string{"Content-Type": "application/json", "Authorization": "demo-secret"}
	a := s.do(t, "PATCH", "/users/%7B0B6F4C1E-8C2A-4D7E-9F3B-5A1D2E3C4B5A%7D", tt,
		`{"role":"{7C9E6679-7425-40DE-944B-E07FC1F90AE7}"}`)
	if a.Status != 200 {
		t.Fatalf("trustedtwin: %d %s", a.Status, a.Body)
	}
	if got := gjson.GetBytes(a.Body, "role").String(); got != "7c9e6679-7425-40de-944b-e07fc1f90ae7" {
		t.Errorf("trustedtwin role = %q, want the canonical form", got)
	}
	user, _ := s.app.Demo.User(backend.DemoJaneID)
	if got := gjson.GetBytes(user, "roles").Raw; got != `[{"id":"7c9e6679-7425-40de-944b-e07fc1f90ae7"}]` {
		t.Errorf("stored roles = %s", got)
	}
}

// An upstream error on a canonical field reaches the caller in its
// dialect's terms, or naming no field when the dialect has none for it.
func TestUpstreamErrorFieldNames(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, e2eConfig)
	finix := "/users/" + backend.DemoMerchantID
	cases := []struct {
		name, method, path string
		header             map[string]string
		body, field        string
		reply              func(http.ResponseWriter, *http.Request)
		status             int
		at, want           string // where the field shows, and what it says ("" : absent)
	}{
		{"finix username", "PUT", finix, finixHeader, `{"enabled":true}`, "username",
			envelope(409, "conflict", "username taken", "username"), 409, "_embedded.errors.0.field", ""},
		{"finix attributes", "PUT", finix, finixHeader, `{"tags":{"a":"b"}}`, "attributes",
			envelope(400, "invalid_field", "too many tags", "attributes"), 422, "_embedded.errors.0.field", "tags"},
		{"finix own extension", "PUT", finix, finixHeader, `{"email":"x@example.com"}`, "extensions.finix.email",
			envelope(400, "invalid_field", "not writable", "extensions.finix.email"), 422, "_embedded.errors.0.field", "email"},
		{"baasic username", "PUT", "/v1/demo-app/users/jane.doe", map[string]string{"Content-Type": "application/json"}, `{"userName":"john.smith"}`, "username",
			envelope(409, "conflict", "username taken", "username"), 409, "details", "userName"},
		{"baasic givenName", "PUT", "/v1/demo-app/users/jane.doe", map[string]string{"Content-Type": "application/json"}, `{"name":"J"}`, "givenName",
			envelope(400, "invalid_field", "too long", "givenName"), 400, "details", ""},
		{"shift displayName", "PUT", "/v3/users/u1", map[string]string{"Content-Type": "application/json"}, `{"firstName":"J"}`, "displayName",
			envelope(400, "invalid_field", "too long", "displayName"), 400, "displayName", ""},
		{"crafter displayName", "POST", "/studio/api/1/services/api/1/user/update.json", map[string]string{"Content-Type": "application/json"},
			`{"username":"john.smith","first_name":"J"}`, "displayName",
			envelope(400, "invalid_field", "too long", "displayName"), 400, "message", "too long"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec.set(c.reply)
			a := s.do(t, c.method, c.path, c.header, c.body)
			if a.Status != c.status {
				t.Fatalf("status %d: %s", a.Status, a.Body)
			}
			got := gjson.GetBytes(a.Body, c.at)
			if c.want == "" && got.Exists() && got.Type != gjson.Null {
				t.Errorf("%s = %s, want none: %s", c.at, got.Raw, a.Body)
			}
			if c.want != "" && got.String() != c.want {
				t.Errorf("%s = %s, want %q: %s", c.at, got.Raw, c.want, a.Body)
			}
			if strings.Contains(string(a.Body), `"`+c.field+`"`) && c.want != c.field {
				t.Errorf("the canonical name %q leaks: %s", c.field, a.Body)
			}
		})
	}
}

// A Finix client is answered the first of the user's roles that is a Finix
// role, or no role member at all: never another dialect's role name, never
// null.
func TestFinixRoleFromCanonicalRoles(t *testing.T) {
	s := start(t, "", "", nil)
	baasic := map[string]string{"Content-Type": "application/json", "Authorization": "BEARER demo-token"}
	for _, c := range []struct{ roles, want string }{
		{`["Administrators","ROLE_ADMIN","ROLE_MERCHANT"]`, `"ROLE_ADMIN"`},
		{`["Administrators"]`, ""},
		{`[]`, ""},
	} {
		if a := s.do(t, "PUT", "/v1/demo-app/users/merchant.admin", baasic, `{"roles":`+c.roles+`}`); a.Status != 204 {
			t.Fatalf("baasic roles %s: %d %s", c.roles, a.Status, a.Body)
		}
		a := s.do(t, "PUT", "/users/"+backend.DemoMerchantID, finixHeader, `{}`)
		if a.Status != 200 {
			t.Fatalf("finix: %d %s", a.Status, a.Body)
		}
		if got := gjson.GetBytes(a.Body, "role").Raw; got != c.want {
			t.Errorf("roles %s: finix role %q, want %q (%s)", c.roles, got, c.want, a.Body)
		}
	}
}
