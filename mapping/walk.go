package mapping

import (
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/userbridge/userbridge/internal/lex"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// key applies the rules of top-level key k (kr, nil when it has none) to
// its value v, which sum describes when it is an object.
func (b *builder) key(k string, kr *keyRules, v gjson.Result, sum *objectSum, res *Result) *canonical.Error {
	if kr == nil {
		if b.p.rejectExtra {
			k = shortName(k)
			return canonical.FieldError(k, k+" is not a field of this API")
		}
		return b.putExtra(k, v)
	}
	if kr.inside() {
		return b.nested(k, kr, v, res)
	}
	for _, fr := range kr.rules {
		val, vsum := v, sum
		if fr.sub != "" {
			val, vsum = v.Get(fr.sub), nil
			if !val.Exists() {
				continue
			}
		}
		if err := b.apply(fr, val, vsum, res); err != nil {
			return err
		}
	}
	return nil
}

// inside reports whether every rule of the key reads a path inside it
// (profile.city): the key's value is then an object the rules take apart,
// not a value one of them takes whole.
func (kr *keyRules) inside() bool {
	for _, fr := range kr.rules {
		if fr.sub == "" {
			return false
		}
	}
	return len(kr.rules) > 0
}

// nested applies the rules that read paths inside top-level key k. Its value
// is an object (null: every rule's null policy applies, as if each path
// were null); a member on the way to a rule's path is an object too, or
// null. A member no rule reads is an unknown field, as a top-level one is:
// refused with unknownFields: reject, else kept under
// extensions.<dialect>.<k> as an object of those members.
func (b *builder) nested(k string, kr *keyRules, v gjson.Result, res *Result) *canonical.Error {
	if v.Type == gjson.Null {
		for _, fr := range kr.rules {
			if err := b.apply(fr, v, nil, res); err != nil {
				return err
			}
		}
		return nil
	}
	if !v.IsObject() {
		return canonical.FieldError(k, k+" must be an object")
	}
	var extra []byte
	if err := b.inside(k, "", v, kr.rules, res, &extra); err != nil {
		return err
	}
	if extra == nil {
		return nil
	}
	return b.putExtraRaw(k, extra)
}

// inside walks object v, at path (under key k, "" at its top), applying
// the rules whose path is a member of it and going into the members that
// lead to deeper ones. A member of no rule is refused, or kept: appended to
// *extra, an object of the kept members (started on the first) with the
// member's key and value as the client wrote them; a partly read member's
// kept members nest under its key. One pass, linear in the object. A member
// whose name holds a dot is never a rule's: a rule's dots separate members.
func (b *builder) inside(k, path string, v gjson.Result, rules []*fieldRule, res *Result, extra *[]byte) *canonical.Error {
	var err *canonical.Error
	v.ForEach(func(key, val gjson.Result) bool {
		at := key.Str
		if path != "" {
			at = path + "." + key.Str
		}
		whole, deeper := false, false
		for _, fr := range rules {
			if strings.Contains(key.Str, ".") {
				break
			}
			if fr.sub == at {
				whole = true
			} else if strings.HasPrefix(fr.sub, at+".") {
				deeper = true
			}
		}
		switch {
		case whole:
			// A rule takes the member whole; one reading inside it
			// (address and address.city) still reads its path.
			for _, fr := range rules {
				sub := val
				if fr.sub != at {
					if !strings.HasPrefix(fr.sub, at+".") {
						continue
					}
					if sub = val.Get(fr.sub[len(at)+1:]); !sub.Exists() {
						continue
					}
				}
				if err = b.apply(fr, sub, nil, res); err != nil {
					return false
				}
			}
		case deeper && val.Type == gjson.Null:
			for _, fr := range rules {
				if strings.HasPrefix(fr.sub, at+".") {
					if err = b.apply(fr, val, nil, res); err != nil {
						return false
					}
				}
			}
		case deeper && !val.IsObject():
			name := k + "." + at
			err = canonical.FieldError(name, name+" must be an object")
		case deeper:
			var child []byte
			if err = b.inside(k, at, val, rules, res, &child); err == nil && child != nil {
				*extra = appendMember(*extra, key.Raw, child)
			}
		case b.p.rejectExtra:
			name := shortName(k + "." + at)
			err = canonical.FieldError(name, name+" is not a field of this API")
		default:
			*extra = appendMember(*extra, key.Raw, []byte(val.Raw))
		}
		return err == nil
	})
	if err == nil && *extra != nil {
		*extra = append(*extra, '}')
	}
	return err
}

// appendMember appends "key":value to the object being built in obj
// (opening it when obj is nil; the caller closes it).
func appendMember(obj []byte, rawKey string, value []byte) []byte {
	if obj == nil {
		obj = append(make([]byte, 0, 64), '{')
	} else {
		obj = append(obj, ',')
	}
	obj = append(obj, rawKey...)
	obj = append(obj, ':')
	return append(obj, value...)
}

func (b *builder) raw(v gjson.Result) []byte {
	return b.body[v.Index : v.Index+len(v.Raw)]
}

// usernameField is the index of username in canonical.Fields.
var usernameField = canonical.FieldIndex("username")

// apply applies rule fr to value v; sum describes v when it is a top-level
// member's object (nil otherwise).
func (b *builder) apply(fr *fieldRule, v gjson.Result, sum *objectSum, res *Result) *canonical.Error {
	name := fr.source
	if v.Type == gjson.Null {
		if done, err := b.absent(fr, fr.null, "null"); done {
			return err
		}
		return canonical.FieldError(name, name+" must not be null") // null is never kept
	}
	if !checkType(fr.typ, v) {
		return canonical.FieldError(name, name+" must be "+article(fr.typ))
	}
	if v.Type == gjson.String && v.Str == "" {
		if done, err := b.absent(fr, fr.empty, "empty"); done {
			return err
		}
	}
	if err := fr.v.run(name, v, sum); err != nil {
		return err
	}
	if fr.hasTo && fr.to.field == usernameField && v.Type == gjson.String {
		// A rename to a name userbridge would refuse to address would
		// leave a user no later request could name.
		if p := canonical.PathValueProblem(v.Str); p != "" {
			return canonical.FieldError(name, name+" "+p)
		}
	}
	if pw := fr.v.password; pw != nil && pw.NotContainUsername {
		if u := gjson.GetBytes(b.body, gjsonEscape(pw.UsernameField)); u.Exists() {
			if containsUsername(v.Str, u.Str) {
				return canonical.FieldError(name, name+" must not contain the username")
			}
		} else {
			res.stored = &storedCheck{password: strings.Clone(v.Str), field: name} // v.Str is a view of the body
		}
	}
	if fr.enum != nil {
		as, ok := fr.enum[v.String()]
		if !ok {
			return canonical.FieldError(name, name+" must be one of "+fr.enumList)
		}
		for _, a := range as {
			if err := b.setSlot(a.to, a.raw, name); err != nil {
				return err
			}
		}
		if !fr.hasTo {
			return nil
		}
	}
	raw, err := b.shape(fr, v)
	if err != nil {
		return err
	}
	return b.setSlot(fr.to, raw, name)
}

// absent applies a rule's null or empty policy (what: "null" or "empty")
// to a value that is null or "": done reports that the policy took it
// (unset, ignored or refused); with keep, the value goes on as it is.
func (b *builder) absent(fr *fieldRule, pol policy, what string) (done bool, err *canonical.Error) {
	switch pol {
	case polUnset:
		if fr.hasTo {
			return true, b.unsetSlot(fr.to, fr.source)
		}
		return true, nil
	case polIgnore:
		return true, nil
	case polReject:
		return true, canonical.FieldError(fr.source, fr.source+" must not be "+what)
	}
	return false, nil
}

// shape applies wrap, list and items.
func (b *builder) shape(fr *fieldRule, v gjson.Result) ([]byte, *canonical.Error) {
	switch {
	case fr.items != nil:
		return b.items(fr, v)
	case fr.wrap != "":
		if fr.list && v.Str == "" { // a role {"id": ""} names nothing
			return nil, canonical.FieldError(fr.source, fr.source+" must not be empty")
		}
		out := make([]byte, 0, len(v.Raw)+len(fr.wrap)+8)
		if fr.list {
			out = append(out, '[')
		}
		out = append(out, '{')
		out = lex.AppendJSONString(out, fr.wrap)
		out = append(out, ':')
		out = append(out, b.value(fr, v)...)
		out = append(out, '}')
		if fr.list {
			out = append(out, ']')
		}
		return out, nil
	case fr.list:
		out := make([]byte, 0, len(v.Raw)+2)
		out = append(out, '[')
		out = append(out, b.value(fr, v)...)
		return append(out, ']'), nil
	}
	return b.value(fr, v), nil
}

// value is v's JSON as the update carries it: as sent, or a UUID in its
// canonical form under normalize: uuid.
func (b *builder) value(fr *fieldRule, v gjson.Result) []byte {
	if fr.uuid && v.Type == gjson.String {
		if c := CanonicalUUID(v.Str); c != v.Str {
			return lex.AppendJSONString(nil, c)
		}
	}
	return b.raw(v)
}

func (b *builder) items(fr *fieldRule, v gjson.Result) ([]byte, *canonical.Error) {
	it := fr.items
	out := make([]byte, 0, len(v.Raw)+16)
	out = append(out, '[')
	var err *canonical.Error
	i := 0
	v.ForEach(func(_, item gjson.Result) bool {
		at := i // the item's index, named only in an error: itemPath(fr.source, at)
		if i > 0 {
			out = append(out, ',')
		}
		i++
		switch {
		case item.Type == gjson.String && it.wrap != "":
			if item.Str == "" { // a role {"name": ""} names nothing
				where := itemPath(fr.source, at)
				err = canonical.FieldError(where, where+" must not be empty")
				return false
			}
			out = append(out, '{')
			out = lex.AppendJSONString(out, it.wrap)
			out = append(out, ':')
			out = append(out, b.raw(item)...)
			out = append(out, '}')
		case item.IsObject():
			out = append(out, '{')
			n, named := 0, false
			item.ForEach(func(k, x gjson.Result) bool {
				switch {
				case it.keep[k.Str]:
					if x.Type != gjson.String {
						where := itemPath(fr.source, at) + "." + k.Str
						err = canonical.FieldError(where, where+" must be a string")
						return false
					}
					if x.Str == "" && isIDOrName(k.Str) { // names nothing
						where := itemPath(fr.source, at) + "." + k.Str
						err = canonical.FieldError(where, where+" must not be empty")
						return false
					}
					named = named || isIDOrName(k.Str)
					if n > 0 {
						out = append(out, ',')
					}
					n++
					out = append(out, b.raw(k)...)
					out = append(out, ':')
					out = append(out, b.raw(x)...)
				case it.ignore[k.Str]:
				default:
					where := itemPath(fr.source, at) + "." + k.Str
					err = canonical.FieldError(where, where+" is not a field of this API")
					return false
				}
				return true
			})
			if err == nil {
				err = it.check(fr.source, at, item, named)
			}
			out = append(out, '}')
		default:
			what := "an object"
			if it.wrap != "" {
				what = "a string or an object"
			}
			where := itemPath(fr.source, at)
			err = canonical.FieldError(where, where+" must be "+what)
		}
		return err == nil
	})
	if err != nil {
		return nil, err
	}
	return append(out, ']'), nil
}

// check refuses an object item without a required key, or one that kept
// neither the id nor the name every canonical role needs.
func (it *itemsRule) check(source string, at int, item gjson.Result, named bool) *canonical.Error {
	for _, k := range it.required {
		if !item.Get(gjsonEscape(k)).Exists() {
			where := itemPath(source, at) + "." + k
			return canonical.FieldError(where, where+" is required")
		}
	}
	if !named {
		where := itemPath(source, at)
		return canonical.FieldError(where, where+" needs an id or a name")
	}
	return nil
}

// itemPath names item at of the array field source, as errors do: roles[2].
func itemPath(source string, at int) string { return source + "[" + strconv.Itoa(at) + "]" }

func isIDOrName(k string) bool { return k == "id" || k == "name" }
