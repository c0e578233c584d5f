package canonical

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// MaxDepth is the deepest nesting of objects and arrays an update document or
// a stored user may have.
const MaxDepth = 32

// ValidateUpdate reports whether doc is a canonical update document
// (docs/canonical.md). It returns nil or a *Error: BadRequest when doc is not
// a JSON object of "set" and "unset", InvalidField with Field naming the
// offending field otherwise. Extension members are named
// "extensions.<dialect>.<name>"; dialects match [a-z][a-z0-9_-]* and names
// [A-Za-z0-9_-]+ so that every such name is also a plain gjson/sjson path.
// ValidateUpdate never panics, whatever doc holds.
func ValidateUpdate(doc []byte) error {
	if err := validateUpdate(doc); err != nil {
		return err
	}
	return nil
}

func validateUpdate(doc []byte) *Error {
	if err := checkSyntax(doc); err != nil {
		return err
	}
	root := gjson.ParseBytes(doc)
	if !root.IsObject() {
		return Errorf(BadRequest, "an update must be a JSON object")
	}
	var set, unset gjson.Result
	var err *Error
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "set":
			if set.Exists() {
				err = Errorf(BadRequest, `"set" appears twice`)
			} else if set = v; !v.IsObject() {
				err = Errorf(BadRequest, `"set" must be an object`)
			}
		case "unset":
			if unset.Exists() {
				err = Errorf(BadRequest, `"unset" appears twice`)
			} else if unset = v; !v.IsArray() {
				err = Errorf(BadRequest, `"unset" must be an array of field names`)
			}
		default:
			err = Errorf(BadRequest, "an update holds only \"set\" and \"unset\", not "+quote(k.Str))
		}
		return err == nil
	})
	if err != nil {
		return err
	}
	var seen fieldSet
	if err := seen.validateSet(set); err != nil {
		return err
	}
	return seen.validateUnset(unset)
}

// fieldSet remembers which fields an update names, to refuse duplicates and
// a field in both set and unset.
type fieldSet struct {
	set, unset uint32           // bit i is Fields[i]
	ext        map[string]uint8 // "dialect.name" -> inSet|inUnset
}

const (
	inSet uint8 = 1 << iota
	inUnset
)

func (s *fieldSet) validateSet(set gjson.Result) *Error {
	var err *Error
	var sawExt bool
	set.ForEach(func(k, v gjson.Result) bool {
		name := k.Str
		if name == "extensions" {
			if sawExt {
				err = FieldError(name, "appears twice in set")
			} else {
				sawExt = true
				err = s.validateExtensions(v)
			}
			return err == nil
		}
		i := FieldIndex(name)
		switch {
		case i < 0 && isReadOnly(name):
			err = FieldError(name, "is read-only")
		case i < 0:
			err = FieldError(name, "is not a canonical field")
		case s.set&(1<<i) != 0:
			err = FieldError(name, "appears twice in set")
		default:
			s.set |= 1 << i
			if err = checkKind(name, Fields[i].Kind, v); err == nil {
				err = checkValue(name, v)
			}
		}
		return err == nil
	})
	return err
}

func (s *fieldSet) validateExtensions(ext gjson.Result) *Error {
	if !ext.IsObject() {
		return FieldError("extensions", "must be an object of {dialect: {name: value}}")
	}
	var err *Error
	var dialects keySeen
	ext.ForEach(func(dk, dv gjson.Result) bool {
		d := dk.Str
		field := "extensions." + d
		switch {
		case !ValidDialectName(d):
			err = FieldError(field, "dialect must match [a-z][a-z0-9_-]*")
		case !dialects.add(d):
			err = FieldError(field, "appears twice")
		case !dv.IsObject():
			err = FieldError(field, "must be an object of {name: value}")
		}
		if err != nil {
			return false
		}
		dv.ForEach(func(nk, nv gjson.Result) bool {
			n := nk.Str
			field := "extensions." + d + "." + n
			switch {
			case !ValidMemberName(n):
				err = FieldError(field, "name must match [A-Za-z0-9_-]+")
			case s.ext[d+"."+n]&inSet != 0:
				err = FieldError(field, "appears twice")
			case nv.Type == gjson.Null:
				err = FieldError(field, "must not be null: remove it with unset")
			default:
				s.mark(d+"."+n, inSet)
				if err = checkDuplicates(field, nv); err == nil {
					err = checkHoldable(field, nv.Raw)
				}
			}
			return err == nil
		})
		return err == nil
	})
	return err
}

func (s *fieldSet) mark(key string, flag uint8) {
	if s.ext == nil {
		s.ext = make(map[string]uint8)
	}
	s.ext[key] |= flag
}

func (s *fieldSet) validateUnset(unset gjson.Result) *Error {
	var err *Error
	unset.ForEach(func(_, v gjson.Result) bool {
		if v.Type != gjson.String {
			err = Errorf(BadRequest, `"unset" must be an array of field names`)
			return false
		}
		name := v.Str
		if i := FieldIndex(name); i >= 0 {
			switch {
			case s.set&(1<<i) != 0:
				err = FieldError(name, "is in both set and unset")
			case s.unset&(1<<i) != 0:
				err = FieldError(name, "appears twice in unset")
			}
			s.unset |= 1 << i
			return err == nil
		}
		d, n, ok := splitExtension(name)
		switch {
		case ok:
			key := d + "." + n
			if f := s.ext[key]; f&inSet != 0 {
				err = FieldError(name, "is in both set and unset")
			} else if f&inUnset != 0 {
				err = FieldError(name, "appears twice in unset")
			}
			s.mark(key, inUnset)
		case name == "extensions" || strings.HasPrefix(name, "extensions."):
			err = FieldError(name, "unset removes one extension member at a time: extensions.<dialect>.<name>")
		case isReadOnly(name):
			err = FieldError(name, "is read-only")
		default:
			err = FieldError(name, "is not a canonical field")
		}
		return err == nil
	})
	return err
}

// splitExtension splits "extensions.<dialect>.<name>" into its dialect and
// name, both valid.
func splitExtension(path string) (dialect, name string, ok bool) {
	rest, found := strings.CutPrefix(path, "extensions.")
	if !found {
		return "", "", false
	}
	dialect, name, found = strings.Cut(rest, ".")
	if !found || !ValidDialectName(dialect) || !ValidMemberName(name) {
		return "", "", false
	}
	return dialect, name, true
}

func checkKind(name string, kind Kind, v gjson.Result) *Error {
	switch kind {
	case KindString:
		if v.Type != gjson.String {
			return FieldError(name, "must be a string")
		}
	case KindBool:
		if !v.IsBool() {
			return FieldError(name, "must be a boolean")
		}
	case KindObject:
		if !v.IsObject() {
			return FieldError(name, "must be an object")
		}
		return checkDuplicates(name, v)
	case KindRoles:
		return checkRoles(name, v)
	}
	return nil
}

// checkRoles accepts an array of {id?, name?, description?} with string
// values and at least an id or a name; an id or a name is never "" (it
// would name nothing).
func checkRoles(name string, v gjson.Result) *Error {
	const msg = "must be an array of {id, name, description} with string values and a non-empty id or name"
	if !v.IsArray() {
		return FieldError(name, msg)
	}
	var err *Error
	v.ForEach(func(_, role gjson.Result) bool {
		if !role.IsObject() {
			err = FieldError(name, msg)
			return false
		}
		var keys keySeen
		role.ForEach(func(k, rv gjson.Result) bool {
			switch k.Str {
			case "id", "name":
				if rv.Type != gjson.String || rv.Str == "" || !keys.add(k.Str) {
					err = FieldError(name, msg)
				}
			case "description":
				if rv.Type != gjson.String || !keys.add(k.Str) {
					err = FieldError(name, msg)
				}
			default:
				err = FieldError(name, msg)
			}
			return err == nil
		})
		if err == nil && !keys.has("id") && !keys.has("name") {
			err = FieldError(name, msg)
		}
		return err == nil
	})
	return err
}

// checkDuplicates refuses a duplicate key anywhere inside an opaque value.
// checkSyntax has bounded the depth, so the recursion is bounded too.
func checkDuplicates(field string, v gjson.Result) *Error {
	if v.Type != gjson.JSON {
		return nil
	}
	obj := v.IsObject()
	var keys keySeen
	var err *Error
	v.ForEach(func(k, inner gjson.Result) bool {
		if obj && !keys.add(k.Str) {
			err = FieldError(field, "has the key "+quote(k.Str)+" twice")
		} else {
			err = checkDuplicates(field, inner)
		}
		return err == nil
	})
	return err
}

// checkSyntax refuses what is not one valid UTF-8 JSON value nested at most
// MaxDepth deep. The depth is counted before gjson, which recurses, sees it.
func checkSyntax(doc []byte) *Error {
	if !WithinDepth(doc, MaxDepth) {
		return Errorf(BadRequest, "JSON nested deeper than 32 levels")
	}
	if !utf8.Valid(doc) || !gjson.ValidBytes(doc) {
		return Errorf(BadRequest, "not valid JSON")
	}
	return nil
}

// WithinDepth reports whether JSON text doc nests objects and arrays at
// most max deep. It only counts brackets outside strings, before any parser
// (which may recurse) sees the text.
func WithinDepth(doc []byte, max int) bool {
	depth := 0
	for i := 0; i < len(doc); i++ {
		switch doc[i] {
		case '"':
			// A string's bytes are skipped whole: to its closing quote,
			// one no odd run of backslashes escapes.
			end := stringEnd(doc, i+1)
			if end < 0 {
				return true // unterminated: the parser says so
			}
			i = end
		case '{', '[':
			if depth++; depth > max {
				return false
			}
		case '}', ']':
			depth--
		}
	}
	return true
}

// stringEnd is the index of the quote that closes the JSON string whose
// contents start at from, or -1 when none does.
func stringEnd(doc []byte, from int) int {
	for {
		q := bytes.IndexByte(doc[from:], '"')
		if q < 0 {
			return -1
		}
		q += from
		n := 0
		for j := q - 1; j >= from && doc[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			return q
		}
		from = q + 1
	}
}

// textState follows a JSON text byte by byte, to tell the bytes of its
// strings from its structure.
type textState struct{ str, escaped bool }

// inString reports whether c, the text's next byte, belongs to a string
// (its quotes included).
func (t *textState) inString(c byte) bool {
	switch {
	case t.str:
		switch {
		case t.escaped:
			t.escaped = false
		case c == '\\':
			t.escaped = true
		case c == '"':
			t.str = false
		}
		return true
	case c == '"':
		t.str = true
		return true
	}
	return false
}

func isReadOnly(name string) bool {
	for _, f := range ReadOnly {
		if f == name {
			return true
		}
	}
	return false
}

// ValidDialectName reports whether s may name a dialect in extensions:
// a lower-case letter, then letters, digits, '_' or '-', at most 64.
func ValidDialectName(s string) bool { return validDialectName(s) }

func validDialectName[T string | []byte](s T) bool {
	if len(s) == 0 || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ValidMemberName reports whether s may name an extension member:
// letters, digits, '_' or '-', 1 to 128 of them.
func ValidMemberName(s string) bool { return validMemberName(s) }

func validMemberName[T string | []byte](s T) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// keySeen is a set of object keys that allocates only past 24 keys.
type keySeen struct {
	small [24]string // a canonical user's members fit: no map
	n     int
	m     map[string]struct{}
}

// add records key and reports whether it was new.
func (k *keySeen) add(key string) bool {
	if k.has(key) {
		return false
	}
	if k.n < len(k.small) {
		k.small[k.n] = key
		k.n++
		return true
	}
	if k.m == nil {
		k.m = make(map[string]struct{})
	}
	k.m[key] = struct{}{}
	return true
}

func (k *keySeen) has(key string) bool {
	for _, s := range k.small[:k.n] {
		if s == key {
			return true
		}
	}
	_, ok := k.m[key]
	return ok
}

// quote quotes a caller's key for a message, cut to a readable length.
func quote(s string) string {
	if len(s) > 64 {
		return strconv.Quote(strings.ToValidUTF8(s[:64], "")) + "..."
	}
	return strconv.Quote(s)
}
