package mapping

import (
	"sort"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/tidwall/gjson"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// Params gives path parameters by name; gin.Params satisfies it.
type Params interface {
	ByName(name string) string
}

// NoParams is an empty Params.
type NoParams struct{}

// ByName implements Params.
func (NoParams) ByName(string) string { return "" }

// Input is one inbound request as the engine sees it.
type Input struct {
	Body   []byte
	Params Params
	// URL is the absolute request URL without the query (for links).
	URL string
	// Path is the request path.
	Path string
	// RequestID is the request id userbridge answers with.
	RequestID string
}

// Result is a translated request: the canonical update and who it is for.
type Result struct {
	// Update is the canonical update document.
	Update []byte
	// Target says whether Value is an id or a username.
	Target canonical.Target
	// Value is the user's id or username.
	Value string
	// Tenant is the tenant, where the dialect carries one.
	Tenant string

	needStored bool   // the password rule needs the stored username
	password   string // kept only for that check
	pwField    string
}

// NeedsStoredUser reports whether CheckStored must be called with the
// stored user before the update is forwarded.
func (r *Result) NeedsStoredUser() bool { return r.needStored }

// Redacted returns the update with the password value replaced, for
// printing and logs.
func (r *Result) Redacted() []byte { return RedactUpdate(r.Update) }

// RedactUpdate replaces the values of set.password, and of any extension
// member whose name says it holds a secret (a client's "newPassword" kept
// as an unknown field), with "[redacted]".
func RedactUpdate(update []byte) []byte {
	var spans [][2]int
	if v := gjson.GetBytes(update, "set.password"); v.Exists() {
		spans = append(spans, [2]int{v.Index, v.Index + len(v.Raw)})
	}
	gjson.GetBytes(update, "set.extensions").ForEach(func(_, d gjson.Result) bool {
		d.ForEach(func(k, v gjson.Result) bool {
			if secretName(k.Str) && v.Index > 0 {
				spans = append(spans, [2]int{v.Index, v.Index + len(v.Raw)})
			}
			return true
		})
		return true
	})
	if len(spans) == 0 {
		return update
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
	out := make([]byte, 0, len(update))
	at := 0
	for _, sp := range spans {
		out = append(out, update[at:sp[0]]...)
		out = append(out, `"[redacted]"`...)
		at = sp[1]
	}
	return append(out, update[at:]...)
}

// secretName reports whether a field name says its value is a secret.
func secretName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"password", "passwd", "secret", "token", "apikey", "api_key", "credential"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// CheckStored runs the checks that need the stored user (a canonical user
// JSON object), such as "the password must not contain the username".
func (p *Program) CheckStored(r *Result, user []byte) *canonical.Error {
	if !r.needStored {
		return nil
	}
	name := gjson.GetBytes(user, "username").Str
	if containsUsername(r.password, name) {
		return canonical.FieldError(r.pwField, r.pwField+" must not contain the username")
	}
	return nil
}

// builderPool recycles builders: one is about a kilobyte.
var builderPool = sync.Pool{New: func() any {
	b := &builder{}
	b.ruleExt, b.extraExt, b.members = b.ruleBuf[:0], b.extraBuf[:0], b.memBuf[:0]
	return b
}}

// release clears the builder (it must not keep the body alive) and pools it.
// It clears only what a translation wrote: the builder is a kilobyte, and
// its member list holds offsets, no pointers.
func (b *builder) release() {
	for i := range b.set {
		b.set[i], b.from[i] = nil, ""
	}
	clear(b.ruleExt)
	clear(b.extraExt)
	// A list that outgrew its buffer left the buffer's first entries
	// behind: they point into an old body too.
	if cap(b.ruleExt) > len(b.ruleBuf) {
		clear(b.ruleBuf[:])
	}
	if cap(b.extraExt) > len(b.extraBuf) {
		clear(b.extraBuf[:])
	}
	if cap(b.ruleExt) <= len(b.ruleBuf) || cap(b.ruleExt) > 64 {
		b.ruleExt = b.ruleBuf[:0]
	}
	if cap(b.extraExt) <= len(b.extraBuf) || cap(b.extraExt) > 64 {
		b.extraExt = b.extraBuf[:0]
	}
	if cap(b.members) > 256 {
		b.members = b.memBuf[:0]
	}
	b.ruleExt, b.extraExt, b.members = b.ruleExt[:0], b.extraExt[:0], b.members[:0]
	b.p, b.body, b.lastKey, b.unset = nil, nil, nil, 0
	builderPool.Put(b)
}

// builder accumulates one translation. release resets it field by field:
// a field added here must be reset there too.
type builder struct {
	p     *Program
	body  []byte
	set   [len(canonical.Fields)][]byte
	from  [len(canonical.Fields)]string
	unset uint32
	// ruleExt holds extension members set by rules (few); extraExt the
	// client's unknown top-level fields, kept under the own dialect.
	ruleExt  []extEntry
	extraExt []extEntry
	ruleBuf  [4]extEntry
	extraBuf [8]extEntry
	lastKey  []byte // the raw JSON of the key being translated
	members  []topMember
	memBuf   [16]topMember
}

type extEntry struct {
	name  string // dialect.name
	key   []byte // the member name as a JSON string, when taken from the body
	raw   []byte // the value; unused when unset
	from  string
	unset bool
}

func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// Translate turns a request body into the canonical update. The body must
// stay unchanged until the Result is no longer used.
func (p *Program) Translate(in *Input) (*Result, *canonical.Error) {
	body := in.Body
	if len(body) == 0 {
		return nil, canonical.Errorf(canonical.BadRequest, "the request body is empty; send a JSON object")
	}
	b := builderPool.Get().(*builder)
	defer b.release()
	members, gerr := p.guard.checkTop(body, b.members[:0])
	b.members = members
	if gerr != nil {
		if gerr.Key != "" {
			name := shortName(containerPath(body, gerr.Offset) + gerr.Key)
			return nil, canonical.FieldError(name, "the field "+strconv.Quote(name)+" appears more than once")
		}
		return nil, canonical.Errorf(canonical.BadRequest, "the request body is not valid JSON: "+gerr.Reason+" at byte "+strconv.Itoa(gerr.Offset))
	}
	if !isObject(body) {
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
		b.lastKey = body[m.keyAt:m.keyEnd]
		if err := b.key(k, kr, valueAt(body, m.valAt, m.valEnd), res); err != nil {
			return nil, err
		}
	}
	for _, fr := range p.required {
		if !b.get(fr.source).Exists() {
			return nil, canonical.FieldError(fr.source, fr.source+" is required")
		}
	}
	res.Update = b.emit(len(body))
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

// isObject reports whether the (valid) JSON document b is an object.
func isObject(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c == '{'
	}
	return false
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
		val = v.Str
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

// key applies the rules of top-level key k (kr, nil when it has none) to
// its value v.
func (b *builder) key(k string, kr *keyRules, v gjson.Result, res *Result) *canonical.Error {
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
		val := v
		if fr.sub != "" {
			val = v.Get(fr.sub)
			if !val.Exists() {
				continue
			}
		}
		if err := b.apply(fr, val, res); err != nil {
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
			if err := b.apply(fr, v, res); err != nil {
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
				if err = b.apply(fr, sub, res); err != nil {
					return false
				}
			}
		case deeper && val.Type == gjson.Null:
			for _, fr := range rules {
				if strings.HasPrefix(fr.sub, at+".") {
					if err = b.apply(fr, val, res); err != nil {
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

func (b *builder) apply(fr *fieldRule, v gjson.Result, res *Result) *canonical.Error {
	name := fr.source
	if v.Type == gjson.Null {
		switch fr.null {
		case polUnset:
			if fr.hasTo {
				return b.unsetSlot(fr.to, name)
			}
			return nil
		case polIgnore:
			return nil
		}
		return canonical.FieldError(name, name+" must not be null")
	}
	if !checkType(fr.typ, v) {
		return canonical.FieldError(name, name+" must be "+article(fr.typ))
	}
	if v.Type == gjson.String && v.Str == "" {
		switch fr.empty {
		case polUnset:
			if fr.hasTo {
				return b.unsetSlot(fr.to, name)
			}
			return nil
		case polReject:
			return canonical.FieldError(name, name+" must not be empty")
		}
	}
	if err := fr.v.run(name, v); err != nil {
		return err
	}
	if pw := fr.v.password; pw != nil && pw.NotContainUsername {
		if u := gjson.GetBytes(b.body, gjsonEscape(pw.UsernameField)); u.Exists() {
			if containsUsername(v.Str, u.Str) {
				return canonical.FieldError(name, name+" must not contain the username")
			}
		} else {
			res.needStored, res.password, res.pwField = true, v.Str, name
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
		out = appendJSONString(out, fr.wrap)
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
			return appendJSONString(nil, c)
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
			out = appendJSONString(out, it.wrap)
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

func (b *builder) setSlot(s slot, raw []byte, from string) *canonical.Error {
	if s.field < 0 {
		return b.putExt(extEntry{name: s.ext, raw: raw, from: from})
	}
	bit := uint32(1) << s.field
	if b.set[s.field] != nil || b.unset&bit != 0 {
		return b.clash(s.name, from, b.from[s.field])
	}
	b.set[s.field], b.from[s.field] = raw, from
	return nil
}

func (b *builder) unsetSlot(s slot, from string) *canonical.Error {
	if s.field < 0 {
		return b.putExt(extEntry{name: s.ext, from: from, unset: true})
	}
	bit := uint32(1) << s.field
	if b.set[s.field] != nil || b.unset&bit != 0 {
		return b.clash(s.name, from, b.from[s.field])
	}
	b.unset |= bit
	b.from[s.field] = from
	return nil
}

// shortName is a field name as an error shows it: whole up to 128 bytes,
// else its first 64 and an ellipsis (a key may be as long as the body).
func shortName(k string) string {
	if len(k) <= 128 {
		return k
	}
	return strings.ToValidUTF8(k[:64], "") + "…"
}

// maxExtDepth is the deepest a value kept under extensions.<dialect>.<name>
// may be nested: the update adds four levels above it (the document, set,
// extensions, the dialect's object), and the contract allows 32 in all.
const maxExtDepth = canonical.MaxDepth - 4

// extDepthOK reports whether the (valid) JSON value raw is nested at most
// maxExtDepth deep.
func extDepthOK(raw []byte) bool {
	return len(raw) == 0 || (raw[0] != '{' && raw[0] != '[') || canonical.WithinDepth(raw, maxExtDepth)
}

func (b *builder) putExt(e extEntry) *canonical.Error {
	if !e.unset && !extDepthOK(e.raw) {
		return canonical.FieldError(e.from, e.from+" is nested too deeply to be kept: at most "+strconv.Itoa(maxExtDepth)+" levels")
	}
	for _, list := range [2][]extEntry{b.ruleExt, b.extraExt} {
		for _, x := range list {
			if x.name == e.name {
				return b.clash("extensions."+e.name, e.from, x.from)
			}
		}
	}
	b.ruleExt = append(b.ruleExt, e)
	return nil
}

// putExtra keeps an unknown top-level field under extensions.<dialect>.
// Top-level keys are unique (the guard refuses duplicates), so it is checked
// only against the members rules set. A key that cannot name an extension
// member is refused: it could be neither kept nor dropped silently.
func (b *builder) putExtra(k string, v gjson.Result) *canonical.Error {
	if v.Type == gjson.Null {
		return b.putExtraEntry(k, nil, true)
	}
	return b.putExtraEntry(k, b.raw(v), false)
}

// putExtraRaw keeps raw, a JSON value userbridge built, as the unknown
// field k.
func (b *builder) putExtraRaw(k string, raw []byte) *canonical.Error {
	return b.putExtraEntry(k, raw, false)
}

func (b *builder) putExtraEntry(k string, raw []byte, unset bool) *canonical.Error {
	if len(k) > 128 {
		short := shortName(k)
		return canonical.FieldError(short, short+" is not a field of this API (unknown fields are kept only with names of at most 128 characters)")
	}
	if !canonical.ValidMemberName(k) {
		return canonical.FieldError(k, k+" is not a field of this API (unknown fields are kept only when named with letters, digits, '_' or '-')")
	}
	if !unset && !extDepthOK(raw) {
		return canonical.FieldError(k, k+" is nested too deeply to be kept: at most "+strconv.Itoa(maxExtDepth)+" levels")
	}
	e := extEntry{name: b.p.name + "." + k, key: b.lastKey, from: k, unset: unset, raw: raw}
	for _, x := range b.ruleExt {
		if x.name == e.name {
			return b.clash("extensions."+e.name, e.from, x.from)
		}
	}
	b.extraExt = append(b.extraExt, e)
	return nil
}

func (b *builder) clash(field, from, other string) *canonical.Error {
	if other == from {
		return canonical.FieldError(from, from+" sets "+field+" twice")
	}
	return canonical.FieldError(from, from+" and "+other+" both set "+field+"; send only one")
}

// emit writes {"set":{...},"unset":[...]} in canonical field order.
func (b *builder) emit(hint int) []byte {
	out := make([]byte, 0, b.size(hint))
	out = append(out, `{"set":{`...)
	n := 0
	for i := range b.set {
		if b.set[i] == nil {
			continue
		}
		if n > 0 {
			out = append(out, ',')
		}
		n++
		out = append(out, '"')
		out = append(out, canonical.Fields[i].Name...)
		out = append(out, `":`...)
		out = append(out, b.set[i]...)
	}
	out = b.emitExtensions(out, n > 0)
	out = append(out, `},"unset":[`...)
	n = 0
	for i := range canonical.Fields {
		if b.unset&(1<<i) == 0 {
			continue
		}
		if n > 0 {
			out = append(out, ',')
		}
		n++
		out = append(out, '"')
		out = append(out, canonical.Fields[i].Name...)
		out = append(out, '"')
	}
	for _, list := range [2][]extEntry{b.ruleExt, b.extraExt} {
		for _, e := range list {
			if !e.unset {
				continue
			}
			if n > 0 {
				out = append(out, ',')
			}
			n++
			out = appendJSONString(out, "extensions."+e.name)
		}
	}
	return append(out, "]}"...)
}

// size is about what emit writes, so that it is written into one
// allocation: the values (at most the body's length, hint) and the names
// and punctuation around them. An escape in an extension's name can take it
// past this; append then grows the buffer.
func (b *builder) size(hint int) int {
	n := hint + len(`{"set":{},"unset":[]}`) + len(`"extensions":{}`)
	for i := range b.set {
		if b.set[i] != nil || b.unset&(1<<i) != 0 {
			n += len(canonical.Fields[i].Name) + len(`"":,`)
		}
	}
	for _, list := range [2][]extEntry{b.ruleExt, b.extraExt} {
		for _, e := range list {
			n += len(e.name) + len(`,"extensions.":{}`)
		}
	}
	return n
}

// emitExtensions writes "extensions":{...}: the own dialect's members
// first (rules' and the client's), then other dialects' members set by rules.
func (b *builder) emitExtensions(out []byte, comma bool) []byte {
	own := b.p.name
	var dialects [4]string
	others := dialects[:0]
	any := false
	for _, list := range [2][]extEntry{b.ruleExt, b.extraExt} {
		for _, e := range list {
			if e.unset {
				continue
			}
			any = true
			if d := dialectOf(e.name); d != own && !contains(others, d) {
				others = append(others, d)
			}
		}
	}
	if !any {
		return out
	}
	if comma {
		out = append(out, ',')
	}
	out = append(out, `"extensions":{`...)
	groups := 0
	for _, d := range append([]string{own}, others...) {
		m := 0
		for _, list := range [2][]extEntry{b.ruleExt, b.extraExt} {
			for _, e := range list {
				if e.unset || dialectOf(e.name) != d {
					continue
				}
				if m == 0 {
					if groups > 0 {
						out = append(out, ',')
					}
					groups++
					out = appendJSONString(out, d)
					out = append(out, `:{`...)
				} else {
					out = append(out, ',')
				}
				m++
				if e.key != nil {
					out = append(out, e.key...)
				} else {
					out = appendJSONString(out, e.name[len(d)+1:])
				}
				out = append(out, ':')
				out = append(out, e.raw...)
			}
		}
		if m > 0 {
			out = append(out, '}')
		}
	}
	return append(out, '}')
}

func dialectOf(name string) string {
	for i := 0; i < len(name); i++ {
		if name[i] == '.' {
			return name[:i]
		}
	}
	return name
}

// appendJSONString appends s as a JSON string (s is valid UTF-8).
func appendJSONString(out []byte, s string) []byte {
	out = append(out, '"')
	out = appendJSONStringBody(out, s)
	return append(out, '"')
}

// appendJSONStringBody appends s escaped for the inside of a JSON string.
func appendJSONStringBody(out []byte, s string) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		out = append(out, s[start:i]...)
		switch c {
		case '"', '\\':
			out = append(out, '\\', c)
		case '\n':
			out = append(out, '\\', 'n')
		case '\r':
			out = append(out, '\\', 'r')
		case '\t':
			out = append(out, '\\', 't')
		default:
			out = append(out, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	return append(out, s[start:]...)
}
