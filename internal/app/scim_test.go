package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/upstream/scim"
	"github.com/userbridge/userbridge/internal/upstream/scim/scimtest"
)

// The SCIM users every dialect's steps start from.
const (
	scimJane = `{"userName":"jane.doe","name":{"givenName":"Jane","familyName":"Doe","middleName":"Q"},"displayName":"Jane Doe",
"emails":[{"value":"jane@home.example","type":"home"},{"value":"jane@example.com","type":"work","primary":true}],
"phoneNumbers":[{"value":"+1 555 0100","type":"work"}],"active":true,"roles":[{"value":"Users","display":"Users"}]}`
	scimJohn = `{"userName":"john.smith","name":{"givenName":"John","familyName":"Smith"},
"emails":[{"value":"john@example.com","type":"work","primary":true}],"active":true,
"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"organization":"Initech","costCenter":"7"}}`
	nobodyID = "2819c223-7f76-453a-919d-999999999999"
)

// scimStep is one request a dialect's client makes, and what the SCIM
// server must hold afterwards.
type scimStep struct {
	name         string
	method, path string
	header       map[string]string
	body         string
	before       func(srv *scimtest.Server) // e.g. a scripted SCIM error
	status       int
	// user is the SCIM user the step must have changed ("jane" or "john").
	user  string
	check func(t *testing.T, stored gjson.Result, a answer, reqs []scimtest.Request)
}

// scimDialect is one dialect's steps: set, unset, replace whole, by id
// and/or by username, not found and conflict.
type scimDialect struct {
	name  string
	steps func(jane, john string) []scimStep
}

// startSCIM runs userbridge (profile scim) in front of a real SCIM 2.0
// server seeded with jane and john.
func startSCIM(t *testing.T, tweak func(*config.Config)) (srv *scimtest.Server, s *started, jane, john string) {
	t.Helper()
	return startSCIMWith(t, scimtest.Options{Extension: scim.DefaultExtensionSchema}, tweak)
}

// startSCIMWith is startSCIM in front of a SCIM server as o says.
func startSCIMWith(t *testing.T, o scimtest.Options, tweak func(*config.Config)) (srv *scimtest.Server, s *started, jane, john string) {
	t.Helper()
	srv, err := scimtest.StartWith(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	jane, john = srv.Add(scimJane), srv.Add(scimJohn)
	s = start(t, "", srv.URL, func(c *config.Config) {
		e2eConfig(c)
		c.Upstream.Profile = config.ProfileSCIM
		if tweak != nil {
			tweak(c)
		}
	})
	return srv, s, jane, john
}

// member reads a member whose name holds dots (a schema URN).
func member(r gjson.Result, name string) gjson.Result {
	var hit gjson.Result
	r.ForEach(func(k, v gjson.Result) bool {
		if k.Str == name {
			hit = v
			return false
		}
		return true
	})
	return hit
}

func ubExt(stored gjson.Result) gjson.Result { return member(stored, scim.DefaultExtensionSchema) }

func extMember(stored gjson.Result, dialect, name string) gjson.Result {
	return ubExt(stored).Get(`extensions.#(dialect=="` + dialect + `")#|#(name=="` + name + `").value`)
}

func want(t *testing.T, what string, got gjson.Result, value string) {
	t.Helper()
	if got.String() != value || (value != "" && !got.Exists()) {
		t.Errorf("%s = %s, want %q", what, got.Raw, value)
	}
}

func absent(t *testing.T, what string, got gjson.Result) {
	t.Helper()
	if got.Exists() {
		t.Errorf("%s = %s, want it gone", what, got.Raw)
	}
}

func workEmails(stored gjson.Result) []gjson.Result {
	return stored.Get(`emails.#(type=="work")#`).Array()
}

var scimDialects = []scimDialect{
	{name: "baasic", steps: func(jane, john string) []scimStep {
		return []scimStep{
			{name: "set by id", method: "PUT", path: "/v1/app/users/" + jane, user: "jane", status: 204,
				body: `{"email":"jane.q@example.org","name":"Jane Q. Doe","isApproved":false,"isLockedOut":true,"roles":["Administrators"]}`,
				check: func(t *testing.T, u gjson.Result, a answer, reqs []scimtest.Request) {
					if len(reqs) != 1 || reqs[0].Method != "PATCH" || reqs[0].URI != "/Users/"+jane {
						t.Errorf("requests %+v", reqs)
					}
					if e := workEmails(u); len(e) != 1 || e[0].Get("value").Str != "jane.q@example.org" || e[0].Get("primary").Raw != "true" {
						t.Errorf("work email %s", u.Get("emails").Raw)
					}
					want(t, "home email", u.Get(`emails.#(type=="home").value`), "jane@home.example")
					want(t, "displayName", u.Get("displayName"), "Jane Q. Doe")
					want(t, "active", u.Get("active"), "false")
					want(t, "locked", ubExt(u).Get("locked"), "true")
					want(t, "roles", u.Get("roles"), `[{"display":"Administrators","value":"Administrators"}]`)
					want(t, "userName", u.Get("userName"), "jane.doe")
				}},
			{name: "replace whole by username", method: "PUT", path: "/v1/app/users/john.smith", user: "john", status: 204,
				body: `{"roles":[{"name":"Editors","description":"may edit"},{"id":"r-2","name":"Viewers"}]}`,
				check: func(t *testing.T, u gjson.Result, a answer, reqs []scimtest.Request) {
					if len(reqs) != 2 || reqs[0].Method != "GET" || !strings.HasPrefix(reqs[0].URI, "/Users?filter=userName%20eq%20%22john.smith%22") ||
						reqs[1].URI != "/Users/"+john {
						t.Errorf("want lookup then PATCH: %+v", reqs)
					}
					want(t, "roles", u.Get("roles"), `[{"display":"Editors","type":"may edit","value":"Editors"},{"display":"Viewers","value":"r-2"}]`)
				}},
			{name: "unset by username", method: "PUT", path: "/v1/app/users/jane.doe", user: "jane", status: 204,
				body: `{"name":null,"allowDashboardAccess":true,"dashboardSettings":{"theme":"dark"}}`,
				check: func(t *testing.T, u gjson.Result, a answer, reqs []scimtest.Request) {
					absent(t, "displayName", u.Get("displayName"))
					want(t, "allowDashboardAccess", extMember(u, "baasic", "allowDashboardAccess"), "true")
					want(t, "dashboardSettings", extMember(u, "baasic", "dashboardSettings"), `{"theme":"dark"}`)
				}},
			{name: "unset one extension member, the other kept", method: "PUT", path: "/v1/app/users/" + jane, user: "jane", status: 204,
				body: `{"allowDashboardAccess":null}`,
				check: func(t *testing.T, u gjson.Result, a answer, reqs []scimtest.Request) {
					absent(t, "allowDashboardAccess", extMember(u, "baasic", "allowDashboardAccess"))
					want(t, "dashboardSettings", extMember(u, "baasic", "dashboardSettings"), `{"theme":"dark"}`)
				}},
			{name: "not found by username", method: "PUT", path: "/v1/app/users/nobody", body: `{"name":"X"}`, status: 404,
				check: func(t *testing.T, _ gjson.Result, a answer, _ []scimtest.Request) {
					want(t, "statusCode", gjson.GetBytes(a.Body, "statusCode"), "404")
				}},
			{name: "not found by id", method: "PUT", path: "/v1/app/users/" + nobodyID, body: `{"name":"X"}`, status: 404},
			{name: "conflict", method: "PUT", path: "/v1/app/users/" + jane, body: `{"userName":"JOHN.SMITH"}`, user: "jane", status: 409,
				check: func(t *testing.T, u gjson.Result, a answer, _ []scimtest.Request) {
					want(t, "userName", u.Get("userName"), "jane.doe")
					want(t, "details", gjson.GetBytes(a.Body, "details"), "userName")
				}},
		}
	}},
	{name: "shift", steps: func(jane, john string) []scimStep {
		return []scimStep{
			{name: "set by id", method: "PUT", path: "/v3/users/" + john, user: "john", status: 204,
				body: `{"firstName":"Johnny","company":"Acme Ltd","phone":"+1 555 0199","mobile":"+1 555 0200","status":"LOCKED",` +
					`"ssoId":"ext-42","address":{"streetAddress":"1 Main St","locality":"Springfield","country":"US"}}`,
				check: func(t *testing.T, u gjson.Result, a answer, _ []scimtest.Request) {
					want(t, "givenName", u.Get("name.givenName"), "Johnny")
					want(t, "familyName", u.Get("name.familyName"), "Smith")
					ent := member(u, scim.EnterpriseSchema)
					want(t, "organization", ent.Get("organization"), "Acme Ltd")
					want(t, "costCenter", ent.Get("costCenter"), "7")
					want(t, "work phone", u.Get(`phoneNumbers.#(type=="work").value`), "+1 555 0199")
					want(t, "mobile", u.Get(`phoneNumbers.#(type=="mobile").value`), "+1 555 0200")
					want(t, "locked", ubExt(u).Get("locked"), "true")
					want(t, "ssoId", extMember(u, "shift", "ssoId"), `"ext-42"`)
					want(t, "address", u.Get(`addresses.#(type=="work")`), `{"country":"US","locality":"Springfield","streetAddress":"1 Main St","type":"work"}`)
				}},
			{name: "unset", method: "PUT", path: "/v3/users/" + john, user: "john", status: 204, body: `{"lastName":"","ssoId":null,"status":"ACTIVE"}`,
				check: func(t *testing.T, u gjson.Result, a answer, _ []scimtest.Request) {
					absent(t, "familyName", u.Get("name.familyName"))
					want(t, "givenName", u.Get("name.givenName"), "Johnny")
					absent(t, "ssoId", extMember(u, "shift", "ssoId"))
					want(t, "locked", ubExt(u).Get("locked"), "false")
					want(t, "deleted", ubExt(u).Get("deleted"), "false")
					want(t, "active", u.Get("active"), "true")
				}},
			{name: "replace whole", method: "PUT", path: "/v3/users/" + john, user: "john", status: 204,
				body: `{"address":{"locality":"Shelbyville"},"phone":"+1 555 0111"}`,
				check: func(t *testing.T, u gjson.Result, a answer, _ []scimtest.Request) {
					want(t, "address", u.Get(`addresses.#(type=="work")`), `{"locality":"Shelbyville","type":"work"}`)
					if n := len(u.Get(`phoneNumbers.#(type=="work")#`).Array()); n != 1 {
						t.Errorf("%d work phones: %s", n, u.Get("phoneNumbers").Raw)
					}
				}},
			{name: "password, checked against the stored username", method: "PUT", path: "/v3/users/" + john, user: "john", status: 204,
				body: `{"password":"N3w!Passw0rd"}`,
				check: func(t *testing.T, u gjson.Result, a answer, reqs []scimtest.Request) {
					if len(reqs) != 2 || reqs[0].Method != "GET" || reqs[1].Method != "PATCH" {
						t.Errorf("want GET then PATCH: %+v", reqs)
					}
					absent(t, "password", u.Get("password"))
				}},
			{name: "an address SCIM cannot hold is refused", method: "PUT", path: "/v3/users/" + john, user: "john", status: 400,
				body: `{"address":{"city":"Paris"}}`,
				check: func(t *testing.T, u gjson.Result, a answer, reqs []scimtest.Request) {
					if len(reqs) != 0 {
						t.Errorf("sent %+v", reqs)
					}
					if !strings.Contains(gjson.GetBytes(a.Body, "address").Str, "city") {
						t.Errorf("answer %s", a.Body)
					}
					want(t, "address", u.Get(`addresses.#(type=="work").locality`), "Shelbyville")
				}},
			{name: "not found", method: "PUT", path: "/v3/users/" + nobodyID, body: `{"firstName":"X"}`, status: 404},
			{name: "conflict", method: "PUT", path: "/v3/users/" + john, user: "john", status: 409, body: `{"userName":"jane.doe"}`,
				check: func(t *testing.T, u gjson.Result, a answer, _ []scimtest.Request) {
					want(t, "userName", u.Get("userName"), "john.smith")
					if gjson.GetBytes(a.Body, "userName").Str == "" {
						t.Errorf("conflict not keyed by userName: %s", a.Body)
					}
				}},
		}
	}},
	{name: "trustedtwin", steps: func(jane, john string) []scimStep {
		const role = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
		return []scimStep{
			{name: "set by id", method: "PATCH", path: "/users/" + jane, user: "jane", status: 200,
				body: `{"name":"Jane Doe 2","role":"` + role + `","description":{"team":"blue","level":3}}`,
				check: func(t *testing.T, u gjson.Result, a answer, _ []scimtest.Request) {
					want(t, "displayName", u.Get("displayName"), "Jane Doe 2")
					want(t, "roles", u.Get("roles"), `[{"value":"`+role+`"}]`)
					want(t, "attributes", ubExt(u).Get("attributes"), `{"team":"blue","level":3}`)
					jsonSame(t, "answer", a.Body, `{"uuid":"`+jane+`","name":"Jane Doe 2","account":null,"role":"`+role+`",`+
						`"description":{"team":"blue","level":3},"created_ts":`+gjson.GetBytes(a.Body, "created_ts").Raw+
						`,"updated_ts":`+gjson.GetBytes(a.Body, "updated_ts").Raw+`}`)
				}},
			{name: "replace whole", method: "PATCH", path: "/users/" + jane, user: "jane", status: 200, body: `{"description":{"team":"red"}}`,
				check: func(t *testing.T, u gjson.Result, a answer, _ []scimtest.Request) {
					want(t, "attributes", ubExt(u).Get("attributes"), `{"team":"red"}`)
					want(t, "answer description", gjson.GetBytes(a.Body, "description"), `{"team":"red"}`)
				}},
			{name: "unset", method: "PATCH", path: "/users/" + jane, user: "jane", status: 200, body: `{"description":null}`,
				check: func(t *testing.T, u gjson.Result, a answer, _ []scimtest.Request) {
					absent(t, "attributes", ubExt(u).Get("attributes"))
					absent(t, "answer description", gjson.GetBytes(a.Body, "description"))
				}},
			{name: "a 204 from SCIM is followed by a GET", method: "PATCH", path: "/users/" + jane, user: "jane", status: 200,
				body: `{"name":"Jane D3"}`, before: func(srv *scimtest.Server) { srv.SetNoContent(true) },
				check: func(t *testing.T, u gjson.Result, a answer, reqs []scimtest.Request) {
					if len(reqs) != 2 || reqs[0].Method != "PATCH" || reqs[1].Method != "GET" || reqs[1].URI != "/Users/"+jane {
						t.Errorf("want PATCH then GET: %+v", reqs)
					}
					want(t, "answer name", gjson.GetBytes(a.Body, "name"), "Jane D3")
				}},
			{name: "not found", method: "PATCH", path: "/users/" + nobodyID, body: `{"name":"Xy"}`, status: 404,
				check: func(t *testing.T, _ gjson.Result, a answer, _ []scimtest.Request) {
					want(t, "subcode", gjson.GetBytes(a.Body, "subcode"), "404000")
				}},
			{name: "conflict", method: "PATCH", path: "/users/" + jane, user: "jane", status: 409, body: `{"name":"Other"}`,
				before: func(srv *scimtest.Server) {
					srv.FailNext(http.StatusConflict, "uniqueness", "One or more of the attribute values are already in use")
				},
				check: func(t *testing.T, u gjson.Result, a answer, _ []scimtest.Request) {
					want(t, "displayName", u.Get("displayName"), "Jane D3")
					want(t, "subcode", gjson.GetBytes(a.Body, "subcode"), "409000")
					want(t, "description", gjson.GetBytes(a.Body, "description"), "One or more of the attribute values are already in use")
				}},
		}
	}},
	{name: "finix", steps: func(jane, john string) []scimStep {
		return []scimStep{
			{name: "set by id", method: "PUT", path: "/users/" + john, user: "john", status: 200,
				body: `{"enabled":false,"tags":{"order_number":"25","department":"sales"}}`,
				check: func(t *testing.T, u gjson.Result, a answer, _ []scimtest.Request) {
					want(t, "active", u.Get("active"), "false")
					want(t, "attributes", ubExt(u).Get("attributes"), `{"order_number":"25","department":"sales"}`)
					want(t, "answer id", gjson.GetBytes(a.Body, "id"), john)
					want(t, "answer enabled", gjson.GetBytes(a.Body, "enabled"), "false")
					want(t, "answer email", gjson.GetBytes(a.Body, "email"), "john@example.com")
					want(t, "answer tags", gjson.GetBytes(a.Body, "tags"), `{"order_number":"25","department":"sales"}`)
				}},
			{name: "replace whole", method: "PUT", path: "/users/" + john, user: "john", status: 200, body: `{"tags":{"a":"b"}}`,
				check: func(t *testing.T, u gjson.Result, a answer, _ []scimtest.Request) {
					want(t, "attributes", ubExt(u).Get("attributes"), `{"a":"b"}`)
					want(t, "answer tags", gjson.GetBytes(a.Body, "tags"), `{"a":"b"}`)
				}},
			{name: "unset", method: "PUT", path: "/users/" + john, user: "john", status: 200, body: `{"tags":null,"enabled":true}`,
				check: func(t *testing.T, u gjson.Result, a answer, _ []scimtest.Request) {
					absent(t, "attributes", ubExt(u).Get("attributes"))
					want(t, "active", u.Get("active"), "true")
					want(t, "answer tags", gjson.GetBytes(a.Body, "tags"), `{}`)
				}},
			{name: "not found", method: "PUT", path: "/users/" + nobodyID, body: `{"enabled":true}`, status: 404,
				check: func(t *testing.T, _ gjson.Result, a answer, _ []scimtest.Request) {
					want(t, "code", gjson.GetBytes(a.Body, "_embedded.errors.0.code"), "NOT_FOUND")
				}},
			{name: "conflict", method: "PUT", path: "/users/" + john, user: "john", status: 409, body: `{"enabled":false}`,
				before: func(srv *scimtest.Server) { srv.FailNext(http.StatusConflict, "uniqueness", "taken") },
				check: func(t *testing.T, u gjson.Result, a answer, _ []scimtest.Request) {
					want(t, "active", u.Get("active"), "true")
					want(t, "code", gjson.GetBytes(a.Body, "_embedded.errors.0.code"), "CONFLICT")
				}},
		}
	}},
	{name: "crafter", steps: func(jane, john string) []scimStep {
		const path = "/studio/api/1/services/api/1/user/update.json"
		return []scimStep{
			{name: "set by username", method: "POST", path: path, user: "john", status: 200,
				body: `{"username":"john.smith","first_name":"Johnny","last_name":"Smythe","email":"johnny@example.com","password":"p4ss-W0rd","externally_managed":"false"}`,
				check: func(t *testing.T, u gjson.Result, a answer, reqs []scimtest.Request) {
					want(t, "givenName", u.Get("name.givenName"), "Johnny")
					want(t, "familyName", u.Get("name.familyName"), "Smythe")
					if e := workEmails(u); len(e) != 1 || e[0].Get("value").Str != "johnny@example.com" {
						t.Errorf("work emails %s", u.Get("emails").Raw)
					}
					want(t, "externally_managed", extMember(u, "crafter", "externally_managed"), `"false"`)
					want(t, "answer", gjson.GetBytes(a.Body, "message"), "OK")
					if len(reqs) != 2 || reqs[0].Method != "GET" {
						t.Errorf("want lookup then PATCH: %+v", reqs)
					}
				}},
			{name: "unset", method: "POST", path: path, user: "john", status: 200, body: `{"username":"john.smith","first_name":""}`,
				check: func(t *testing.T, u gjson.Result, a answer, reqs []scimtest.Request) {
					absent(t, "givenName", u.Get("name.givenName"))
					want(t, "familyName", u.Get("name.familyName"), "Smythe")
					if len(reqs) != 1 {
						t.Errorf("the id was not cached: %+v", reqs)
					}
				}},
			{name: "cached whatever the body's layout", method: "POST", path: path, user: "john", status: 200,
				body: `{"last_name":"Smythe","username":"john.smith"}`,
				check: func(t *testing.T, u gjson.Result, _ answer, reqs []scimtest.Request) {
					// The username sits elsewhere in this body than in the
					// one that was looked up: the cache must hold its own
					// copy, not a view of that request's (pooled) body.
					if len(reqs) != 1 || reqs[0].Method != "PATCH" {
						t.Errorf("want the cached id and one PATCH: %+v", reqs)
					}
					want(t, "familyName", u.Get("name.familyName"), "Smythe")
				}},
			{name: "replace whole", method: "POST", path: path, user: "john", status: 200, body: `{"username":"john.smith","email":"j2@example.com"}`,
				check: func(t *testing.T, u gjson.Result, a answer, _ []scimtest.Request) {
					if e := workEmails(u); len(e) != 1 || e[0].Get("value").Str != "j2@example.com" {
						t.Errorf("work emails %s", u.Get("emails").Raw)
					}
				}},
			{name: "not found", method: "POST", path: path, body: `{"username":"nobody","first_name":"X"}`, status: 404,
				check: func(t *testing.T, _ gjson.Result, a answer, _ []scimtest.Request) {
					want(t, "message", gjson.GetBytes(a.Body, "message"), "User not found")
				}},
			{name: "conflict", method: "POST", path: path, user: "john", status: 409, body: `{"username":"john.smith","email":"jane@example.com"}`,
				before: func(srv *scimtest.Server) { srv.FailNext(http.StatusConflict, "uniqueness", "email taken") },
				check: func(t *testing.T, u gjson.Result, a answer, _ []scimtest.Request) {
					want(t, "message", gjson.GetBytes(a.Body, "message"), "User already exists")
					if e := workEmails(u); len(e) != 1 || e[0].Get("value").Str != "j2@example.com" {
						t.Errorf("work emails %s", u.Get("emails").Raw)
					}
				}},
		}
	}},
}

// TestSCIMEndToEnd runs every dialect through the real server in front of
// a real SCIM 2.0 server, and checks what each request did to the stored
// SCIM user.
func TestSCIMEndToEnd(t *testing.T) {
	runSCIMEndToEnd(t, scimtest.Options{Extension: scim.DefaultExtensionSchema})
}

// TestSCIMEndToEndWithoutPatch runs the same steps against a provider
// whose ServiceProviderConfig says patch.supported false (and which
// refuses PATCH): each update is GET + PUT with If-Match, and leaves the
// stored user as the PATCH did.
func TestSCIMEndToEndWithoutPatch(t *testing.T) {
	runSCIMEndToEnd(t, scimtest.Options{Extension: scim.DefaultExtensionSchema, NoPatch: true, ETag: true})
}

// asPatches reads a provider's requests as the PATCH steps expect them:
// GET /Users/{id} then PUT /Users/{id} (with If-Match) stands for one
// PATCH /Users/{id}.
func asPatches(t *testing.T, reqs []scimtest.Request) []scimtest.Request {
	var out []scimtest.Request
	for i := 0; i < len(reqs); i++ {
		r := reqs[i]
		if r.Method == "PATCH" {
			t.Errorf("PATCH sent to a provider without PATCH: %s", r.URI)
		}
		if r.Method == "GET" && i+1 < len(reqs) && reqs[i+1].Method == "PUT" && reqs[i+1].URI == r.URI {
			put := reqs[i+1]
			if put.Header.Get("If-Match") == "" || put.Header.Get("Content-Type") != scim.MediaType {
				t.Errorf("PUT %s: If-Match %q, Content-Type %q", put.URI, put.Header.Get("If-Match"), put.Header.Get("Content-Type"))
			}
			put.Method, put.Header = "PATCH", put.Header.Clone()
			out = append(out, put)
			i++
			continue
		}
		out = append(out, r)
	}
	return out
}

func runSCIMEndToEnd(t *testing.T, o scimtest.Options) {
	for _, d := range scimDialects {
		t.Run(d.name, func(t *testing.T) {
			srv, s, jane, john := startSCIMWith(t, o, nil)
			hdr := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer scim-token"}
			for _, st := range d.steps(jane, john) {
				t.Run(st.name, func(t *testing.T) {
					srv.Requests()
					if st.before != nil {
						st.before(srv)
						defer srv.SetNoContent(false)
					}
					a := s.do(t, st.method, st.path, hdr, st.body)
					reqs := srv.Requests()
					if o.NoPatch {
						reqs = asPatches(t, reqs)
					}
					if a.Status != st.status {
						t.Fatalf("status %d, want %d: %s (SCIM requests %+v)", a.Status, st.status, a.Body, reqs)
					}
					for _, r := range reqs {
						if r.Header.Get("Authorization") != "Bearer scim-token" && d.name != "crafter" && d.name != "shift" {
							t.Errorf("%s %s without the client's credentials", r.Method, r.URI)
						}
						if r.Method == "PATCH" && r.Header.Get("Content-Type") != scim.MediaType {
							t.Errorf("PATCH Content-Type %q", r.Header.Get("Content-Type"))
						}
					}
					var stored gjson.Result
					switch st.user {
					case "jane":
						stored = gjson.ParseBytes(srv.User(jane))
					case "john":
						stored = gjson.ParseBytes(srv.User(john))
					}
					if st.check != nil {
						st.check(t, stored, a, reqs)
					}
				})
			}
			if d.name == "shift" && srv.Password(john) != "N3w!Passw0rd" {
				t.Errorf("shift: password %q", srv.Password(john))
			}
			if d.name == "crafter" && srv.Password(john) != "p4ss-W0rd" {
				t.Errorf("crafter: password %q", srv.Password(john))
			}
		})
	}
}

// TestSCIMUnmappedReject refuses what SCIM has no attribute for, naming it
// in the dialect's terms, and sends nothing.
func TestSCIMUnmappedReject(t *testing.T) {
	srv, s, jane, _ := startSCIM(t, func(c *config.Config) { c.Upstream.SCIM.Unmapped = config.UnmappedReject })
	srv.Requests()
	a := s.do(t, "PUT", "/v1/app/users/"+jane, map[string]string{"Content-Type": "application/json"}, `{"name":"J","isLockedOut":true}`)
	if a.Status != 400 || gjson.GetBytes(a.Body, "details").Str != "isLockedOut" {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	if reqs := srv.Requests(); len(reqs) != 0 {
		t.Errorf("sent %+v", reqs)
	}
	if got := gjson.GetBytes(srv.User(jane), "displayName").Str; got != "Jane Doe" {
		t.Errorf("displayName %q", got)
	}
	// Refused before the stored-user GET Shift's password rule needs.
	a = s.do(t, "PUT", "/v3/users/"+jane, map[string]string{"Content-Type": "application/json"}, `{"password":"N3w!Passw0rd","ssoId":"ext-1"}`)
	if a.Status != 400 || gjson.GetBytes(a.Body, "ssoId").Str == "" {
		t.Fatalf("shift: %d %s", a.Status, a.Body)
	}
	if reqs := srv.Requests(); len(reqs) != 0 {
		t.Errorf("shift: sent %+v", reqs)
	}
}

// TestSCIMReadyz shows and checks the SCIM upstream.
func TestSCIMReadyz(t *testing.T) {
	srv, s, _, _ := startSCIM(t, nil)
	a := s.do(t, "GET", "/readyz", nil, "")
	if a.Status != 200 || gjson.GetBytes(a.Body, "profile").Str != "scim" || gjson.GetBytes(a.Body, "upstream").Str != "reachable" {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	srv.Close()
	if a := s.do(t, "GET", "/readyz", nil, ""); a.Status != 503 {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
}
