package auth

import (
	"strings"
	"testing"

	"github.com/userbridge/userbridge/mapping/canonical"
)

func policyAuth(t *testing.T, p Policy) *Authenticator {
	t.Helper()
	file := writeFile(t, "keys", "k:"+sha256Hex("key")+"\n")
	c := Config{Mode: ModeVerify, APIKeys: &APIKeys{File: file, Header: "x-key"}, Policy: p}
	if len(p.Scopes) > 0 {
		c.JWT = &JWT{JWKSURL: "http://127.0.0.1:1/jwks", Issuer: "i", Audience: []string{"a"}}
	}
	return newAuth(t, c, Options{})
}

func TestPolicy(t *testing.T) {
	alice := &Principal{Subject: "u-1", Username: "alice", ID: "u-1", Roles: []string{"author"}, Scopes: []string{"users:write", "profile"}}
	admin := &Principal{Subject: "root", Username: "root", ID: "u-0", Roles: []string{"author", "admin"}}
	noID := &Principal{Subject: "bob", Username: "bob"}
	const (
		names = `{"set":{"givenName":"A","email":"a@example.com"},"unset":["phone"]}`
		roles = `{"set":{"givenName":"A","roles":[{"name":"admin"}]}}`
		unset = `{"set":{},"unset":["locked"]}`
		ext   = `{"set":{"extensions":{"crafter":{"externally_managed":true},"shift":{"ssoId":"x"}}}}`
	)
	crafter := Policy{Roles: []string{"admin"}, Self: true} // "Admin, self"
	denied := &canonical.Error{}                            // Forbidden, naming the field
	for _, tc := range []struct {
		name   string
		policy Policy
		p      *Principal
		target canonical.Target
		value  string
		update string
		want   *canonical.Error // nil: allowed
	}{
		{"empty policy", Policy{}, alice, canonical.ByID, "u-9", roles, nil},
		{"role held", Policy{Roles: []string{"admin", "author"}}, alice, canonical.ByID, "u-9", roles, nil},
		{"role missing", Policy{Roles: []string{"admin"}}, alice, canonical.ByID, "u-9", names, errRole},
		{"roles compare exactly", Policy{Roles: []string{"Author"}}, alice, canonical.ByID, "u-9", names, errRole},
		{"scopes all held", Policy{Scopes: []string{"profile", "users:write"}}, alice, canonical.ByID, "u-9", names, nil},
		{"one scope missing", Policy{Scopes: []string{"users:write", "users:admin"}}, alice, canonical.ByID, "u-9", names, errScope},
		{"scopes bind a role holder too", Policy{Roles: []string{"admin"}, Scopes: []string{"users:write"}}, admin, canonical.ByID, "u-9", names, errScope},
		{"self by username", Policy{Self: true}, alice, canonical.ByUsername, "alice", names, nil},
		{"self by id", Policy{Self: true}, alice, canonical.ByID, "u-1", names, nil},
		{"another user by username", Policy{Self: true}, alice, canonical.ByUsername, "bob", names, errNotSelf},
		{"another user by id", Policy{Self: true}, alice, canonical.ByID, "u-2", names, errNotSelf},
		{"id given where a username is expected", Policy{Self: true}, alice, canonical.ByUsername, "u-1", names, errNotSelf},
		{"username given where an id is expected", Policy{Self: true}, alice, canonical.ByID, "alice", names, errNotSelf},
		{"case differs", Policy{Self: true}, alice, canonical.ByUsername, "Alice", names, errNotSelf},
		{"empty value", Policy{Self: true}, noID, canonical.ByID, "", names, errNotSelf},
		{"self cannot grant roles", Policy{Self: true}, alice, canonical.ByID, "u-1", roles, denied},
		{"self cannot unset locked", Policy{Self: true}, alice, canonical.ByUsername, "alice", unset, denied},
		{"Crafter: admin updates anyone", crafter, admin, canonical.ByUsername, "alice", roles, nil},
		{"Crafter: a user updates themselves", crafter, alice, canonical.ByUsername, "alice", names, nil},
		{"Crafter: a user cannot update another", crafter, alice, canonical.ByUsername, "root", names, errNotSelf},
		{"Crafter: a user cannot make themselves admin", crafter, alice, canonical.ByUsername, "alice", roles, denied},
		{"extensions allowed by default", Policy{Self: true}, alice, canonical.ByID, "u-1", ext, nil},
		{"one dialect's extensions denied", Policy{Self: true, SelfCannotChange: []string{"extensions.crafter"}}, alice, canonical.ByID, "u-1", ext, denied},
		{"explicit empty list allows roles", Policy{Self: true, SelfCannotChange: []string{}}, alice, canonical.ByID, "u-1", roles, nil},
		{"unparsable update refused", Policy{Self: true}, alice, canonical.ByID, "u-1", `{"set":`, errBadWrite},
		{"empty update allowed", Policy{Self: true}, alice, canonical.ByID, "u-1", ``, nil},
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
		{`{"set":{"roles":[]}}`, defaultSelfCannotChange, "roles"},
		{`{"set":{"givenName":"x"},"unset":["deleted"]}`, defaultSelfCannotChange, "deleted"},
		{`{"set":{"givenName":"x","password":"p"}}`, defaultSelfCannotChange, ""},
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
	a := newAuth(t, Config{}, Options{})
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
	a := policyAuth(t, Policy{})
	if e := a.Authorize(nil, canonical.ByID, "x", nil); e != errMissing {
		t.Fatalf("got %v, want %v", e, errMissing)
	}
}
