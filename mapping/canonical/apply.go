package canonical

import (
	"errors"

	"github.com/tidwall/gjson"
)

// ErrNotObject is returned by Apply when the stored user is not a JSON object.
var ErrNotObject = errors.New("canonical: stored user is not a JSON object")

// Apply applies the update doc to the stored canonical user and returns the
// new user as compact JSON. It validates doc first and returns
// ValidateUpdate's error, or ErrNotObject when user is not a JSON object.
//
// A field in set replaces the stored value whole; each
// extensions.<dialect>.<name> is merged on its own, and a dialect object or
// the extensions object left without members is dropped. A field in unset is
// removed. Stored members keep their order; new ones follow in the order of
// set. The password is write-only: Apply never writes it into the user (and
// drops a stored one); storing the credential is the caller's business.
// Read-only fields, updatedAt included, are the caller's too.
func Apply(user, doc []byte) ([]byte, error) {
	if err := validateUpdate(doc); err != nil {
		return nil, err
	}
	if checkSyntax(user) != nil {
		return nil, ErrNotObject
	}
	stored := gjson.ParseBytes(user)
	if !stored.IsObject() {
		return nil, ErrNotObject
	}
	p := newPlan(gjson.ParseBytes(doc))

	out := make([]byte, 0, len(user)+len(doc))
	out = append(out, '{')
	var written uint32 // bit i: Fields[i] written from set
	extDone := false
	stored.ForEach(func(k, v gjson.Result) bool {
		name := k.Str
		if name == "password" {
			return true
		}
		if name == "extensions" && p.touchesExtensions() {
			if !extDone {
				extDone = true
				out = appendMerged(out, k.Raw, p.mergeExtensions(v))
			}
			return true
		}
		if i := FieldIndex(name); i >= 0 {
			bit := uint32(1) << i
			switch {
			case p.unset&bit != 0 || written&bit != 0:
				return true
			case p.set[i].Exists():
				written |= bit
				out = appendMember(out, k.Raw, p.set[i].Raw)
				return true
			}
		}
		out = appendMember(out, k.Raw, v.Raw)
		return true
	})
	p.doc.Get("set").ForEach(func(k, v gjson.Result) bool {
		if k.Str == "extensions" {
			if !extDone && p.touchesExtensions() {
				extDone = true
				out = appendMerged(out, `"extensions"`, p.mergeExtensions(gjson.Result{}))
			}
			return true
		}
		i := FieldIndex(k.Str)
		if i >= 0 && k.Str != "password" && written&(1<<i) == 0 {
			out = appendMember(out, k.Raw, v.Raw)
		}
		return true
	})
	return append(out, '}'), nil
}

// plan is a validated update, indexed for one pass over the stored user.
type plan struct {
	doc     gjson.Result
	set     [len(Fields)]gjson.Result
	unset   uint32
	ext     gjson.Result // set.extensions
	extUn   [][2]string  // unset extension members: dialect, name
	extSets int          // extension members in set
}

func newPlan(doc gjson.Result) *plan {
	p := &plan{doc: doc}
	doc.Get("set").ForEach(func(k, v gjson.Result) bool {
		if k.Str == "extensions" {
			p.ext = v
			v.ForEach(func(_, dv gjson.Result) bool {
				dv.ForEach(func(_, _ gjson.Result) bool { p.extSets++; return true })
				return true
			})
		} else if i := FieldIndex(k.Str); i >= 0 {
			p.set[i] = v
		}
		return true
	})
	doc.Get("unset").ForEach(func(_, v gjson.Result) bool {
		if i := FieldIndex(v.Str); i >= 0 {
			p.unset |= 1 << i
		} else if d, n, ok := splitExtension(v.Str); ok {
			p.extUn = append(p.extUn, [2]string{d, n})
		}
		return true
	})
	return p
}

func (p *plan) touchesExtensions() bool { return p.extSets > 0 || len(p.extUn) > 0 }

// touches reports whether the update sets or unsets a member of dialect.
func (p *plan) touches(dialect string) bool {
	for _, u := range p.extUn {
		if u[0] == dialect {
			return true
		}
	}
	n := 0
	lookup(p.ext, dialect).ForEach(func(_, _ gjson.Result) bool { n++; return false })
	return n > 0
}

func (p *plan) unsets(dialect, name string) bool {
	for _, u := range p.extUn {
		if u[0] == dialect && u[1] == name {
			return true
		}
	}
	return false
}

// mergeExtensions returns the stored extensions object with the update
// merged in; dialects the update leaves alone are kept verbatim.
func (p *plan) mergeExtensions(stored gjson.Result) []byte {
	out := []byte{'{'}
	var seen keySeen
	if stored.IsObject() {
		stored.ForEach(func(dk, dv gjson.Result) bool {
			d := dk.Str
			if !seen.add(d) {
				return true
			}
			if !p.touches(d) {
				out = appendMember(out, dk.Raw, dv.Raw)
				return true
			}
			out = appendMerged(out, dk.Raw, p.mergeDialect(d, dv))
			return true
		})
	}
	p.ext.ForEach(func(dk, _ gjson.Result) bool {
		if !seen.has(dk.Str) {
			out = appendMerged(out, dk.Raw, p.mergeDialect(dk.Str, gjson.Result{}))
		}
		return true
	})
	return append(out, '}')
}

// mergeDialect merges the update's members of one dialect into the stored
// dialect object.
func (p *plan) mergeDialect(dialect string, stored gjson.Result) []byte {
	set := lookup(p.ext, dialect)
	out := []byte{'{'}
	var written keySeen
	if stored.IsObject() {
		stored.ForEach(func(k, v gjson.Result) bool {
			name := k.Str
			if p.unsets(dialect, name) || !written.add(name) {
				return true
			}
			if sv := lookup(set, name); sv.Exists() {
				v = sv
			}
			out = appendMember(out, k.Raw, v.Raw)
			return true
		})
	}
	set.ForEach(func(k, v gjson.Result) bool {
		if written.add(k.Str) {
			out = appendMember(out, k.Raw, v.Raw)
		}
		return true
	})
	return append(out, '}')
}

// lookup finds a member of obj by its unescaped key, whatever characters the
// key holds (a gjson path would read some of them as syntax).
func lookup(obj gjson.Result, key string) gjson.Result {
	var found gjson.Result
	if obj.IsObject() {
		obj.ForEach(func(k, v gjson.Result) bool {
			if k.Str == key {
				found = v
				return false
			}
			return true
		})
	}
	return found
}

// appendMerged appends a member whose value is an object built by a merge,
// or nothing when that object is empty.
func appendMerged(dst []byte, key string, obj []byte) []byte {
	if len(obj) <= 2 {
		return dst
	}
	return appendMember(dst, key, string(obj))
}

// appendMember appends `,key:value` to an object being built, value compacted.
func appendMember(dst []byte, key, value string) []byte {
	if dst[len(dst)-1] != '{' {
		dst = append(dst, ',')
	}
	dst = append(dst, key...)
	dst = append(dst, ':')
	return appendCompact(dst, value)
}

// appendCompact appends a valid JSON value without insignificant whitespace.
func appendCompact(dst []byte, raw string) []byte {
	var t textState
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if !t.inString(c) && (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			continue
		}
		dst = append(dst, c)
	}
	return dst
}
