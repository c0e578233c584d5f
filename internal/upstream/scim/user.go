package scim

import (
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/internal/lex"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// toCanonical maps a SCIM User resource to the canonical user, the inverse
// of buildPatch: what buildPatch writes reads back as it was written.
// Attribute names are matched case-insensitively (RFC 7643 §2.1). A value
// of the wrong type is left out, so the result is always a valid canonical
// user; it is nil when r is not a JSON object.
func toCanonical(r gjson.Result, ext string) []byte {
	if !r.IsObject() {
		return nil
	}
	u := userWriter{out: make([]byte, 0, len(r.Raw))}
	u.out = append(u.out, '{')
	u.str("id", get(r, "id"))
	u.str("username", get(r, "userName"))
	u.str("email", get(typed(get(r, "emails"), "work"), "value"))
	name := get(r, "name")
	u.str("givenName", get(name, "givenName"))
	u.str("familyName", get(name, "familyName"))
	u.str("displayName", get(r, "displayName"))
	phones := get(r, "phoneNumbers")
	u.str("phone", get(typed(phones, "work"), "value"))
	u.str("mobile", get(typed(phones, "mobile"), "value"))
	u.str("organization", get(get(r, EnterpriseSchema), "organization"))
	u.address(typed(get(r, "addresses"), "work"))
	u.boolean("active", get(r, "active"))
	x := get(r, ext)
	u.boolean("locked", get(x, "locked"))
	u.boolean("deleted", get(x, "deleted"))
	u.roles(get(r, "roles"))
	u.attributes(get(x, "attributes"))
	u.extensions(get(x, "extensions"))
	meta := get(r, "meta")
	u.time("createdAt", get(meta, "created"))
	u.time("updatedAt", get(meta, "lastModified"))
	return append(u.out, '}')
}

type userWriter struct{ out []byte }

func (u *userWriter) member(name string) { u.out = lex.AppendObjectKey(u.out, name) }

func (u *userWriter) str(name string, v gjson.Result) {
	if v.Type == gjson.String {
		u.member(name)
		u.out = lex.AppendJSONString(u.out, v.Str)
	}
}

func (u *userWriter) boolean(name string, v gjson.Result) {
	if v.IsBool() {
		u.member(name)
		u.out = append(u.out, v.Raw...)
	}
}

// time keeps a SCIM dateTime that is also RFC 3339.
func (u *userWriter) time(name string, v gjson.Result) {
	if v.Type != gjson.String {
		return
	}
	if _, err := time.Parse(time.RFC3339Nano, v.Str); err == nil {
		u.str(name, v)
	}
}

// address keeps the string sub-attributes of the work address.
func (u *userWriter) address(a gjson.Result) {
	if !a.IsObject() {
		return
	}
	var obj []byte
	a.ForEach(func(k, v gjson.Result) bool {
		for _, known := range addressKeys {
			if strings.EqualFold(k.Str, known) && v.Type == gjson.String {
				if obj == nil {
					obj = []byte{'{'}
				} else {
					obj = append(obj, ',')
				}
				obj = append(lex.AppendJSONString(obj, known), ':')
				obj = lex.AppendJSONString(obj, v.Str)
			}
		}
		return true
	})
	if obj != nil {
		u.member("address")
		u.out = append(append(u.out, obj...), '}')
	}
}

// roles reads SCIM roles back: display is the name, value the id unless it
// repeats the name; a role without display was written from an id alone.
func (u *userWriter) roles(rs gjson.Result) {
	if !rs.IsArray() {
		return
	}
	u.member("roles")
	u.out = append(u.out, '[')
	n := 0
	rs.ForEach(func(_, r gjson.Result) bool {
		value, display, typ := get(r, "value"), get(r, "display"), get(r, "type")
		var role []byte
		add := func(k string, v gjson.Result) {
			if v.Type != gjson.String {
				return
			}
			if role == nil {
				role = []byte{'{'}
			} else {
				role = append(role, ',')
			}
			role = lex.AppendJSONString(append(lex.AppendJSONString(role, k), ':'), v.Str)
		}
		if display.Type == gjson.String {
			if value.Str != display.Str {
				add("id", value)
			}
			add("name", display)
		} else {
			add("id", value)
		}
		if role == nil {
			return true // names nothing
		}
		add("description", typ)
		if n > 0 {
			u.out = append(u.out, ',')
		}
		n++
		u.out = append(append(u.out, role...), '}')
		return true
	})
	u.out = append(u.out, ']')
}

// attributes reads the JSON text buildPatch wrote (or an object, from a
// server that stores one).
func (u *userWriter) attributes(v gjson.Result) {
	if v.Type == gjson.String && gjson.Valid(v.Str) {
		v = gjson.Parse(v.Str)
	}
	if v.IsObject() && canonical.ValidateUser([]byte(`{"attributes":`+v.Raw+`}`)) == nil {
		u.member("attributes")
		u.out = append(u.out, v.Raw...)
	}
}

// extensions reads the {dialect, name, value} entries back into
// {dialect: {name: value}}.
func (u *userWriter) extensions(v gjson.Result) {
	if !v.IsArray() {
		return
	}
	type member struct{ name, raw string }
	var order []string
	byDialect := map[string][]member{}
	v.ForEach(func(_, e gjson.Result) bool {
		d, n, val := get(e, "dialect").Str, get(e, "name").Str, get(e, "value")
		if !canonical.ValidDialectName(d) || !canonical.ValidMemberName(n) || !val.Exists() {
			return true
		}
		raw := val.Raw
		if val.Type == gjson.String {
			if gjson.Valid(val.Str) {
				raw = gjson.Parse(val.Str).Raw
			}
		}
		if raw == "" || raw == "null" {
			return true
		}
		if _, ok := byDialect[d]; !ok {
			order = append(order, d)
		}
		for _, m := range byDialect[d] {
			if m.name == n {
				return true // the first one wins
			}
		}
		byDialect[d] = append(byDialect[d], member{n, raw})
		return true
	})
	if len(order) == 0 {
		return
	}
	obj := []byte{'{'}
	for i, d := range order {
		if i > 0 {
			obj = append(obj, ',')
		}
		obj = append(lex.AppendJSONString(obj, d), ":{"...)
		for j, m := range byDialect[d] {
			if j > 0 {
				obj = append(obj, ',')
			}
			obj = append(append(lex.AppendJSONString(obj, m.name), ':'), m.raw...)
		}
		obj = append(obj, '}')
	}
	obj = append(obj, '}')
	if canonical.ValidateUser([]byte(`{"extensions":`+string(obj)+`}`)) == nil {
		u.member("extensions")
		u.out = append(u.out, obj...)
	}
}

// get reads a member of an object, its name matched case-insensitively.
func get(obj gjson.Result, name string) gjson.Result {
	if !obj.IsObject() {
		return gjson.Result{}
	}
	var hit gjson.Result
	obj.ForEach(func(k, v gjson.Result) bool {
		if strings.EqualFold(k.Str, name) {
			hit = v
			return false
		}
		return true
	})
	return hit
}

// typed picks the item of a multi-valued attribute with the given type: the
// primary one when several have it.
func typed(list gjson.Result, typ string) gjson.Result {
	var first gjson.Result
	found := false
	var hit gjson.Result
	list.ForEach(func(_, item gjson.Result) bool {
		if !strings.EqualFold(get(item, "type").Str, typ) {
			return true
		}
		if get(item, "primary").Type == gjson.True {
			hit = item
			return false
		}
		if !found {
			first, found = item, true
		}
		return true
	})
	if hit.Exists() {
		return hit
	}
	return first
}
