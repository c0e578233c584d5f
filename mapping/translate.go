package mapping

import (
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/userbridge/userbridge/internal/lex"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// Translate turns a request body into the canonical update. The Result and
// the error own their memory: the body may be reused as soon as Translate
// returns.
func (p *Program) Translate(in *Input) (*Result, *canonical.Error) {
	res, e := p.translate(in)
	if e != nil {
		return nil, owned(e)
	}
	return res, nil
}

// owned is a copy of e whose strings are its own. While translating, an
// error may name a field with a view of the body (a key as the client wrote
// it); the copy is made once, on the way out, so that the body's walk can
// read keys without copying each.
func owned(e *canonical.Error) *canonical.Error {
	c := *e
	c.Field, c.Message = strings.Clone(e.Field), strings.Clone(e.Message)
	return &c
}

// translate is Translate. Its Result owns its strings (each is copied where
// it is taken from the body); an error it returns may name a field with a
// view of the body, which Translate copies.
func (p *Program) translate(in *Input) (*Result, *canonical.Error) {
	body := in.Body
	if len(body) == 0 {
		return nil, canonical.Errorf(canonical.BadRequest, "the request body is empty; send a JSON object")
	}
	b := builderPool.Get().(*builder)
	defer b.release()
	members, gerr := p.guard.checkTop(body, b.members[:0])
	b.members = members
	if gerr != nil {
		if gerr.Duplicate {
			name := shortName(containerPath(body, gerr.Offset) + gerr.Key)
			return nil, canonical.FieldError(name, "the field "+strconv.Quote(name)+" appears more than once")
		}
		if gerr.Unholdable {
			return nil, unholdable(body, gerr)
		}
		return nil, canonical.Errorf(canonical.BadRequest, "the request body is not valid JSON: "+gerr.Reason+" at byte "+strconv.Itoa(gerr.Offset))
	}
	if !lex.OpensObject(body) {
		return nil, canonical.Errorf(canonical.BadRequest, "the request body must be a JSON object")
	}
	res := &Result{}
	b.p, b.body = p, body
	if err := p.target(in, b, res); err != nil {
		return nil, err
	}
	for i := range members {
		m := &members[i]
		k := m.key(body)
		kr := p.keyTab.get(k)
		if kr != nil && (kr.readOnly || kr.target) {
			continue // read without looking at the value
		}
		b.keyAt, b.keyEnd = m.keyAt, m.keyEnd
		if err := b.key(k, kr, valueAt(body, m.valAt, m.valEnd), &m.sum, res); err != nil {
			return nil, err
		}
	}
	for _, fr := range p.required {
		if !b.get(fr.source).Exists() {
			return nil, canonical.FieldError(fr.source, fr.source+" is required")
		}
	}
	res.update = b.emit(len(body))
	return res, nil
}

// containerPath is the path, in the request's terms ("address.", "roles[0].",
// "" at the top), of the innermost object holding the byte at off: where a
// duplicate key the guard found stands. Only on that error: it walks the body.
func containerPath(body []byte, off int) string {
	path := ""
	v := gjson.ParseBytes(body)
	for {
		var next gjson.Result
		var step string
		found := false
		i := 0
		v.ForEach(func(k, val gjson.Result) bool {
			if (val.IsObject() || val.IsArray()) && val.Index <= off && off < val.Index+len(val.Raw) {
				next, found = val, true
				if v.IsArray() {
					step = "[" + strconv.Itoa(i) + "]"
				} else {
					step = k.Str
					if path != "" {
						step = "." + step
					}
				}
				return false
			}
			i++
			return true
		})
		if !found {
			if path != "" && !strings.HasSuffix(path, ".") {
				path += "."
			}
			return path
		}
		path += step
		v = next
	}
}

// unholdable is the error for a body the guard refused for a value no
// backend could hold as sent: invalid_field naming the value (or the key)
// by its path in the request.
func unholdable(body []byte, gerr *GuardError) *canonical.Error {
	path, key := valuePath(body, gerr.Offset)
	why := gerr.Reason
	if key { // a key is named by its object: its name would repeat what is refused
		why = "has a key that " + why
	}
	name := shortName(path)
	if name == "" {
		return canonical.Errorf(canonical.BadRequest, "the request body "+why)
	}
	return canonical.FieldError(name, name+" "+why)
}

// valuePath is the path, in the request's terms (address.street, roles[1],
// tags.team), of the value that starts at byte off of the (valid) JSON
// body, or of the object whose key starts there (key); "" for the body
// itself. Only on that error: it walks the body.
func valuePath(body []byte, off int) (path string, key bool) {
	v := gjson.ParseBytes(body)
	for {
		var next gjson.Result
		done, found := false, false
		i := 0
		v.ForEach(func(k, val gjson.Result) bool {
			step := "[" + strconv.Itoa(i) + "]"
			if v.IsObject() {
				step = k.Str
				if path != "" {
					step = "." + step
				}
			}
			i++
			switch {
			case v.IsObject() && k.Index == off:
				done, key = true, true
			case val.Index <= off && off < val.Index+len(val.Raw):
				path, found = path+step, true
				next, done = val, !val.IsObject() && !val.IsArray()
			default:
				return true
			}
			return false
		})
		if done || !found {
			return path, key
		}
		v = next
	}
}

// get reads path from the body: a top-level key from the members the
// guard found (every one of them, keys decoded: one not there is absent), a
// dotted path through gjson.
func (b *builder) get(path string) gjson.Result {
	if strings.IndexByte(path, '.') >= 0 {
		return gjson.GetBytes(b.body, gjsonEscape(path))
	}
	for i := range b.members {
		if m := &b.members[i]; m.key(b.body) == path {
			return valueAt(b.body, m.valAt, m.valEnd)
		}
	}
	return gjson.Result{}
}

// valueAt is the gjson.Result of the (valid) JSON value body[at:end], as
// gjson.Get would return it, without a second scan of an object or array.
func valueAt(body []byte, at, end int) gjson.Result {
	raw := str(body[at:end])
	switch body[at] {
	case '{', '[':
		return gjson.Result{Type: gjson.JSON, Raw: raw, Index: at}
	case '"':
		if !strings.Contains(raw, "\\") {
			return gjson.Result{Type: gjson.String, Raw: raw, Str: raw[1 : len(raw)-1], Index: at}
		}
	case 't':
		return gjson.Result{Type: gjson.True, Raw: raw, Index: at}
	case 'f':
		return gjson.Result{Type: gjson.False, Raw: raw, Index: at}
	case 'n':
		return gjson.Result{Type: gjson.Null, Raw: raw, Index: at}
	}
	r := gjson.Parse(raw)
	r.Index = at
	return r
}

// gjsonEscape is the identity for the plain keys rule files use; it exists
// so that a key with gjson syntax characters is still read literally.
func gjsonEscape(path string) string {
	for i := 0; i < len(path); i++ {
		switch path[i] {
		case '*', '?', '|', '#', '@', '!', '\\':
			return gjson.Escape(path)
		}
	}
	return path
}

func (p *Program) target(in *Input, b *builder, res *Result) *canonical.Error {
	params := in.Params
	if params == nil {
		params = NoParams{}
	}
	var val, field string
	if p.targetParam != "" {
		field = p.targetParam
		val = params.ByName(p.targetParam)
	} else {
		field = p.targetBody
		v := b.get(p.targetBody)
		if v.Exists() && v.Type != gjson.String {
			return canonical.FieldError(field, field+" must be a string")
		}
		val = strings.Clone(v.Str) // v.Str is a view of the body
	}
	if val == "" {
		return canonical.FieldError(field, field+" is required")
	}
	if val == "." || val == ".." {
		return canonical.FieldError(field, field+" is not a valid user reference")
	}
	if p.targetUUID {
		val = CanonicalUUID(val)
	}
	res.Value = val
	switch p.targetBy {
	case "id":
		res.Target = canonical.ByID
	case "username":
		res.Target = canonical.ByUsername
	default:
		res.Target = canonical.ByUsername
		if IsUUID(val) {
			res.Target = canonical.ByID
		}
	}
	if p.tenantParam != "" {
		res.Tenant = params.ByName(p.tenantParam)
	}
	return nil
}

// Addressed is the user the request in names, found as Translate finds it
// (the route parameter, or the body's top-level member, normalized as the
// rules say), without translating the rest: what a caller that must know
// the user before the request is translated (the per-user order of a
// migration) reads. ok is false when the request names no user Translate
// would accept: Translate refuses such a request.
func (p *Program) Addressed(in *Input) (a canonical.Addressed, ok bool) {
	res := &Result{}
	b := builderPool.Get().(*builder)
	defer b.release()
	if p.targetBody != "" {
		body := in.Body
		if len(body) == 0 || !lex.OpensObject(body) {
			return a, false
		}
		members, gerr := p.guard.checkTop(body, b.members[:0])
		b.members = members
		if gerr != nil {
			return a, false
		}
		b.p, b.body = p, body
	}
	if p.target(in, b, res) != nil {
		return a, false
	}
	return canonical.Addressed{Target: res.Target, Value: res.Value, Tenant: res.Tenant}, true
}
