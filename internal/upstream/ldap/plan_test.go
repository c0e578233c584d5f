package ldap

import (
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/mapping/canonical"
)

func TestPostalAddress(t *testing.T) {
	for _, c := range []struct{ in, want, code string }{
		{`{"streetAddress":"1 Main St","locality":"Springfield","country":"US"}`, "1 Main St$Springfield$US", ""},
		{`{"country":"US","streetAddress":"1 Main St"}`, "1 Main St$US", ""}, // the lines' order, not the object's
		{`{"formatted":"c/o $ally\\n\nback\\slash\n\n"}`, `c/o \24ally\5Cn$back\5Cslash`, ""},
		{`{"city":"Paris"}`, "", "address"},
		{`{"locality":3}`, "", "address"},
		{`{}`, "", "address"},
	} {
		got, cerr := postalAddress(gjson.Parse(c.in))
		switch {
		case c.code != "" && (cerr == nil || cerr.Field != c.code):
			t.Errorf("%s: %q %v, want refused", c.in, got, cerr)
		case c.code == "" && (cerr != nil || got != c.want):
			t.Errorf("%s: %q %v, want %q", c.in, got, cerr, c.want)
		}
		if c.code == "" {
			if back := parsePostalAddress(got); strings.Count(back, "\n") != strings.Count(got, "$") {
				t.Errorf("%q reads back as %q", got, back)
			}
		}
	}
	if got := parsePostalAddress(`c/o \24ally$back\5Cslash`); got != "c/o $ally\nback\\slash" {
		t.Errorf("parse: %q", got)
	}
}

func TestSplitDN(t *testing.T) {
	for _, c := range []struct{ dn, attr, parent string }{
		{"uid=jane,ou=people,dc=example,dc=org", "uid", "ou=people,dc=example,dc=org"},
		{`cn=Doe\, Jane,OU=Staff,DC=corp`, "cn", "OU=Staff,DC=corp"},
		{`uid=a\\,ou=x`, "uid", "ou=x"},
		{"dc=org", "dc", ""},
	} {
		if a, p := splitDN(c.dn); a != c.attr || p != c.parent {
			t.Errorf("%s: %q %q", c.dn, a, p)
		}
	}
}

// TestBitFlag: AD's active as bit 2 of userAccountControl, inverted: the
// other bits are kept, the value read is deleted and the new one added.
func TestBitFlag(t *testing.T) {
	f := &config.LDAPFlag{Attribute: "userAccountControl", Bit: 2, Inverted: true}
	e := goldap.NewEntry("cn=x", map[string][]string{"userAccountControl": {"512"}})
	p := &plan{modify: goldap.NewModifyRequest("cn=x", nil), fields: fieldOf{byAttr: map[string]string{}}}
	if cerr := p.flag(f, "active", false, false, e); cerr != nil {
		t.Fatal(cerr)
	}
	ch := p.modify.Changes
	if len(ch) != 2 || ch[0].Operation != goldap.DeleteAttribute || ch[0].Modification.Vals[0] != "512" ||
		ch[1].Operation != goldap.AddAttribute || ch[1].Modification.Vals[0] != "514" {
		t.Errorf("changes %+v", ch)
	}
	p.modify.Changes = nil
	if cerr := p.flag(f, "active", true, false, e); cerr != nil || len(p.modify.Changes) != 0 {
		t.Errorf("already active: %v %+v", cerr, p.modify.Changes)
	}
	if cerr := p.flag(f, "active", false, true, e); cerr == nil || cerr.Field != "active" {
		t.Errorf("unset a bit: %v", cerr)
	}
	var u userWriter
	u.out = []byte{'{'}
	u.flag("active", f, goldap.NewEntry("cn=x", map[string][]string{"userAccountControl": {"514"}}))
	if string(u.out) != `{"active":false` {
		t.Errorf("read back %s", u.out)
	}
}

// TestValueFlag: ppolicy's lock reads true for any timestamp, false when
// absent.
func TestValueFlag(t *testing.T) {
	f := &config.LDAPFlag{Attribute: "pwdAccountLockedTime", True: config.LDAPLockedForever}
	for v, want := range map[string]string{"": "false", config.LDAPLockedForever: "true", "20260101000000Z": "true"} {
		attrs := map[string][]string{}
		if v != "" {
			attrs["pwdAccountLockedTime"] = []string{v}
		}
		u := userWriter{out: []byte{'{'}}
		u.flag("locked", f, goldap.NewEntry("cn=x", attrs))
		if string(u.out) != `{"locked":`+want {
			t.Errorf("%q: %s", v, u.out)
		}
	}
}

// TestRefusalNamesTheField: a directory refusal names the field written,
// or the one whose attribute OpenLDAP's diagnostic begins with.
func TestRefusalNamesTheField(t *testing.T) {
	refusal := &goldap.Error{ResultCode: goldap.LDAPResultInvalidAttributeSyntax, Err: errString("mail: value #0 invalid per syntax")}
	f := fieldOf{byAttr: map[string]string{"mail": "email", "givenname": "givenName"}}
	if e, _ := opError(refusal, f); e.Code != canonical.InvalidField || e.Field != "email" || e.Message != "mail: value #0 invalid per syntax" {
		t.Errorf("%+v", e)
	}
	if e, v := opError(&goldap.Error{ResultCode: goldap.LDAPResultBusy, Err: errString("x")}, f); e.Code != canonical.Unavailable || v == nil {
		t.Errorf("busy: %+v %v", e, v)
	}
	if e, v := opError(&goldap.Error{ResultCode: goldap.LDAPResultNoSuchObject, Err: errString("")}, f); e.Code != canonical.NotFound || v != nil {
		t.Errorf("noSuchObject: %+v %v", e, v)
	}
	if e, _ := opError(&goldap.Error{ResultCode: goldap.LDAPResultInsufficientAccessRights, Err: errString("")}, f); e.Code != canonical.Forbidden {
		t.Errorf("insufficientAccessRights: %+v", e)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
