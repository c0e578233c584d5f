package ldap

import (
	"sort"
	"strconv"
	"strings"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	goldap "github.com/go-ldap/ldap/v3"
	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/lex"
)

// stringFields are the canonical string fields read back from the first
// attribute each is mapped to.
var stringFields = []string{"email", "givenName", "familyName", "displayName", "phone", "mobile", "organization"}

// readAttributes lists every attribute a user is read with.
func readAttributes(l config.LDAP) []string {
	attrs := []string{l.IDAttribute, l.UsernameAttribute, "createTimestamp", "modifyTimestamp"}
	for field, list := range l.Attributes {
		if len(list) > 0 && field != "password" {
			attrs = append(attrs, list[0])
		}
	}
	for _, f := range []*config.LDAPFlag{l.Active, l.Locked} {
		if f.Maps() {
			attrs = append(attrs, f.Attribute)
		}
	}
	return attrs
}

// user is the entry as a canonical user: id, username, the mapped fields
// (each from the first attribute it is written to), active and locked,
// roles from groups, createdAt and updatedAt from createTimestamp and
// modifyTimestamp (RFC 3339). A value the canonical user cannot hold (JSON
// text that is not JSON, a flag value neither true nor false) is left out.
//
// asked is the id the call named the user by ("" by username): where the
// directory matched it to an id that differs only in case (an entryUUID
// asked for in upper case), the id is given as asked.
func (c *Client) user(e *goldap.Entry, roles []group, asked string) []byte {
	u := userWriter{out: make([]byte, 0, 512)}
	u.out = append(u.out, '{')
	id := e.GetEqualFoldAttributeValue(c.cfg.IDAttribute)
	if asked != "" && strings.EqualFold(id, asked) {
		id = asked
	}
	u.str("id", id)
	u.str("username", e.GetEqualFoldAttributeValue(c.cfg.UsernameAttribute))
	first := func(field string) string {
		if list := c.cfg.Attributes[field]; len(list) > 0 {
			return e.GetEqualFoldAttributeValue(list[0])
		}
		return ""
	}
	for _, f := range stringFields {
		u.str(f, first(f))
	}
	if lines := parsePostalAddress(first("address")); lines != "" {
		u.member("address")
		u.out = append(u.out, `{"formatted":`...)
		u.out = append(lex.AppendJSONString(u.out, lines), '}')
	}
	u.flag("active", c.cfg.Active, e)
	u.flag("locked", c.cfg.Locked, e)
	switch strings.ToUpper(first("deleted")) {
	case "TRUE":
		u.raw("deleted", "true")
	case "FALSE":
		u.raw("deleted", "false")
	}
	if len(roles) > 0 {
		u.member("roles")
		u.out = append(u.out, '[')
		for i, r := range roles {
			if i > 0 {
				u.out = append(u.out, ',')
			}
			inner := userWriter{out: []byte{'{'}}
			inner.str("id", r.id)
			inner.str("name", r.name)
			u.out = append(append(u.out, inner.out...), '}')
		}
		u.out = append(u.out, ']')
	}
	if a := gjson.Parse(first("attributes")); a.IsObject() {
		u.raw("attributes", a.Raw)
	}
	u.extensions(c.cfg.Attributes, e)
	u.time("createdAt", e.GetEqualFoldAttributeValue("createTimestamp"))
	u.time("updatedAt", e.GetEqualFoldAttributeValue("modifyTimestamp"))
	return append(u.out, '}')
}

type userWriter struct{ out []byte }

func (u *userWriter) member(name string) { u.out = lex.AppendObjectKey(u.out, name) }

func (u *userWriter) str(name, v string) {
	if v != "" {
		u.member(name)
		u.out = lex.AppendJSONString(u.out, v)
	}
}

func (u *userWriter) raw(name, v string) {
	u.member(name)
	u.out = append(u.out, v...)
}

// flag reads a canonical boolean back through its LDAPFlag.
func (u *userWriter) flag(name string, f *config.LDAPFlag, e *goldap.Entry) {
	if !f.Maps() {
		return
	}
	v := e.GetEqualFoldAttributeValue(f.Attribute)
	var b, ok bool
	switch {
	case f.Bit > 0:
		n, err := strconv.ParseInt(v, 10, 64)
		b, ok = (n&f.Bit != 0) != f.Inverted, err == nil
	case v == "":
		b, ok = f.True == "", f.True == "" || f.False == ""
	case strings.EqualFold(v, f.True):
		b, ok = true, true
	case strings.EqualFold(v, f.False):
		b, ok = false, true
	default:
		// another value than those written: present means the flag whose
		// value is absence is off (a lock's timestamp is locked).
		b, ok = f.False == "", f.False == "" || f.True == ""
	}
	if ok {
		u.raw(name, strconv.FormatBool(b))
	}
}

// extensions reads each extensions.<dialect>.<name> mapped to an attribute
// (JSON text) back into the extensions object.
func (u *userWriter) extensions(attrs map[string]config.AttrList, e *goldap.Entry) {
	byDialect := map[string][]string{}
	var dialects []string
	keys := make([]string, 0, len(attrs))
	for key := range attrs {
		keys = append(keys, key)
	}
	sort.Strings(keys) // one order, every time
	for _, key := range keys {
		list := attrs[key]
		parts := strings.Split(key, ".")
		if len(parts) != 3 || parts[0] != "extensions" || len(list) == 0 {
			continue
		}
		v := gjson.Parse(e.GetEqualFoldAttributeValue(list[0]))
		if !v.Exists() || v.Type == gjson.Null {
			continue
		}
		if _, seen := byDialect[parts[1]]; !seen {
			dialects = append(dialects, parts[1])
		}
		byDialect[parts[1]] = append(byDialect[parts[1]], string(lex.AppendJSONString(nil, parts[2]))+":"+v.Raw)
	}
	if len(dialects) == 0 {
		return
	}
	u.member("extensions")
	u.out = append(u.out, '{')
	for i, d := range dialects {
		if i > 0 {
			u.out = append(u.out, ',')
		}
		u.out = append(lex.AppendJSONString(u.out, d), ':', '{')
		u.out = append(u.out, strings.Join(byDialect[d], ",")...)
		u.out = append(u.out, '}')
	}
	u.out = append(u.out, '}')
}

// time writes an LDAP GeneralizedTime as RFC 3339 in UTC.
func (u *userWriter) time(name, v string) {
	if v == "" {
		return
	}
	t, err := ber.ParseGeneralizedTime([]byte(v))
	if err != nil {
		return
	}
	u.str(name, t.UTC().Format(time.RFC3339Nano))
}

// parsePostalAddress is an RFC 4517 PostalAddress's lines joined by line
// breaks; "" when it has none or is not one.
func parsePostalAddress(v string) string {
	if v == "" {
		return ""
	}
	lines := strings.Split(v, "$")
	r := strings.NewReplacer(`\24`, `$`, `\5C`, `\`, `\5c`, `\`)
	for i, l := range lines {
		lines[i] = r.Replace(l)
	}
	return strings.Join(lines, "\n")
}
