package auth

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/mapping/canonical"
)

func policyAuth(t *testing.T, p config.Policy) *Authenticator {
	t.Helper()
	file := writeFile(t, "keys", "k:"+sha256Hex("key")+"\n")
	c := config.Auth{Mode: config.ModeVerify, APIKeys: &config.APIKeys{File: file, Header: "x-key"}, Policy: p}
	if len(p.Scopes) > 0 {
		c.JWT = &config.JWT{JWKSURL: "http://127.0.0.1:1/jwks", Issuer: "i", Audience: []string{"a"}}
	}
	return newAuth(t, c, Options{})
}

func TestPolicy(t *testing.T) {
	alice := &Principal{Subject: "u-1", Username: "alice", ID: "u-1", Roles: []string{"author"}, Scopes: []string{"users:write", "profile"}}
	admin := &Principal{Subject: "root", Username: "root", ID: "u-0", Roles: []string{"author", "admin"}}
	noID := &Principal{Subject: "bob", Username: "bob"}
	const (
		names = `{"set":{"givenName":"A","displayName":"A B","password":"p"},"unset":["phone"]}`
		roles = `{"set":{"givenName":"A","roles":[{"name":"admin"}]}}`
		unset = `{"set":{},"unset":["locked"]}`
		ext   = `{"set":{"extensions":{"crafter":{"theme":"dark"},"trustedtwin":{"activity":{}}}}}`
	)
	crafter := config.Policy{Roles: []string{"admin"}, Self: true} // "Admin, self"
	denied := &canonical.Error{}                                   // Forbidden, naming the field
	for _, tc := range []struct {
		name   string
		policy config.Policy
		p      *Principal
		target canonical.Target
		value  string
		update string
		want   *canonical.Error // nil: allowed
	}{
		{"empty policy", config.Policy{}, alice, canonical.ByID, "u-9", roles, nil},
		{"role held", config.Policy{Roles: []string{"admin", "author"}}, alice, canonical.ByID, "u-9", roles, nil},
		{"role missing", config.Policy{Roles: []string{"admin"}}, alice, canonical.ByID, "u-9", names, errRole},
		{"roles compare exactly", config.Policy{Roles: []string{"Author"}}, alice, canonical.ByID, "u-9", names, errRole},
		{"scopes all held", config.Policy{Scopes: []string{"profile", "users:write"}}, alice, canonical.ByID, "u-9", names, nil},
		{"one scope missing", config.Policy{Scopes: []string{"users:write", "users:admin"}}, alice, canonical.ByID, "u-9", names, errScope},
		{"scopes bind a role holder too", config.Policy{Roles: []string{"admin"}, Scopes: []string{"users:write"}}, admin, canonical.ByID, "u-9", names, errScope},
		{"self by username", config.Policy{Self: true}, alice, canonical.ByUsername, "alice", names, nil},
		{"self by id", config.Policy{Self: true}, alice, canonical.ByID, "u-1", names, nil},
		{"another user by username", config.Policy{Self: true}, alice, canonical.ByUsername, "bob", names, errNotSelf},
		{"another user by id", config.Policy{Self: true}, alice, canonical.ByID, "u-2", names, errNotSelf},
		{"id given where a username is expected", config.Policy{Self: true}, alice, canonical.ByUsername, "u-1", names, errNotSelf},
		{"username given where an id is expected", config.Policy{Self: true}, alice, canonical.ByID, "alice", names, errNotSelf},
		{"case differs", config.Policy{Self: true}, alice, canonical.ByUsername, "Alice", names, errNotSelf},
		{"empty value", config.Policy{Self: true}, noID, canonical.ByID, "", names, errNotSelf},
		{"self cannot grant roles", config.Policy{Self: true}, alice, canonical.ByID, "u-1", roles, denied},
		{"self cannot unset locked", config.Policy{Self: true}, alice, canonical.ByUsername, "alice", unset, denied},
		{"Crafter: admin updates anyone", crafter, admin, canonical.ByUsername, "alice", roles, nil},
		{"Crafter: a user updates themselves", crafter, alice, canonical.ByUsername, "alice", names, nil},
		{"Crafter: a user cannot update another", crafter, alice, canonical.ByUsername, "root", names, errNotSelf},
		{"Crafter: a user cannot make themselves admin", crafter, alice, canonical.ByUsername, "alice", roles, denied},
		{"extensions allowed by default", config.Policy{Self: true}, alice, canonical.ByID, "u-1", ext, nil},
		{"one dialect's extensions denied", config.Policy{Self: true, SelfCannotChange: []string{"extensions.crafter"}}, alice, canonical.ByID, "u-1", ext, denied},
		{"self cannot rename", config.Policy{Self: true}, alice, canonical.ByUsername, "alice", `{"set":{"username":"root"}}`, denied},
		{"self cannot rename even to itself", config.Policy{Self: true}, alice, canonical.ByUsername, "alice", `{"set":{"username":"alice"}}`, denied},
		{"self cannot remove its username", config.Policy{Self: true}, alice, canonical.ByID, "u-1", `{"unset":["username"]}`, denied},
		{"self cannot change its e-mail", config.Policy{Self: true}, alice, canonical.ByID, "u-1", `{"set":{"email":"root@example.com"}}`, denied},
		{"selfMayChange allows e-mail", config.Policy{Self: true, SelfMayChange: []string{"email"}}, alice, canonical.ByID, "u-1", `{"set":{"email":"a@example.com"}}`, nil},
		{"selfMayChange leaves the rest", config.Policy{Self: true, SelfMayChange: []string{"email"}}, alice, canonical.ByID, "u-1", `{"set":{"email":"a@example.com","username":"root"}}`, denied},
		{"a role holder is not bound", config.Policy{Roles: []string{"admin"}, Self: true}, admin, canonical.ByID, "u-1", `{"set":{"username":"x","roles":[]}}`, nil},
		{"explicit empty list allows roles", config.Policy{Self: true, SelfCannotChange: []string{}}, alice, canonical.ByID, "u-1", roles, nil},
		{"unparsable update refused", config.Policy{Self: true}, alice, canonical.ByID, "u-1", `{"set":`, errBadWrite},
		{"empty update allowed", config.Policy{Self: true}, alice, canonical.ByID, "u-1", ``, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := policyAuth(t, tc.policy)
			got := a.Authorize(tc.p, tc.target, tc.value, []byte(tc.update))
			if tc.want == denied {
				if got == nil || got.Code != canonical.Forbidden || got.HTTPStatus() != 403 || !strings.Contains(got.Message, "may not change") {
					t.Fatalf("got %v, want forbidden naming the field", got)
				}
				return
			}
			if got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			if got != nil && got.HTTPStatus() != 403 {
				t.Errorf("status %d", got.HTTPStatus())
			}
		})
	}
}

func TestDeniedField(t *testing.T) {
	for _, tc := range []struct {
		update string
		deny   []string
		want   string
	}{
		{`{"set":{"roles":[]}}`, config.DefaultSelfCannotChange(), "roles"},
		{`{"set":{"givenName":"x"},"unset":["deleted"]}`, config.DefaultSelfCannotChange(), "deleted"},
		{`{"set":{"givenName":"x","password":"p"}}`, config.DefaultSelfCannotChange(), ""},
		{`{"set":{"extensions":{"shift":{"ssoId":"x"}}}}`, []string{"extensions"}, "extensions.shift.ssoId"},
		{`{"set":{"extensions":{"shift":{"ssoId":"x"}}}}`, []string{"extensions.crafter"}, ""},
		{`{"set":{"extensions":{"shift":{"ssoId":"x"}}}}`, []string{"extensions.shift.ssoId"}, "extensions.shift.ssoId"},
		{`{"unset":["extensions.crafter.externally_managed"]}`, []string{"extensions.crafter"}, "extensions.crafter.externally_managed"},
		{`{"set":{"extensions":{}}}`, []string{"extensions"}, ""},
		{`{"unset":["extensions"]}`, []string{"extensions.crafter"}, "extensions"},
	} {
		if got := deniedField([]byte(tc.update), tc.deny); got != tc.want {
			t.Errorf("deniedField(%s, %v) = %q, want %q", tc.update, tc.deny, got, tc.want)
		}
	}
}

func TestPassthroughAllowsAll(t *testing.T) {
	a := newAuth(t, config.Auth{}, Options{})
	p, e := a.Authenticate(request())
	if p != nil || e != nil {
		t.Fatalf("Authenticate = %v, %v", p, e)
	}
	if e := a.Authorize(nil, canonical.ByID, "anyone", []byte(`{"set":{"roles":[]}}`)); e != nil {
		t.Fatal(e)
	}
	var none *Authenticator
	if p, e := none.Authenticate(request()); p != nil || e != nil || none.Authorize(nil, canonical.ByID, "x", nil) != nil || none.Verifies() {
		t.Fatal("a nil Authenticator is not passthrough")
	}
	none.Close()
}

func TestVerifyWithoutPrincipal(t *testing.T) {
	a := policyAuth(t, config.Policy{})
	if e := a.Authorize(nil, canonical.ByID, "x", nil); e != errMissing {
		t.Fatalf("got %v, want %v", e, errMissing)
	}
}

// TestDefaultSelfCannotChange: every identity, privilege, status and tenant
// field of every dialect, by the canonical path its rules write, is refused
// to a caller allowed only by self, whether set or unset.
func TestDefaultSelfCannotChange(t *testing.T) {
	a := policyAuth(t, config.Policy{Self: true})
	alice := &Principal{Subject: "alice", Username: "alice", ID: "u-1"}
	for _, tc := range []struct{ field, set string }{
		{"username", `"root"`},                               // Baasic, Shift userName
		{"email", `"root@example.com"`},                      // every dialect's e-mail
		{"roles", `[{"name":"Administrators"}]`},             // Baasic roles, Trusted Twin role
		{"active", `true`},                                   // Baasic isApproved, Finix enabled, Shift status
		{"locked", `false`},                                  // Baasic isLockedOut, Shift status
		{"deleted", `false`},                                 // Shift status
		{"extensions.shift.sso", `false`},                    // Shift sso
		{"extensions.shift.ssoId", `"idp|root"`},             // Shift ssoId
		{"extensions.shift.defaultRoleTemplateId", `"rt-1"`}, // Shift defaultRoleTemplateId
		{"extensions.baasic.allowDashboardAccess", `true`},   // Baasic allowDashboardAccess
		{"extensions.crafter.externally_managed", `"false"`}, // Crafter externally_managed
		{"extensions.crafter.enabled", `true`},               // Crafter enabled
		{"extensions.crafter.groups", `["system_admin"]`},    // Crafter groups
		{"extensions.finix.role", `"ROLE_ADMIN"`},            // Finix role
		{"extensions.finix.email", `"root@example.com"`},     // Finix email
		{"tenant", `"other"`},                                // read-only; never written by a rule
		{"id", `"u-0"`},                                      // read-only; never written by a rule
	} {
		set := `{"set":{"` + tc.field + `":` + tc.set + `}}`
		if d, rest, ok := strings.Cut(strings.TrimPrefix(tc.field, "extensions."), "."); ok && strings.HasPrefix(tc.field, "extensions.") {
			set = `{"set":{"extensions":{"` + d + `":{"` + rest + `":` + tc.set + `}}}}`
		}
		for _, update := range []string{set, `{"unset":["` + tc.field + `"]}`} {
			e := a.Authorize(alice, canonical.ByID, "u-1", []byte(update))
			if e == nil || e.Code != canonical.Forbidden || e.Message != "a caller updating their own user may not change "+tc.field {
				t.Errorf("%s: got %v, want forbidden naming %s", update, e, tc.field)
			}
		}
	}
	// What is left is the caller's own to change.
	own := `{"set":{"password":"p","givenName":"A","familyName":"B","displayName":"A B","phone":"1","mobile":"2",` +
		`"organization":"Acme","address":{"city":"X"},"attributes":{"team":"blue"},` +
		`"extensions":{"baasic":{"dashboardSettings":{}},"trustedtwin":{"activity":{}},"crafter":{"theme":"dark"}}}}`
	if e := a.Authorize(alice, canonical.ByID, "u-1", []byte(own)); e != nil {
		t.Errorf("the caller's own fields: %v", e)
	}
	if f := a.policy.loosened(); f != nil {
		t.Errorf("the default reports loosened fields %v", f)
	}
}

// TestSelfLoosened: which protected fields a policy lets a self-only caller
// change, as New logs them.
func TestSelfLoosened(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    config.Policy
		want []string
	}{
		{"default", config.Policy{Self: true}, nil},
		{"no self", config.Policy{Roles: []string{"admin"}}, nil},
		{"selfMayChange", config.Policy{Self: true, SelfMayChange: []string{"email", "extensions.shift.ssoId"}}, []string{"email", "extensions.shift.ssoId"}},
		{"a dialect's extensions cover its members", config.Policy{Self: true, SelfCannotChange: append([]string{"extensions"},
			"id", "username", "email", "roles", "active", "locked", "deleted", "tenant")}, nil},
		{"the old default", config.Policy{Self: true, SelfCannotChange: []string{"roles", "active", "locked", "deleted"}}, []string{
			"id", "username", "email", "extensions.shift.sso", "extensions.shift.ssoId", "extensions.crafter.externally_managed",
			"extensions.finix.email", "extensions.shift.defaultRoleTemplateId", "extensions.baasic.allowDashboardAccess",
			"extensions.finix.role", "extensions.crafter.groups", "extensions.crafter.enabled", "tenant"}},
	} {
		p := compilePolicy(&tc.p)
		if got := p.loosened(); strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: loosened %v, want %v", tc.name, got, tc.want)
		}
	}
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	file := writeFile(t, "keys", "k:"+sha256Hex("key")+"\n")
	c := config.Auth{Mode: config.ModeVerify, APIKeys: &config.APIKeys{File: file, Header: "x-key"},
		Policy: config.Policy{Self: true, SelfMayChange: []string{"username"}}}
	newAuth(t, c, Options{Logger: log, Dialect: Dialect{Name: "shift"}})
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "fields=[username]") || !strings.Contains(logs.String(), "dialect=shift") {
		t.Errorf("no warning: %s", logs.String())
	}
}
