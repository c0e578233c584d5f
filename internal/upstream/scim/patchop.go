package scim

import (
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/internal/lex"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// addressKeys are the sub-attributes of a SCIM address (RFC 7643 §4.1.2)
// a canonical address may hold; type and primary are userbridge's to set.
var addressKeys = [...]string{"formatted", "streetAddress", "locality", "region", "postalCode", "country"}

// patchOp builds the PatchOp request of one canonical update.
type patchOp struct {
	ext    string // the extension schema URN, "" when unmapped fields are refused
	caps   *Capabilities
	out    []byte
	n      int      // operations written
	fields []string // canonical fields named, for error messages
}

// buildPatch turns a valid canonical update into the body of a SCIM PATCH
// (RFC 7644 §3.5.2). It returns a nil body when the update changes nothing.
// ext is the extension schema URN, or "" to refuse the canonical fields
// that have no SCIM attribute; a field caps says the provider cannot hold
// is refused too (caps nil: none).
func buildPatch(update []byte, ext string, caps *Capabilities) (body []byte, fields []string, cerr *canonical.Error) {
	doc := gjson.ParseBytes(update)
	b := &patchOp{ext: ext, caps: caps, out: make([]byte, 0, 2*len(update)+128)}
	b.out = append(b.out, `{"schemas":["`+PatchOpSchema+`"],"Operations":[`...)
	doc.Get("set").ForEach(func(k, v gjson.Result) bool {
		if k.Str == "extensions" {
			v.ForEach(func(d, members gjson.Result) bool {
				members.ForEach(func(n, val gjson.Result) bool {
					cerr = b.setExtension(d.Str, n.Str, val)
					return cerr == nil
				})
				return cerr == nil
			})
		} else {
			cerr = b.set(k.Str, v)
		}
		return cerr == nil
	})
	if cerr != nil {
		return nil, nil, cerr
	}
	doc.Get("unset").ForEach(func(_, v gjson.Result) bool {
		cerr = b.unset(v.Str)
		return cerr == nil
	})
	if cerr != nil {
		return nil, nil, cerr
	}
	if b.n == 0 {
		return nil, b.fields, nil
	}
	return append(b.out, "]}"...), b.fields, nil
}

// scalarPaths are the canonical fields that are one SCIM attribute each,
// set with replace and unset with remove.
var scalarPaths = map[string]string{
	"username":     "userName",
	"password":     "password",
	"givenName":    "name.givenName",
	"familyName":   "name.familyName",
	"displayName":  "displayName",
	"active":       "active",
	"organization": EnterpriseSchema + ":organization",
}

// set writes the operations that give field the value v.
func (b *patchOp) set(field string, v gjson.Result) *canonical.Error {
	b.fields = append(b.fields, field)
	if err := b.held(field); err != nil {
		return err
	}
	if path, ok := scalarPaths[field]; ok {
		b.op("replace", path, v.Raw)
		return nil
	}
	switch field {
	case "email":
		b.replaceTyped("emails", "work", `{"value":`+v.Raw+`,"type":"work","primary":true}`)
	case "phone":
		b.replaceTyped("phoneNumbers", "work", `{"value":`+v.Raw+`,"type":"work"}`)
	case "mobile":
		b.replaceTyped("phoneNumbers", "mobile", `{"value":`+v.Raw+`,"type":"mobile"}`)
	case "address":
		addr, err := scimAddress(v)
		if err != nil {
			return err
		}
		b.replaceTyped("addresses", "work", addr)
	case "roles":
		b.op("remove", "roles", "")
		if roles := scimRoles(v); roles != "[]" {
			b.op("add", "roles", roles)
		}
	case "locked", "deleted":
		if err := b.needExt(field); err != nil {
			return err
		}
		b.op("replace", b.ext+":"+field, v.Raw)
	case "attributes":
		if err := b.needExt(field); err != nil {
			return err
		}
		// A SCIM attribute has a declared type; a free object travels as
		// its JSON text.
		b.op("replace", b.ext+":attributes", string(lex.AppendJSONString(nil, v.Raw)))
	default:
		return canonical.Errorf(canonical.Internal, "the SCIM profile cannot map the field "+strconv.Quote(field))
	}
	return nil
}

// setExtension replaces one extension member: its entry in the extension
// schema's multi-valued "extensions", {dialect, name, value (JSON text)}.
func (b *patchOp) setExtension(dialect, name string, v gjson.Result) *canonical.Error {
	field := "extensions." + dialect + "." + name
	b.fields = append(b.fields, field)
	if err := b.needExt(field); err != nil {
		return err
	}
	if err := b.held(field); err != nil {
		return err
	}
	b.op("remove", b.extensionPath(dialect, name), "")
	item := lex.AppendJSONString([]byte(`[{"dialect":`), dialect)
	item = lex.AppendJSONString(append(item, `,"name":`...), name)
	item = lex.AppendJSONString(append(item, `,"value":`...), v.Raw)
	b.op("add", b.ext+":extensions", string(append(item, "}]"...)))
	return nil
}

// unset writes the operation that removes field.
func (b *patchOp) unset(field string) *canonical.Error {
	b.fields = append(b.fields, field)
	if err := b.held(field); err != nil {
		return err
	}
	if path, ok := scalarPaths[field]; ok {
		b.op("remove", path, "")
		return nil
	}
	switch field {
	case "email":
		b.op("remove", typedPath("emails", "work"), "")
	case "phone":
		b.op("remove", typedPath("phoneNumbers", "work"), "")
	case "mobile":
		b.op("remove", typedPath("phoneNumbers", "mobile"), "")
	case "address":
		b.op("remove", typedPath("addresses", "work"), "")
	case "roles":
		b.op("remove", "roles", "")
	case "locked", "deleted", "attributes":
		if err := b.needExt(field); err != nil {
			return err
		}
		b.op("remove", b.ext+":"+field, "")
	default:
		rest, ok := strings.CutPrefix(field, "extensions.")
		dialect, name, ok2 := strings.Cut(rest, ".")
		if !ok || !ok2 {
			return canonical.Errorf(canonical.Internal, "the SCIM profile cannot map the field "+strconv.Quote(field))
		}
		if err := b.needExt(field); err != nil {
			return err
		}
		b.op("remove", b.extensionPath(dialect, name), "")
	}
	return nil
}

// cannotStore is what a caller is told of a field the SCIM upstream cannot
// hold, whatever the reason: the dialect names the field in its own terms.
// Why (a configuration key, a schema URN) is the operator's, logged with
// the capabilities (Capabilities.Why, Client.Unmapped).
const cannotStore = "the upstream cannot store this field"

// needExt refuses a field that only the extension schema can hold when
// unmapped fields are refused (upstream.scim.unmapped: reject).
func (b *patchOp) needExt(field string) *canonical.Error {
	if b.ext != "" {
		return nil
	}
	return canonical.FieldError(field, cannotStore)
}

// held refuses a field the provider's User cannot hold, as discovered
// (or pinned): before anything is sent, naming the canonical field, which
// the dialect renames to its own.
func (b *patchOp) held(field string) *canonical.Error {
	if b.caps == nil {
		return nil
	}
	if b.caps.refuses(field) != "" {
		return canonical.FieldError(field, cannotStore)
	}
	return nil
}

// replaceTyped replaces the value of a multi-valued attribute that has the
// given type: SCIM's replace would merge into it, so it is removed, then
// added whole.
func (b *patchOp) replaceTyped(attr, typ, item string) {
	b.op("remove", typedPath(attr, typ), "")
	b.op("add", attr, "["+item+"]")
}

func (b *patchOp) extensionPath(dialect, name string) string {
	return b.ext + ":extensions[dialect eq " + filterString(dialect) + " and name eq " + filterString(name) + "]"
}

// op appends one operation; value is raw JSON, "" for none.
func (b *patchOp) op(op, path, value string) {
	if b.n > 0 {
		b.out = append(b.out, ',')
	}
	b.n++
	b.out = append(b.out, `{"op":"`+op+`","path":`...)
	b.out = lex.AppendJSONString(b.out, path)
	if value != "" {
		b.out = append(b.out, `,"value":`...)
		b.out = append(b.out, value...)
	}
	b.out = append(b.out, '}')
}

func typedPath(attr, typ string) string { return attr + "[type eq " + filterString(typ) + "]" }

// scimAddress is a canonical address as a SCIM work address. Only the SCIM
// sub-attributes fit; anything else is refused rather than dropped.
func scimAddress(v gjson.Result) (string, *canonical.Error) {
	out := []byte{'{'}
	var err *canonical.Error
	v.ForEach(func(k, val gjson.Result) bool {
		known := false
		for _, a := range addressKeys {
			known = known || a == k.Str
		}
		switch {
		case !known:
			err = canonical.FieldError("address", "a SCIM address holds only "+strings.Join(addressKeys[:], ", ")+
				"; "+strconv.Quote(k.Str)+" has no place in it")
		case val.Type != gjson.String:
			err = canonical.FieldError("address", strconv.Quote(k.Str)+" must be a string in a SCIM address")
		default:
			out = append(lex.AppendJSONString(out, k.Str), ':')
			out = append(append(out, val.Raw...), ',')
		}
		return err == nil
	})
	if err != nil {
		return "", err
	}
	return string(append(out, `"type":"work"}`...)), nil
}

// scimRoles maps canonical roles to SCIM roles: value is the role's id, or
// its name when it has none; display is its name; type its description.
func scimRoles(v gjson.Result) string {
	out := []byte{'['}
	v.ForEach(func(_, r gjson.Result) bool {
		id, name, desc := r.Get("id"), r.Get("name"), r.Get("description")
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, `{"value":`...)
		if id.Exists() {
			out = append(out, id.Raw...)
		} else {
			out = append(out, name.Raw...)
		}
		if name.Exists() {
			out = append(append(out, `,"display":`...), name.Raw...)
		}
		if desc.Exists() {
			out = append(append(out, `,"type":`...), desc.Raw...)
		}
		out = append(out, '}')
		return true
	})
	return string(append(out, ']'))
}

// filterString quotes s as a SCIM filter string (RFC 7644 §3.4.2.2: a
// JSON string; lex.AppendJSONString). s must be valid UTF-8: an invalid
// byte would be sent as U+FFFD and could name another user (the lookup
// refuses such a username first).
func filterString(s string) string { return lex.JSONString(s) }
