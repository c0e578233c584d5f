package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLDAPCheck: every problem of the ldap keys at once, each naming its
// key; never the password.
func TestLDAPCheck(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := LDAP{BindDN: "cn=ub,dc=x", BindPasswordFile: pw, BaseDN: "ou=people,dc=x"}
	if err := good.Check("ldap://dir:389"); err != nil {
		t.Fatal(err)
	}
	if got, err := good.BindPassword(); err != nil || got != "s3cret" {
		t.Errorf("password %q %v", got, err)
	}
	bad := LDAP{BindPasswordFile: pw, BindPasswordEnv: "X", StartTLS: true, UserFilter: "objectClass=person",
		IDAttribute: "entry UUID", Attributes: map[string]AttrList{"username": {"uid"}, "email": {"m@il"}},
		Active: &LDAPFlag{Attribute: "employeeType", True: "x", False: "x"}, PoolSize: 100}
	err := bad.Check("ldaps://dir")
	for _, want := range []string{"upstream.ldap.bindDN", "upstream.ldap.bindPasswordFile: exactly one", "upstream.ldap.startTLS",
		"upstream.ldap.baseDN", "upstream.ldap.userFilter", "upstream.ldap.idAttribute", "upstream.ldap.attributes.username",
		"upstream.ldap.attributes.email", "upstream.ldap.active", "upstream.ldap.poolSize"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
	// active and locked may share an attribute by values (ppolicy's lock),
	// not as a bit of it.
	shared := good
	shared.Active = &LDAPFlag{Attribute: "pwdAccountLockedTime", False: LDAPLockedForever}
	shared.Locked = &LDAPFlag{Attribute: "pwdAccountLockedTime", True: LDAPLockedForever}
	if err := shared.Check("ldap://dir:389"); err != nil {
		t.Errorf("shared by values: %v", err)
	}
	shared.Active = &LDAPFlag{Attribute: "pwdaccountlockedtime", Bit: 2}
	if err := shared.Check("ldap://dir:389"); err == nil || !strings.Contains(err.Error(), "upstream.ldap.active: shares its attribute") {
		t.Errorf("shared as a bit: %v", err)
	}
	for raw, want := range map[string]string{"http://dir": "ldap:// or ldaps://", "ldap://u:p@dir": "credentials",
		"ldap://dir/dc=x": "base DN", "": "required"} {
		if _, err := LDAPURL(raw); err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "u:p") {
			t.Errorf("%q: %v", raw, err)
		}
	}
	t.Setenv("LDAP_PW_TEST", "")
	if _, err := (LDAP{BindPasswordEnv: "LDAP_PW_TEST"}).BindPassword(); err == nil || !strings.Contains(err.Error(), "not set") {
		t.Errorf("empty env: %v", err)
	}
}

// TestLDAPProfileKeys: the ldap block belongs to profile ldap, which
// needs an ldap URL.
func TestLDAPProfileKeys(t *testing.T) {
	c, err := Parse(Source{Name: "t.yaml"}, []byte("upstream:\n  profile: scim\n  url: https://x\n  ldap:\n    baseDN: dc=x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Resolve(Source{Name: "t.yaml"}); err == nil || !strings.Contains(err.Error(), "upstream.ldap: set, but upstream.profile is scim") {
		t.Errorf("%v", err)
	}
	c, err = Parse(Source{Name: "t.yaml"}, []byte("upstream:\n  profile: ldap\n  url: https://x\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Resolve(Source{Name: "t.yaml"})
	for _, want := range []string{"upstream.url: profile ldap needs an ldap:// or ldaps:// URL", "upstream.ldap.bindDN", "upstream.ldap.baseDN"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
}
