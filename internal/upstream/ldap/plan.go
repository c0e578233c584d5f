package ldap

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// plan is what one canonical update does to the directory: one Modify of
// the entry, a ModifyDN when the new username is the entry's RDN, and the
// group Modifies that make its roles the set asked for.
type plan struct {
	dn     string
	modify *goldap.ModifyRequest
	fields fieldOf // the attributes modify writes, for naming a refusal
	// flags is what each flag's attribute (lower case) is given, by the
	// field that gave it: active and locked may share one (ppolicy's
	// pwdAccountLockedTime), written once.
	flags  map[string]flagWrite
	rename *goldap.ModifyDNRequest
	newDN  string
	groups []groupChange // the groups joined, and those kept (moved after a rename)
	leave  []groupChange // the groups left: by the DN before a rename, and before it
}

// groupChange adds member to, or deletes it from, the group at dn; with
// old, a move after a rename: old deleted and member added in one Modify.
type groupChange struct {
	dn, member string
	add        bool
	old        string
}

// attributesOf is the LDAP attributes a canonical field is written to; nil
// when the directory has none for it.
func (c *Client) attributesOf(field string) []string {
	return c.cfg.Attributes[field]
}

// refuseUnmapped refuses, before anything is sent, an update that sets or
// unsets a field the directory has no attribute for, and a password over
// an unprotected connection unless allowed.
func (c *Client) refuseUnmapped(doc gjson.Result) *canonical.Error {
	var cerr *canonical.Error
	check := func(field string) bool {
		ok := true
		switch field {
		case "username":
		case "active":
			ok = c.cfg.Active.Maps()
		case "locked":
			ok = c.cfg.Locked.Maps()
		case "roles":
			ok = c.cfg.Groups.BaseDN != ""
		default:
			ok = len(c.attributesOf(field)) > 0
		}
		if !ok {
			cerr = canonical.FieldError(field, "the directory has no attribute for this field")
		}
		return ok
	}
	doc.Get("set").ForEach(func(k, v gjson.Result) bool {
		if k.Str == "extensions" {
			v.ForEach(func(d, members gjson.Result) bool {
				members.ForEach(func(n, _ gjson.Result) bool { return check("extensions." + d.Str + "." + n.Str) })
				return cerr == nil
			})
			return cerr == nil
		}
		if k.Str == "password" && !c.pool.protected() && !c.cfg.AllowPlainPassword {
			cerr = canonical.FieldError("password", "the directory connection is not encrypted (ldap:// without StartTLS): a password is not sent over it")
			return false
		}
		return check(k.Str)
	})
	if cerr == nil {
		doc.Get("unset").ForEach(func(_, f gjson.Result) bool { return check(f.Str) })
	}
	return cerr
}

// plan builds the operations of the update doc on entry.
func (t *trip) plan(entry *goldap.Entry, doc gjson.Result) (*plan, *canonical.Error) {
	c := t.c
	p := &plan{dn: entry.DN, modify: goldap.NewModifyRequest(entry.DN, nil), fields: fieldOf{byAttr: map[string]string{}}}
	write := func(field string, vals []string) {
		for _, a := range c.attributesOf(field) {
			p.modify.Replace(a, vals)
			p.fields.byAttr[strings.ToLower(a)] = field
		}
	}
	var cerr *canonical.Error
	var roles gjson.Result
	rolesUnset := false
	doc.Get("set").ForEach(func(k, v gjson.Result) bool {
		switch field := k.Str; field {
		case "username":
			cerr = t.planRename(p, entry, v.Str)
		case "active":
			cerr = p.flag(c.cfg.Active, field, v.Bool(), false, entry)
		case "locked":
			cerr = p.flag(c.cfg.Locked, field, v.Bool(), false, entry)
		case "roles":
			roles = v
		case "deleted":
			write(field, []string{strings.ToUpper(strconv.FormatBool(v.Bool()))})
		case "address":
			var line string
			if line, cerr = postalAddress(v); cerr == nil {
				write(field, []string{line})
			}
		case "attributes":
			write(field, []string{compact(v.Raw)})
		case "extensions":
			v.ForEach(func(d, members gjson.Result) bool {
				members.ForEach(func(n, val gjson.Result) bool {
					write("extensions."+d.Str+"."+n.Str, []string{compact(val.Raw)})
					return true
				})
				return true
			})
		default:
			write(field, []string{v.Str})
		}
		return cerr == nil
	})
	if cerr != nil {
		return nil, cerr
	}
	doc.Get("unset").ForEach(func(_, f gjson.Result) bool {
		switch field := f.Str; field {
		case "username":
			cerr = canonical.FieldError(field, "a directory entry cannot be without its username")
		case "active":
			cerr = p.flag(c.cfg.Active, field, false, true, entry)
		case "locked":
			cerr = p.flag(c.cfg.Locked, field, false, true, entry)
		case "roles":
			rolesUnset = true
		default:
			write(field, nil)
		}
		return cerr == nil
	})
	if cerr != nil {
		return nil, cerr
	}
	if cerr := t.planGroups(p, roles, rolesUnset); cerr != nil {
		return nil, cerr
	}
	return p, nil
}

// flagWrite is the value a flag's field gives its attribute ("": removed).
type flagWrite struct{ field, value string }

// flag writes a canonical boolean through its LDAPFlag. unset removes the
// attribute (refused for a bit, which cannot be absent). Where active and
// locked share an attribute (config refuses it for a bit), an update that
// gives it one value through both writes it once, and one that gives it
// two is refused: the directory cannot hold both.
func (p *plan) flag(f *config.LDAPFlag, field string, v, unset bool, entry *goldap.Entry) *canonical.Error {
	attr := strings.ToLower(f.Attribute)
	p.fields.byAttr[attr] = field
	if f.Bit > 0 {
		if unset {
			return canonical.FieldError(field, "is a bit of "+f.Attribute+" in the directory: it can be true or false, not removed")
		}
		cur := entry.GetAttributeValue(f.Attribute)
		n, err := strconv.ParseInt(cur, 10, 64)
		if cur != "" && err != nil {
			return canonical.FieldError(field, f.Attribute+" in the directory is not an integer")
		}
		next := n &^ f.Bit
		if v != f.Inverted {
			next = n | f.Bit
		}
		switch {
		case cur == "":
			p.modify.Add(f.Attribute, []string{strconv.FormatInt(next, 10)})
		case next != n:
			// delete the value read, add the new one: the directory refuses
			// it if another writer changed the attribute in between.
			p.modify.Delete(f.Attribute, []string{cur})
			p.modify.Add(f.Attribute, []string{strconv.FormatInt(next, 10)})
		}
		return nil
	}
	val := f.False
	if v {
		val = f.True
	}
	if unset {
		val = ""
	}
	if prior, ok := p.flags[attr]; ok {
		if !strings.EqualFold(prior.value, val) {
			// in the client's terms: no configuration key, no attribute
			// (docs/upstreams.md tells the operator which)
			return canonical.FieldError(field, "the directory keeps this field and another this update sets in one value: "+
				"it cannot hold both values asked")
		}
		return nil // written already
	}
	if p.flags == nil {
		p.flags = map[string]flagWrite{}
	}
	p.flags[attr] = flagWrite{field, val}
	if val == "" {
		p.modify.Replace(f.Attribute, nil)
	} else {
		p.modify.Replace(f.Attribute, []string{val})
	}
	return nil
}

// planRename changes the username: a ModifyDN when it is the entry's RDN,
// else a Replace in the Modify. Another user with it is a conflict.
func (t *trip) planRename(p *plan, entry *goldap.Entry, name string) *canonical.Error {
	attr := t.c.cfg.UsernameAttribute
	if name == "" {
		return canonical.FieldError("username", "must not be empty")
	}
	if name == entry.GetEqualFoldAttributeValue(attr) {
		return nil
	}
	other, cerr := t.findBy(attr, name)
	switch {
	case cerr != nil && cerr.Code != canonical.NotFound:
		return cerr
	case other != nil && other.DN != entry.DN:
		e := canonical.Errorf(canonical.Conflict, "another user has this username")
		e.Field = "username"
		return e
	}
	rdnAttr, parent := splitDN(entry.DN)
	if !strings.EqualFold(rdnAttr, attr) {
		p.modify.Replace(attr, []string{name})
		p.fields.byAttr[strings.ToLower(attr)] = "username"
		return nil
	}
	rdn := attr + "=" + goldap.EscapeDN(name)
	p.rename = goldap.NewModifyDNRequest(entry.DN, rdn, true, "")
	p.newDN = rdn
	if parent != "" {
		p.newDN += "," + parent
	}
	return nil
}

// splitDN is the attribute type of dn's first RDN and the DN of its
// parent, as written (escapes kept).
func splitDN(dn string) (rdnAttr, parent string) {
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++
		case ',':
			parent = strings.TrimSpace(dn[i+1:])
			dn = dn[:i]
			i = len(dn)
		}
	}
	if eq := strings.IndexByte(dn, '='); eq > 0 {
		rdnAttr = strings.TrimSpace(dn[:eq])
	}
	return rdnAttr, parent
}

// compact is a JSON value without insignificant white space.
func compact(raw string) string {
	var b bytes.Buffer
	if json.Compact(&b, []byte(raw)) != nil {
		return raw
	}
	return b.String()
}

// addressKeys are the members an address may have, in the order of its
// lines.
var addressKeys = []string{"streetAddress", "locality", "region", "postalCode", "country"}

// postalAddress is an address in RFC 4517's PostalAddress form: its lines
// ("formatted", split at line breaks, or streetAddress, locality, region,
// postalCode, country in that order), '$' and '\' escaped, joined by '$'.
func postalAddress(v gjson.Result) (string, *canonical.Error) {
	var lines []string
	var cerr *canonical.Error
	known := map[string]bool{"formatted": true}
	for _, k := range addressKeys {
		known[k] = true
	}
	v.ForEach(func(k, val gjson.Result) bool {
		if !known[k.Str] || val.Type != gjson.String {
			cerr = canonical.FieldError("address", "the directory holds an address as lines: formatted, streetAddress, locality, region, postalCode and country (strings), not "+k.Str)
		}
		return cerr == nil
	})
	if cerr != nil {
		return "", cerr
	}
	if f := v.Get("formatted"); f.Exists() {
		lines = strings.Split(f.Str, "\n")
	} else {
		for _, k := range addressKeys {
			if s := v.Get(k).Str; s != "" {
				lines = append(lines, s)
			}
		}
	}
	var b strings.Builder
	for _, l := range lines {
		if l = strings.TrimSpace(l); l == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('$')
		}
		b.WriteString(strings.NewReplacer(`\`, `\5C`, `$`, `\24`).Replace(l))
	}
	if b.Len() == 0 {
		return "", canonical.FieldError("address", "an address needs at least one line")
	}
	return b.String(), nil
}
