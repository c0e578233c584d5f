package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
	"golang.org/x/crypto/bcrypt"

	"github.com/userbridge/userbridge/mapping/canonical"
)

// The self policy through the real server (issue 18, class 4): a caller
// allowed only as itself must not change who it is (its username, its
// e-mail, the SSO identity or directory that signs it in), what it may do
// (roles, role templates, dashboard access, groups) or whether it may sign
// in at all (active, locked, deleted, enabled). Each such update is refused
// with the dialect's 403, naming the field, and the upstream receives
// nothing; an update of its own harmless fields still goes through.

const selfPass = "SELF-PASS-zq81"

// selfUser is the htpasswd line of a caller allowed only as itself.
func selfUser(t *testing.T, name, id string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(selfPass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return name + ":" + string(h) + "::" + id + "\n"
}

// selfCase is one request by a self-only caller.
type selfCase struct {
	name string
	body string
	// Refused: the canonical field the policy refuses (the 403 names it
	// by the body member that carries it).
	field string
	// Accepted: gjson paths the forwarded update must hold, and must not.
	has, hasNot []string
}

// selfDialect is one dialect's self-only caller and what it tries.
type selfDialect struct {
	dialect    string
	path       string
	caller     string
	id, user   string // the addressed user, as the upstream answers it
	header     map[string]string
	cases      []selfCase
	upstreamOK func(w http.ResponseWriter, r *http.Request)
}

// userAnswer answers every upstream call with the canonical user, as the
// user addressed.
func userAnswer(t *testing.T, id, username string) func(w http.ResponseWriter, r *http.Request) {
	u, err := sjson.Set(canonicalUser, "id", id)
	if err == nil {
		u, err = sjson.Set(u, "username", username)
	}
	if err != nil {
		t.Fatal(err)
	}
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(u))
	}
}

// selfYAML is every dialect in verify mode with Basic callers allowed only
// as themselves; policy is added to each dialect's policy block.
func selfYAML(htpasswd, policy string) string {
	var b strings.Builder
	b.WriteString("dialects:\n")
	for _, name := range []string{"baasic", "shift", "trustedtwin", "finix", "crafter"} {
		b.WriteString("  " + name + ":\n    auth:\n      mode: verify\n      basic: {file: " + htpasswd + "}\n      policy:\n        self: true\n")
		if policy != "" {
			b.WriteString(policy)
		}
	}
	return b.String()
}

func runSelf(t *testing.T, s *started, rec *recorder, sd selfDialect) {
	t.Helper()
	d := specNamed(t, sd.dialect)
	for _, tc := range sd.cases {
		t.Run(sd.dialect+"/"+tc.name, func(t *testing.T) {
			rec.set(userAnswer(t, sd.id, sd.user))
			hdr := map[string]string{"Content-Type": "application/json", "Authorization": basicValue(sd.caller, selfPass)}
			for k, v := range sd.header {
				hdr[k] = v
			}
			a := s.do(t, d.method, sd.path, hdr, tc.body)
			reqs := rec.requests()
			if tc.field != "" {
				if a.Status != http.StatusForbidden {
					t.Fatalf("status %d, want 403: %s", a.Status, a.Body)
				}
				// Named as the dialect's clients name it: the member of
				// the body that carries the field (the last one sent).
				d.checkError(t, a, canonical.Forbidden, "a caller updating their own user may not change "+sentName(tc.body))
				if len(reqs) != 0 {
					t.Fatalf("a refused update reached the upstream: %d calls, first %s %s %s", len(reqs), reqs[0].Method, reqs[0].RawPath, reqs[0].Body)
				}
				return
			}
			if a.Status != d.success {
				t.Fatalf("status %d, want %d: %s", a.Status, d.success, a.Body)
			}
			var patch *recorded
			for i := range reqs {
				if reqs[i].Method == http.MethodPatch {
					patch = &reqs[i]
				}
				if got := reqs[i].Header.Get("X-Userbridge-Principal"); got != sd.caller {
					t.Errorf("%s: principal %q, want %q", reqs[i].Method, got, sd.caller)
				}
			}
			if patch == nil {
				t.Fatalf("no update reached the upstream: %v", reqs)
			}
			for _, p := range tc.has {
				if !gjson.GetBytes(patch.Body, p).Exists() {
					t.Errorf("the update lacks %s: %s", p, patch.Body)
				}
			}
			for _, p := range tc.hasNot {
				if gjson.GetBytes(patch.Body, p).Exists() {
					t.Errorf("the update holds %s: %s", p, patch.Body)
				}
			}
		})
	}
}

// selfDialects are, per dialect, a self-only caller's attempts to change
// who it is, what it may do or whether it may sign in (each refused), and
// its allowed updates.
func selfDialects(t *testing.T) []selfDialect {
	const otherRole = "0d9c3b0e-6f4e-4c55-9d1e-2b3a4c5d6e7f"
	return []selfDialect{
		{dialect: "baasic", path: "/v1/demo-app/users/jane.doe", caller: "jane.doe", id: janeID, user: "jane.doe", cases: []selfCase{
			{name: "rename", body: `{"userName":"root.admin"}`, field: "username"},
			{name: "e-mail", body: `{"email":"root@example.org"}`, field: "email"},
			{name: "role", body: `{"roles":["Administrators"]}`, field: "roles"},
			{name: "roles removed", body: `{"roles":[]}`, field: "roles"},
			{name: "reactivation", body: `{"isApproved":true}`, field: "active"},
			{name: "unlock", body: `{"isLockedOut":false}`, field: "locked"},
			{name: "dashboard access", body: `{"allowDashboardAccess":true}`, field: "extensions.baasic.allowDashboardAccess"},
			{name: "dashboard access, escaped name", body: `{"allowDashboard\u0041ccess":true}`, field: "extensions.baasic.allowDashboardAccess"},
			{name: "dashboard access removed", body: `{"allowDashboardAccess":null}`, field: "extensions.baasic.allowDashboardAccess"},
			{name: "own name", body: `{"name":"Jane Q. Doe","dashboardSettings":{"theme":"dark"},"roles":null,"userName":null}`,
				has: []string{"set.displayName", "set.extensions.baasic.dashboardSettings"}, hasNot: []string{"set.roles", "set.username"}},
		}},
		{dialect: "shift", path: "/v3/users/" + johnID, caller: "john.smith", id: johnID, user: "john.smith", cases: []selfCase{
			{name: "rename", body: `{"userName":"root.admin"}`, field: "username"},
			{name: "e-mail", body: `{"email":"root@example.org"}`, field: "email"},
			{name: "role template", body: `{"defaultRoleTemplateId":"rt-admin"}`, field: "extensions.shift.defaultRoleTemplateId"},
			{name: "role template removed", body: `{"defaultRoleTemplateId":null}`, field: "extensions.shift.defaultRoleTemplateId"},
			{name: "reactivation", body: `{"status":"ACTIVE"}`, field: "active"},
			{name: "lock itself", body: `{"status":"LOCKED"}`, field: "locked"},
			{name: "delete itself", body: `{"status":"DELETED"}`, field: "deleted"},
			{name: "SSO identity", body: `{"ssoId":"idp|root.admin"}`, field: "extensions.shift.ssoId"},
			{name: "SSO off", body: `{"sso":false}`, field: "extensions.shift.sso"},
			{name: "own names", body: `{"firstName":"Johnny","lastName":"","company":"Acme Ltd","phone":"+1 555 0100"}`,
				has: []string{"set.givenName", "set.organization", "set.phone"}},
		}},
		{dialect: "trustedtwin", path: "/users/" + janeID, caller: "jane.doe", id: janeID, user: "jane.doe", cases: []selfCase{
			{name: "role", body: `{"role":"` + otherRole + `"}`, field: "roles"},
			// The account is Trusted Twin's tenant: read-only, so what a
			// caller sends is dropped, never forwarded.
			{name: "tenant", body: `{"name":"Jane Doe","account":"` + otherRole + `"}`,
				has: []string{"set.displayName"}, hasNot: []string{"set.tenant", "set.extensions"}},
			{name: "own name", body: `{"name":"Jane Doe 2","description":{"team":"blue"},"activity":{"log":true}}`,
				has: []string{"set.displayName", "set.attributes", "set.extensions.trustedtwin.activity"}},
		}},
		{dialect: "finix", path: "/users/" + finixID, caller: "merchant.admin", id: finixID, user: "merchant.admin",
			header: map[string]string{"Finix-Version": "2022-02-01"}, cases: []selfCase{
				{name: "reactivation", body: `{"enabled":true}`, field: "active"},
				{name: "role", body: `{"role":"ROLE_PLATFORM"}`, field: "extensions.finix.role"},
				{name: "e-mail", body: `{"email":"root@example.org"}`, field: "extensions.finix.email"},
				// identity, the Identity the user was created under, is
				// read-only: dropped, never forwarded.
				{name: "tenant", body: `{"identity":"IDother","tags":{"department":"sales"}}`,
					has: []string{"set.attributes"}, hasNot: []string{"set.tenant", "set.extensions"}},
				{name: "own tags", body: `{"tags":{"department":"sales"}}`, has: []string{"set.attributes"}},
			}},
		{dialect: "crafter", path: "/studio/api/1/services/api/1/user/update.json", caller: "john.smith", id: johnID, user: "john.smith", cases: []selfCase{
			{name: "e-mail", body: `{"username":"john.smith","email":"root@example.com"}`, field: "email"},
			{name: "external directory", body: `{"username":"john.smith","externally_managed":"true"}`, field: "extensions.crafter.externally_managed"},
			{name: "reactivation", body: `{"username":"john.smith","enabled":true}`, field: "extensions.crafter.enabled"},
			{name: "reactivation, escaped name", body: `{"username":"john.smith","en\u0061bled":true}`, field: "extensions.crafter.enabled"},
			{name: "groups", body: `{"username":"john.smith","groups":[{"group_name":"system_admin"}]}`, field: "extensions.crafter.groups"},
			{name: "own names and password", body: `{"username":"john.smith","first_name":"Johnny","last_name":"Smith","password":"N3w-pass!x"}`,
				has: []string{"set.givenName", "set.familyName", "set.password"}},
		}},
	}
}

// TestSelfCannotChangeWhoItIs: the default protected set, every dialect.
func TestSelfCannotChangeWhoItIs(t *testing.T) {
	rec := newRecorder(t)
	htpasswd := authFile(t, "self.htpasswd", selfUser(t, "jane.doe", janeID)+selfUser(t, "john.smith", johnID)+selfUser(t, "merchant.admin", finixID))
	s := start(t, selfYAML(htpasswd, ""), rec.srv.URL, e2eConfig)
	for _, sd := range selfDialects(t) {
		runSelf(t, s, rec, sd)
	}
	// Another user is refused whatever the fields.
	d := specNamed(t, "shift")
	rec.set(okUser)
	a := s.do(t, d.method, "/v3/users/"+janeID, map[string]string{"Content-Type": "application/json", "Authorization": basicValue("john.smith", selfPass)}, `{"firstName":"J"}`)
	if a.Status != http.StatusForbidden || len(rec.requests()) != 0 {
		t.Fatalf("another user: status %d, %d upstream calls", a.Status, len(rec.requests()))
	}
	if strings.Contains(s.logs.String(), `"level":"WARN","msg":"auth: policy.self`) {
		t.Errorf("the default policy was reported as loosened: %s", s.logs.String())
	}
}

// TestSelfLoosened: an operator who allows a protected field lets a
// self-only caller change it, and is told at start what that lets callers
// do; the rest of the default stays protected.
func TestSelfLoosened(t *testing.T) {
	rec := newRecorder(t)
	htpasswd := authFile(t, "self.htpasswd", selfUser(t, "john.smith", johnID))
	s := start(t, selfYAML(htpasswd, "        selfMayChange: [email, extensions.shift.ssoId]\n"), rec.srv.URL, e2eConfig)
	runSelf(t, s, rec, selfDialect{dialect: "shift", path: "/v3/users/" + johnID, caller: "john.smith", id: johnID, user: "john.smith", cases: []selfCase{
		{name: "e-mail allowed", body: `{"email":"johnny@example.org","ssoId":"idp|johnny"}`, has: []string{"set.email", "set.extensions.shift.ssoId"}},
		{name: "rename still refused", body: `{"userName":"root.admin"}`, field: "username"},
		{name: "role template still refused", body: `{"defaultRoleTemplateId":"rt-admin"}`, field: "extensions.shift.defaultRoleTemplateId"},
	}})
	logs := s.logs.String()
	if !strings.Contains(logs, "policy.self") || !strings.Contains(logs, "email") || !strings.Contains(logs, "extensions.shift.ssoId") {
		t.Errorf("no warning names the loosened fields: %s", logs)
	}
}

// sentName is the last member of a JSON object body, decoded: the field a
// self-policy case sends (Crafter's cases send the username first).
func sentName(body string) string {
	var last string
	gjson.Parse(body).ForEach(func(k, _ gjson.Result) bool { last = k.String(); return true })
	return last
}
