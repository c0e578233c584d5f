package app_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/app"
	"github.com/userbridge/userbridge/internal/upstream/ldap/slapdtest"
)

// The directory every dialect's steps start from: the demo users as
// inetOrgPerson entries, their ids in employeeNumber (Finix's ids are no
// UUIDs), and three groups.
const (
	ldapJaneDN   = "uid=jane.doe," + slapdtest.People
	ldapJohnDN   = "uid=john.smith," + slapdtest.People
	ldapFinixDN  = "uid=merchant.admin," + slapdtest.People
	ldapUsers    = "cn=Users," + slapdtest.Groups
	ldapAdmins   = "cn=Administrators," + slapdtest.Groups
	ldapEditors  = "cn=Editors," + slapdtest.Groups
	usersRoleID  = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	ldapAuditors = "cn=Auditors," + slapdtest.Groups
	auditorsID   = "5f1d7c2e-0a4b-4c8d-9e6f-1a2b3c4d5e6f"
	placeholder  = "cn=placeholder,ou=system," + slapdtest.Suffix
	ldapSeed     = `dn: ` + ldapJaneDN + `
objectClass: inetOrgPerson
uid: jane.doe
cn: Jane Doe
sn: Doe
givenName: Jane
displayName: Jane Doe
mail: jane@example.com
employeeNumber: ` + janeID + `
employeeType: active

dn: ` + ldapJohnDN + `
objectClass: inetOrgPerson
uid: john.smith
cn: John Smith
sn: Smith
givenName: John
mail: john@example.com
o: Initech
employeeNumber: ` + johnID + `

dn: ` + ldapFinixDN + `
objectClass: inetOrgPerson
uid: merchant.admin
cn: Merchant Admin
sn: Admin
mail: admin@example.com
employeeNumber: ` + finixID + `
employeeType: active

dn: ` + ldapUsers + `
objectClass: groupOfNames
cn: Users
entryUUID: ` + usersRoleID + `
member: ` + placeholder + `
member: ` + ldapJaneDN + `

dn: ` + ldapAdmins + `
objectClass: groupOfNames
cn: Administrators
member: ` + placeholder + `

dn: ` + ldapEditors + `
objectClass: groupOfNames
cn: Editors
member: ` + placeholder + `

dn: ` + ldapAuditors + `
objectClass: groupOfUniqueNames
cn: Auditors
entryUUID: ` + auditorsID + `
uniqueMember: ` + placeholder + `
`
)

// ldapConfig points userbridge at the test directory: the service
// account, people and groups, ids in employeeNumber, active in
// employeeType, deleted in businessCategory, Trusted Twin's description
// and Finix's tags (attributes) in description, Shift's ssoId in
// carLicense.
func ldapConfig(dir *slapdtest.Server, pwFile string) func(*config.Config) {
	return func(c *config.Config) {
		e2eConfig(c)
		c.Upstream.Timeout = config.Duration(5 * time.Second)
		c.Upstream.Profile = config.ProfileLDAP
		c.Upstream.URL = dir.URL
		c.Upstream.LDAP = config.LDAP{
			BindDN: slapdtest.BindDN, BindPasswordFile: pwFile, BaseDN: slapdtest.People,
			IDAttribute: "employeeNumber",
			Active:      &config.LDAPFlag{Attribute: "employeeType", True: "active", False: "disabled"},
			Groups:      config.LDAPGroups{BaseDN: slapdtest.Groups},
			Attributes: map[string]config.AttrList{"attributes": {"description"}, "deleted": {"businessCategory"},
				"extensions.shift.ssoId": {"carLicense"}},
		}
	}
}

// startLDAP runs userbridge (profile ldap) in front of a real slapd seeded
// with ldapSeed.
func startLDAP(t *testing.T, tweak func(*config.Config)) (*slapdtest.Server, *started) {
	t.Helper()
	dir := slapdtest.Start(t, ldapSeed)
	cfg := ldapConfig(dir, slapdtest.PasswordFile(t, slapdtest.BindPW))
	s := start(t, "", "", func(c *config.Config) {
		cfg(c)
		if tweak != nil {
			tweak(c)
		}
	})
	return dir, s
}

// ldapStep is one request a dialect's client makes, and what the
// directory must hold afterwards.
type ldapStep struct {
	name         string
	method, path string
	body         string
	status       int
	check        func(t *testing.T, dir *slapdtest.Server, a answer)
}

// attr asserts the values of an entry's attribute.
func attr(t *testing.T, e *goldap.Entry, name string, want ...string) {
	t.Helper()
	if e == nil {
		t.Fatalf("no entry (want %s %q)", name, want)
	}
	got := e.GetAttributeValues(name)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("%s: %s = %q, want %q", e.DN, name, got, want)
	}
}

// member asserts whether dn is a member of the group.
func isMember(t *testing.T, dir *slapdtest.Server, group, dn string, want bool) {
	t.Helper()
	got := false
	for _, m := range dir.Members(t, group) {
		got = got || strings.EqualFold(m, dn)
	}
	if got != want {
		t.Errorf("%s member of %s: %v, want %v (members %q)", dn, group, got, want, dir.Members(t, group))
	}
}

var ldapDialects = []struct {
	name  string
	steps []ldapStep
}{
	{name: "baasic", steps: []ldapStep{
		{name: "set by username, roles as a set", method: "PUT", path: "/v1/app/users/jane.doe", status: 204,
			body: `{"email":"jane.q@example.org","name":"Jane Q. Doe","isApproved":false,"isLockedOut":true,"roles":["Administrators","Editors"]}`,
			check: func(t *testing.T, dir *slapdtest.Server, a answer) {
				e := dir.Entry(t, ldapJaneDN)
				attr(t, e, "mail", "jane.q@example.org")
				attr(t, e, "displayName", "Jane Q. Doe")
				attr(t, e, "cn", "Jane Q. Doe")
				attr(t, e, "employeeType", "disabled")
				attr(t, e, "pwdAccountLockedTime", config.LDAPLockedForever)
				isMember(t, dir, ldapAdmins, ldapJaneDN, true)
				isMember(t, dir, ldapEditors, ldapJaneDN, true)
				isMember(t, dir, ldapUsers, ldapJaneDN, false)
			}},
		{name: "a new username moves the entry and its memberships", method: "PUT", path: "/v1/app/users/jane.doe", status: 204,
			body: `{"userName":"jane.roe","isLockedOut":false}`,
			check: func(t *testing.T, dir *slapdtest.Server, a answer) {
				moved := "uid=jane.roe," + slapdtest.People
				if dir.Entry(t, ldapJaneDN) != nil {
					t.Error("the old entry is still there")
				}
				e := dir.Entry(t, moved)
				attr(t, e, "uid", "jane.roe")
				attr(t, e, "pwdAccountLockedTime")
				isMember(t, dir, ldapAdmins, moved, true)
				isMember(t, dir, ldapAdmins, ldapJaneDN, false)
				isMember(t, dir, ldapEditors, moved, true)
			}},
		{name: "another user's username is a conflict", method: "PUT", path: "/v1/app/users/jane.roe", status: 409,
			body: `{"userName":"john.smith"}`,
			check: func(t *testing.T, dir *slapdtest.Server, a answer) {
				want(t, "details", gjson.GetBytes(a.Body, "details"), "userName")
				attr(t, dir.Entry(t, ldapJohnDN), "uid", "john.smith")
			}},
		{name: "roles unset", method: "PUT", path: "/v1/app/users/jane.roe", status: 204, body: `{"roles":[]}`,
			check: func(t *testing.T, dir *slapdtest.Server, a answer) {
				isMember(t, dir, ldapAdmins, "uid=jane.roe,"+slapdtest.People, false)
				isMember(t, dir, ldapEditors, "uid=jane.roe,"+slapdtest.People, false)
			}},
		{name: "a role with no group is refused", method: "PUT", path: "/v1/app/users/jane.roe", status: 400,
			body: `{"roles":["Nobody"]}`,
			check: func(t *testing.T, dir *slapdtest.Server, a answer) {
				want(t, "details", gjson.GetBytes(a.Body, "details"), "roles")
			}},
		{name: "a field the directory cannot hold is refused by name", method: "PUT", path: "/v1/app/users/jane.roe", status: 400,
			body: `{"name":"Kept","allowDashboardAccess":true}`,
			check: func(t *testing.T, dir *slapdtest.Server, a answer) {
				want(t, "details", gjson.GetBytes(a.Body, "details"), "allowDashboardAccess")
				attr(t, dir.Entry(t, "uid=jane.roe,"+slapdtest.People), "displayName", "Jane Q. Doe")
			}},
		{name: "a group the ACL forbids: the entry's Modify was applied, and the answer says so", method: "PUT",
			path: "/v1/app/users/jane.roe", status: 403, body: `{"name":"Jane Partly","roles":["Frozen"]}`,
			check: func(t *testing.T, dir *slapdtest.Server, a answer) {
				if !strings.Contains(gjson.GetBytes(a.Body, "message").Str, "partly applied") {
					t.Errorf("message: %s", a.Body)
				}
				attr(t, dir.Entry(t, "uid=jane.roe,"+slapdtest.People), "displayName", "Jane Partly")
				isMember(t, dir, slapdtest.FrozenGroup, "uid=jane.roe,"+slapdtest.People, false)
			}},
		{name: "not found", method: "PUT", path: "/v1/app/users/nobody", status: 404, body: `{"name":"X"}`},
	}},
	{name: "shift", steps: []ldapStep{
		{name: "set by id", method: "PUT", path: "/v3/users/" + johnID, status: 204,
			body: `{"firstName":"Johnny","company":"Acme Ltd","phone":"+1 555 0199","mobile":"+1 555 0200","status":"LOCKED",` +
				`"ssoId":"ext-42","address":{"streetAddress":"1 Main St","locality":"Springfield","country":"US"}}`,
			check: func(t *testing.T, dir *slapdtest.Server, a answer) {
				e := dir.Entry(t, ldapJohnDN)
				attr(t, e, "givenName", "Johnny")
				attr(t, e, "sn", "Smith")
				attr(t, e, "o", "Acme Ltd")
				attr(t, e, "telephoneNumber", "+1 555 0199")
				attr(t, e, "mobile", "+1 555 0200")
				attr(t, e, "pwdAccountLockedTime", config.LDAPLockedForever)
				attr(t, e, "carLicense", `"ext-42"`)
				attr(t, e, "postalAddress", "1 Main St$Springfield$US")
			}},
		{name: "unset", method: "PUT", path: "/v3/users/" + johnID, status: 204, body: `{"ssoId":null,"status":"ACTIVE"}`,
			check: func(t *testing.T, dir *slapdtest.Server, a answer) {
				e := dir.Entry(t, ldapJohnDN)
				attr(t, e, "carLicense")
				attr(t, e, "pwdAccountLockedTime")
				attr(t, e, "employeeType", "active")
				attr(t, e, "businessCategory", "FALSE")
			}},
		{name: "a value the schema refuses", method: "PUT", path: "/v3/users/" + johnID, status: 400, body: `{"email":"jöhn@example.com"}`,
			check: func(t *testing.T, dir *slapdtest.Server, a answer) {
				if gjson.GetBytes(a.Body, "email").Str == "" {
					t.Errorf("not keyed by email: %s", a.Body)
				}
				attr(t, dir.Entry(t, ldapJohnDN), "mail", "john@example.com")
			}},
		{name: "an attribute the schema requires cannot be removed", method: "PUT", path: "/v3/users/" + johnID, status: 400, body: `{"lastName":""}`,
			check: func(t *testing.T, dir *slapdtest.Server, a answer) {
				if gjson.GetBytes(a.Body, "lastName").Str == "" {
					t.Errorf("not keyed by lastName: %s", a.Body)
				}
				attr(t, dir.Entry(t, ldapJohnDN), "sn", "Smith")
			}},
		{name: "no password over plain ldap://", method: "PUT", path: "/v3/users/" + johnID, status: 400, body: `{"password":"N3w!Passw0rd"}`,
			check: func(t *testing.T, dir *slapdtest.Server, a answer) {
				if gjson.GetBytes(a.Body, "password").Str == "" {
					t.Errorf("not keyed by password: %s", a.Body)
				}
				attr(t, dir.Entry(t, ldapJohnDN), "userPassword")
			}},
		{name: "not found", method: "PUT", path: "/v3/users/" + nobodyID, status: 404, body: `{"firstName":"X"}`},
	}},
	{name: "trustedtwin", steps: []ldapStep{
		{name: "set by id, answered from the entry", method: "PATCH", path: "/users/" + janeID, status: 200,
			body: `{"name":"Jane Doe 2","role":"` + usersRoleID + `","description":{"team":"blue","level":3}}`,
			check: func(t *testing.T, dir *slapdtest.Server, a answer) {
				e := dir.Entry(t, ldapJaneDN)
				attr(t, e, "displayName", "Jane Doe 2")
				attr(t, e, "description", `{"team":"blue","level":3}`)
				isMember(t, dir, ldapUsers, ldapJaneDN, true)
				want(t, "uuid", gjson.GetBytes(a.Body, "uuid"), janeID)
				want(t, "name", gjson.GetBytes(a.Body, "name"), "Jane Doe 2")
				want(t, "role", gjson.GetBytes(a.Body, "role"), usersRoleID)
				want(t, "description", gjson.GetBytes(a.Body, "description"), `{"team":"blue","level":3}`)
				if gjson.GetBytes(a.Body, "created_ts").Type != gjson.Number || gjson.GetBytes(a.Body, "updated_ts").Type != gjson.Number {
					t.Errorf("timestamps: %s", a.Body)
				}
			}},
		{name: "unset", method: "PATCH", path: "/users/" + janeID, status: 200, body: `{"description":null}`,
			check: func(t *testing.T, dir *slapdtest.Server, a answer) {
				attr(t, dir.Entry(t, ldapJaneDN), "description")
				absent(t, "description", gjson.GetBytes(a.Body, "description"))
			}},
		// Trusted Twin's error has no member for a field: the description
		// names it, as userbridge's own field errors do. It said only "the
		// directory has no attribute for this field".
		{name: "a field the directory cannot hold is refused, named in the description", method: "PATCH", path: "/users/" + janeID,
			status: 400, body: `{"name":"Kept","activity":{"step":2}}`,
			check: func(t *testing.T, dir *slapdtest.Server, a answer) {
				want(t, "subcode", gjson.GetBytes(a.Body, "subcode"), "400000")
				want(t, "description", gjson.GetBytes(a.Body, "description"), "activity: the directory has no attribute for this field")
				attr(t, dir.Entry(t, ldapJaneDN), "displayName", "Jane Doe 2")
			}},
		{name: "an ACL that forbids", method: "PATCH", path: "/users/frozen-1", status: 403, body: `{"name":"Thawed"}`,
			check: func(t *testing.T, dir *slapdtest.Server, a answer) {
				want(t, "subcode", gjson.GetBytes(a.Body, "subcode"), "403000")
				attr(t, dir.Entry(t, slapdtest.Frozen), "cn", "Frozen User")
			}},
		{name: "not found", method: "PATCH", path: "/users/" + nobodyID, status: 404, body: `{"name":"Xy"}`,
			check: func(t *testing.T, _ *slapdtest.Server, a answer) {
				want(t, "subcode", gjson.GetBytes(a.Body, "subcode"), "404000")
			}},
	}},
	{name: "finix", steps: []ldapStep{
		{name: "set by id", method: "PUT", path: "/users/" + finixID, status: 200,
			body: `{"enabled":false,"tags":{"order_number":"25","department":"sales"}}`,
			check: func(t *testing.T, dir *slapdtest.Server, a answer) {
				e := dir.Entry(t, ldapFinixDN)
				attr(t, e, "employeeType", "disabled")
				attr(t, e, "description", `{"order_number":"25","department":"sales"}`)
				want(t, "answer id", gjson.GetBytes(a.Body, "id"), finixID)
				want(t, "answer enabled", gjson.GetBytes(a.Body, "enabled"), "false")
				want(t, "answer email", gjson.GetBytes(a.Body, "email"), "admin@example.com")
				want(t, "answer tags", gjson.GetBytes(a.Body, "tags"), `{"order_number":"25","department":"sales"}`)
			}},
		{name: "unset", method: "PUT", path: "/users/" + finixID, status: 200, body: `{"tags":null,"enabled":true}`,
			check: func(t *testing.T, dir *slapdtest.Server, a answer) {
				e := dir.Entry(t, ldapFinixDN)
				attr(t, e, "description")
				attr(t, e, "employeeType", "active")
				want(t, "answer tags", gjson.GetBytes(a.Body, "tags"), `{}`)
			}},
		{name: "not found", method: "PUT", path: "/users/" + nobodyID, status: 404, body: `{"enabled":true}`,
			check: func(t *testing.T, _ *slapdtest.Server, a answer) {
				want(t, "code", gjson.GetBytes(a.Body, "_embedded.errors.0.code"), "NOT_FOUND")
			}},
	}},
	{name: "crafter", steps: []ldapStep{
		{name: "set by username", method: "POST", path: "/studio/api/1/services/api/1/user/update.json", status: 200,
			body: `{"username":"john.smith","first_name":"Johnny","last_name":"Smythe","email":"johnny@example.com"}`,
			check: func(t *testing.T, dir *slapdtest.Server, a answer) {
				e := dir.Entry(t, ldapJohnDN)
				attr(t, e, "givenName", "Johnny")
				attr(t, e, "sn", "Smythe")
				attr(t, e, "mail", "johnny@example.com")
				want(t, "message", gjson.GetBytes(a.Body, "message"), "OK")
			}},
		{name: "an extension the directory has no attribute for", method: "POST", path: "/studio/api/1/services/api/1/user/update.json", status: 400,
			body: `{"username":"john.smith","first_name":"Jo","externally_managed":"false"}`,
			check: func(t *testing.T, dir *slapdtest.Server, a answer) {
				if !strings.Contains(string(a.Body), "externally_managed") {
					t.Errorf("not named: %s", a.Body)
				}
				attr(t, dir.Entry(t, ldapJohnDN), "givenName", "Johnny")
			}},
		{name: "not found", method: "POST", path: "/studio/api/1/services/api/1/user/update.json", status: 404,
			body: `{"username":"nobody","first_name":"X"}`,
			check: func(t *testing.T, _ *slapdtest.Server, a answer) {
				want(t, "message", gjson.GetBytes(a.Body, "message"), "User not found")
			}},
	}},
}

// TestLDAPEndToEnd runs every dialect through the real server in front of
// a real slapd, and checks with a search what each request did to the
// directory.
func TestLDAPEndToEnd(t *testing.T) {
	for _, d := range ldapDialects {
		t.Run(d.name, func(t *testing.T) {
			dir, s := startLDAP(t, nil)
			hdr := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer x"}
			for _, st := range d.steps {
				t.Run(st.name, func(t *testing.T) {
					a := s.do(t, st.method, st.path, hdr, st.body)
					if a.Status != st.status {
						t.Fatalf("status %d, want %d: %s", a.Status, st.status, a.Body)
					}
					if st.check != nil {
						st.check(t, dir, a)
					}
				})
			}
		})
	}
}

// TestLDAPStartup: start-up fails on a directory that cannot serve, in one
// line naming the key at fault, and never shows the password.
func TestLDAPStartup(t *testing.T) {
	dir := slapdtest.Start(t, ldapSeed)
	good, wrong := slapdtest.PasswordFile(t, slapdtest.BindPW), slapdtest.PasswordFile(t, "not-the-password")
	for _, c := range []struct {
		name  string
		tweak func(*config.Config)
		want  string
	}{
		{"unreachable", func(c *config.Config) { c.Upstream.URL = "ldap://127.0.0.1:1" }, "upstream.url: the directory at 127.0.0.1:1 is unreachable"},
		{"bind fails", func(c *config.Config) { c.Upstream.LDAP.BindPasswordFile = wrong },
			"upstream.ldap.bindDN: the directory refused the bind as " + slapdtest.BindDN + ": invalid credentials"},
		{"no base DN", func(c *config.Config) { c.Upstream.LDAP.BaseDN = "ou=nobody," + slapdtest.Suffix },
			"upstream.ldap.baseDN: ou=nobody," + slapdtest.Suffix + " does not exist in the directory"},
		{"no groups base DN", func(c *config.Config) { c.Upstream.LDAP.Groups.BaseDN = "ou=nogroups," + slapdtest.Suffix },
			"upstream.ldap.groups.baseDN: ou=nogroups," + slapdtest.Suffix + " does not exist in the directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := config.Parse(config.Source{Name: "test"}, config.DefaultYAML())
			if err != nil {
				t.Fatal(err)
			}
			cfg.Listen = "127.0.0.1:0"
			ldapConfig(dir, good)(cfg)
			c.tweak(cfg)
			_, err = app.New(cfg, config.Source{Name: "test"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("start-up: %v\nwant one line with %q", err, c.want)
			}
			if strings.Contains(err.Error(), "not-the-password") {
				t.Errorf("the password is shown: %v", err)
			}
		})
	}
	// Neither base DN there: both are said at once, a line each, as
	// validate lists every problem in one run.
	cfg, err := config.Parse(config.Source{Name: "test"}, config.DefaultYAML())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = "127.0.0.1:0"
	ldapConfig(dir, good)(cfg)
	cfg.Upstream.LDAP.BaseDN, cfg.Upstream.LDAP.Groups.BaseDN = "ou=nobody,"+slapdtest.Suffix, "ou=nogroups,"+slapdtest.Suffix
	_, err = app.New(cfg, config.Source{Name: "test"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || strings.Count(err.Error(), "\n") != 1 || !strings.Contains(err.Error(), "upstream.ldap.baseDN: ou=nobody,") ||
		!strings.Contains(err.Error(), "upstream.ldap.groups.baseDN: ou=nogroups,") {
		t.Errorf("neither base DN: %v\nwant both, a line each", err)
	}
}

// TestLDAPPassword: with allowPlainPassword a password is written to
// userPassword as given, and the user can bind with it.
func TestLDAPPassword(t *testing.T) {
	dir, s := startLDAP(t, func(c *config.Config) { c.Upstream.LDAP.AllowPlainPassword = true })
	a := s.do(t, "PUT", "/v3/users/"+johnID, map[string]string{"Content-Type": "application/json"}, `{"password":"N3w!Passw0rd"}`)
	if a.Status != 204 {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	c, err := goldap.DialURL(dir.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind(ldapJohnDN, "N3w!Passw0rd"); err != nil {
		t.Errorf("bind with the new password: %v", err)
	}
}

// TestLDAPFilterEscaped: a username is a value, never filter syntax
// (RFC 4515): one that would match every entry matches none.
func TestLDAPFilterEscaped(t *testing.T) {
	dir, s := startLDAP(t, nil)
	path := "/studio/api/1/services/api/1/user/update.json"
	for _, name := range []string{"*", "john*", "x)(uid=*", "*)(|(uid=*"} {
		body := `{"username":` + strconvQuote(name) + `,"first_name":"Injected"}`
		if a := s.do(t, "POST", path, map[string]string{"Content-Type": "application/json"}, body); a.Status != 404 {
			t.Errorf("%q: %d %s", name, a.Status, a.Body)
		}
	}
	attr(t, dir.Entry(t, ldapJohnDN), "givenName", "John")
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// loadExample reads an example configuration as `serve --config` would.
func loadExample(t *testing.T, name string) *config.Config {
	t.Helper()
	file := "../../examples/upstreams/" + name
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(config.Source{Name: file, Dir: "../../examples/upstreams"}, data)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = "127.0.0.1:0"
	return cfg
}

// TestLDAPOpenLDAPExample runs examples/upstreams/openldap.yaml as written
// (ids in entryUUID, StartTLS, the password from the environment) against
// the test directory, and over ldaps://: a password is sent over TLS, and
// a lock is ppolicy's, which is active too: a Finix client reads enabled
// from it and disables a user with it (every user read enabled: false),
// and an update asking the one attribute for two values is refused.
func TestLDAPOpenLDAPExample(t *testing.T) {
	dir := slapdtest.Start(t, ldapSeed)
	t.Setenv("LDAP_BIND_PASSWORD", slapdtest.BindPW)
	uuid := dir.Entry(t, ldapJohnDN).GetAttributeValue("entryUUID")
	for _, tls := range []string{"starttls", "ldaps"} {
		t.Run(tls, func(t *testing.T) {
			cfg := loadExample(t, "openldap.yaml")
			cfg.Upstream.URL, cfg.Upstream.TLS.CAFile = dir.URL, dir.CAFile
			if tls == "ldaps" {
				cfg.Upstream.URL, cfg.Upstream.LDAP.StartTLS = dir.LDAPSURL, false
			}
			a, err := app.New(cfg, config.Source{Name: "openldap.yaml"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			s := launch(t, a, cfg.Listen, nil)
			hdr := map[string]string{"Content-Type": "application/json"}
			pw := "Tls!" + tls + "-0k"
			if r := s.do(t, "PUT", "/v3/users/"+uuid, hdr, `{"firstName":"Over `+tls+`","password":"`+pw+`"}`); r.Status != 204 {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			attr(t, dir.Entry(t, ldapJohnDN), "givenName", "Over "+tls)
			// Trusted Twin sends a UUID in lower case whatever the client wrote
			upper := strings.ToUpper(uuid)
			if r := s.do(t, "PATCH", "/users/"+upper, hdr, `{"name":"John `+tls+`"}`); r.Status != 200 || gjson.GetBytes(r.Body, "uuid").Str != uuid {
				t.Errorf("by an upper-case entryUUID: %d %s", r.Status, r.Body)
			}
			attr(t, dir.Entry(t, ldapJohnDN), "displayName", "John "+tls)
			c, err := goldap.DialURL(dir.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Bind(ldapJohnDN, pw); err != nil {
				t.Errorf("bind with the new password: %v", err)
			}
			if r := s.do(t, "PUT", "/v3/users/"+uuid, hdr, `{"status":"LOCKED"}`); r.Status != 204 {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			attr(t, dir.Entry(t, ldapJohnDN), "pwdAccountLockedTime", config.LDAPLockedForever)
			if err := c.Bind(ldapJohnDN, pw); err == nil {
				t.Error("a locked account can still bind")
			}
			r := s.do(t, "PUT", "/v3/users/"+uuid, hdr, `{"status":"ACTIVE"}`)
			if r.Status != 400 || gjson.GetBytes(r.Body, "status").Str == "" {
				t.Errorf("ACTIVE (deleted has no attribute in the example): %d %s", r.Status, r.Body)
			}
			attr(t, dir.Entry(t, ldapJohnDN), "pwdAccountLockedTime", config.LDAPLockedForever)
			// Finix's enabled is the lock: a user never locked is enabled.
			jane := dir.Entry(t, ldapJaneDN).GetAttributeValue("entryUUID")
			if r := s.do(t, "PUT", "/users/"+jane, hdr, `{}`); r.Status != 200 || gjson.GetBytes(r.Body, "enabled").Raw != "true" {
				t.Errorf("a user never locked: %d %s", r.Status, r.Body)
			}
			if r := s.do(t, "PUT", "/users/"+uuid, hdr, `{"enabled":true}`); r.Status != 200 || gjson.GetBytes(r.Body, "enabled").Raw != "true" {
				t.Fatalf("enabled true: %d %s", r.Status, r.Body)
			}
			attr(t, dir.Entry(t, ldapJohnDN), "pwdAccountLockedTime")
			if err := c.Bind(ldapJohnDN, pw); err != nil {
				t.Errorf("enabled again, the user cannot bind: %v", err)
			}
			// Not approved, not locked out: the directory cannot hold both.
			r = s.do(t, "PUT", "/v1/app/users/john.smith", hdr, `{"isApproved":false,"isLockedOut":false}`)
			if d := gjson.GetBytes(r.Body, "details").Str; r.Status != 400 || (d != "isApproved" && d != "isLockedOut") ||
				!strings.HasPrefix(gjson.GetBytes(r.Body, "message").Str, d+": ") {
				t.Errorf("isApproved false, isLockedOut false: %d %s", r.Status, r.Body)
			}
			// in the client's terms: no configuration key, no attribute
			if m := gjson.GetBytes(r.Body, "message").Str; strings.Contains(m, "upstream.") || strings.Contains(m, "pwdAccountLockedTime") {
				t.Errorf("the refusal shows the client the configuration: %q", m)
			}
			attr(t, dir.Entry(t, ldapJohnDN), "pwdAccountLockedTime")
			if r := s.do(t, "PUT", "/v1/app/users/john.smith", hdr, `{"isApproved":false,"isLockedOut":true}`); r.Status != 204 {
				t.Errorf("isApproved false, isLockedOut true: %d %s", r.Status, r.Body)
			}
			attr(t, dir.Entry(t, ldapJohnDN), "pwdAccountLockedTime", config.LDAPLockedForever)
			if r := s.do(t, "PUT", "/users/"+uuid, hdr, `{"enabled":true}`); r.Status != 200 {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			if r := s.do(t, "PUT", "/users/"+uuid, hdr, `{"enabled":false}`); r.Status != 200 || gjson.GetBytes(r.Body, "enabled").Raw != "false" {
				t.Errorf("enabled false: %d %s", r.Status, r.Body)
			}
			attr(t, dir.Entry(t, ldapJohnDN), "pwdAccountLockedTime", config.LDAPLockedForever)
			if err := c.Bind(ldapJohnDN, pw); err == nil {
				t.Error("a disabled user can still bind")
			}
		})
	}
}

// TestLDAPActiveDirectoryExample: the Active Directory example is a valid
// configuration (its directory is not started: the tests run OpenLDAP).
func TestLDAPActiveDirectoryExample(t *testing.T) {
	cfg := loadExample(t, "active-directory.yaml")
	cfg.Upstream.LDAP.BindPasswordFile = slapdtest.PasswordFile(t, "x")
	cfg.Upstream.TLS.CAFile = slapdtest.Start(t, "").CAFile
	if _, err := app.Resolve(cfg, config.Source{Name: "active-directory.yaml"}); err != nil {
		t.Fatal(err)
	}
}

// TestLDAPUniqueMember: groups of groupOfUniqueNames, membership in
// uniqueMember, a role named by its id (entryUUID).
func TestLDAPUniqueMember(t *testing.T) {
	dir, s := startLDAP(t, func(c *config.Config) {
		c.Upstream.LDAP.Groups.Filter = "(objectClass=groupOfUniqueNames)"
		c.Upstream.LDAP.Groups.MemberAttribute = "uniqueMember"
	})
	hdr := map[string]string{"Content-Type": "application/json"}
	a := s.do(t, "PATCH", "/users/"+janeID, hdr, `{"role":"`+auditorsID+`"}`)
	if a.Status != 200 || gjson.GetBytes(a.Body, "role").Str != auditorsID {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	attr(t, dir.Entry(t, ldapAuditors), "uniqueMember", placeholder, ldapJaneDN)
	// a groupOfNames is no group here: Users is not a role to add, nor one to remove
	if a := s.do(t, "PATCH", "/users/"+janeID, hdr, `{"role":"`+usersRoleID+`"}`); a.Status != 400 {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	isMember(t, dir, ldapUsers, ldapJaneDN, true)
}

// TestLDAPRefusedBeforeAnyCall: an update the directory cannot take (a
// password over plain ldap://) is refused before any call, not after the
// stored-user search Shift's password rule needs: no upstream call is
// counted, of either method.
func TestLDAPRefusedBeforeAnyCall(t *testing.T) {
	_, s := startLDAP(t, nil)
	a := s.do(t, "PUT", "/v3/users/"+johnID, map[string]string{"Content-Type": "application/json"}, `{"password":"N3w!Passw0rd"}`)
	if a.Status != 400 || gjson.GetBytes(a.Body, "password").Str == "" {
		t.Fatalf("want the 400 keyed by password: %d %s", a.Status, a.Body)
	}
	ss := scrape(t, s.base)
	for _, m := range []string{"GET", "PATCH"} {
		if v, ok := value(ss, "userbridge_upstream_attempts_total", map[string]string{"dialect": "shift", "method": m}); ok && v != 0 {
			t.Errorf("%v %s call(s) reached the directory", v, m)
		}
	}
}

// TestLDAPRefusedNotCounted: an update the profile refuses in Patch itself,
// before anything is sent (Finix's first_name, an extension with no
// attribute: Finix's rules read no stored user, so the handler's own check
// does not run first), is no upstream call. It was counted in
// userbridge_upstream_calls_total as a PATCH with no answer (status
// "none", what an unreachable directory shows), so a client's refused field
// looked like the directory failing. An update applied first is counted,
// once: the series the refusal must not add to is there, so the check
// cannot pass by a metric renamed.
func TestLDAPRefusedNotCounted(t *testing.T) {
	_, s := startLDAP(t, nil)
	hdr := map[string]string{"Content-Type": "application/json"}
	if a := s.do(t, "PUT", "/users/"+finixID, hdr, `{"tags":{"department":"sales"}}`); a.Status != 200 {
		t.Fatalf("the update applied first: %d %s", a.Status, a.Body)
	}
	a := s.do(t, "PUT", "/users/"+finixID, hdr, `{"first_name":"Merchant"}`)
	if a.Status != 422 || gjson.GetBytes(a.Body, "_embedded.errors.0.field").Str != "first_name" {
		t.Fatalf("want the 422 naming first_name: %d %s", a.Status, a.Body)
	}
	ss := scrape(t, s.base)
	wantValue(t, ss, "userbridge_upstream_calls_total", map[string]string{"dialect": "finix", "method": "PATCH", "status": "200"}, 1)
	wantValue(t, ss, "userbridge_requests_total", map[string]string{"dialect": "finix", "status": "422"}, 1)
	if v, ok := value(ss, "userbridge_upstream_calls_total", map[string]string{"dialect": "finix", "method": "PATCH", "status": "none"}); ok {
		t.Errorf("%v PATCH call(s) with no answer counted; none was made", v)
	}
	total := 0.0
	for _, x := range ss {
		if x.name == "userbridge_upstream_calls_total" && x.labels["dialect"] == "finix" && x.labels["method"] == "PATCH" {
			total += x.value
		}
	}
	if total != 1 {
		t.Errorf("%v PATCH calls counted, of any status; one was made", total)
	}
}

// TestLDAPFinixNoActive: a directory with no attribute for active
// (upstream.ldap.active unset) answers a Finix client without enabled: the
// user's state is not known, and is not made up. Finix's rules answered
// enabled: false for every user, so a client took them all for disabled.
func TestLDAPFinixNoActive(t *testing.T) {
	_, s := startLDAP(t, func(c *config.Config) { c.Upstream.LDAP.Active = nil })
	a := s.do(t, "PUT", "/users/"+finixID, map[string]string{"Content-Type": "application/json"}, `{"tags":{"department":"sales"}}`)
	if a.Status != 200 {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	want(t, "tags", gjson.GetBytes(a.Body, "tags"), `{"department":"sales"}`)
	absent(t, "enabled", gjson.GetBytes(a.Body, "enabled"))
}

// TestLDAPRenameCaseOnly: a new username that differs from the old one in
// case only (uid matches without regard to case, so the directory holds
// the member values of both DNs as one) moves the entry and keeps every
// membership, the groups where the user is the only member included. Each
// group was given the new DN (already there, by the directory's matching),
// then had the old one deleted, which deleted the user: answered 204 with
// the user in no group, or refused "partly applied" where the user was the
// group's only member.
func TestLDAPRenameCaseOnly(t *testing.T) {
	dir, s := startLDAP(t, nil)
	solo := "cn=Solo," + slapdtest.Groups
	add := goldap.NewAddRequest(solo, nil)
	add.Attribute("objectClass", []string{"groupOfNames"})
	add.Attribute("cn", []string{"Solo"})
	add.Attribute("member", []string{ldapJaneDN})
	if err := dir.Admin(t).Add(add); err != nil {
		t.Fatal(err)
	}
	a := s.do(t, "PUT", "/v1/app/users/jane.doe", map[string]string{"Content-Type": "application/json"}, `{"userName":"Jane.Doe"}`)
	if a.Status != 204 {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	moved := "uid=Jane.Doe," + slapdtest.People
	attr(t, dir.Entry(t, moved), "uid", "Jane.Doe")
	for _, g := range []string{ldapUsers, solo} {
		members := dir.Members(t, g)
		found := false
		for _, m := range members {
			found = found || m == moved
		}
		if !found {
			t.Errorf("%s: members %q, want %s", g, members, moved)
		}
	}
}
