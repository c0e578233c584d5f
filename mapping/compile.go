package mapping

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
	"gopkg.in/yaml.v3"

	"github.com/userbridge/userbridge/mapping/canonical"
)

// Options tune a Program at compile time.
type Options struct {
	// Config overrides the rule file's config constants.
	Config map[string]string
	// MaxDepth is the deepest JSON nesting accepted (default 32).
	MaxDepth int
}

// Program is a compiled rule file. It is immutable and safe for concurrent use.
type Program struct {
	file            *File
	name            string
	extPrefix       string // "extensions.<dialect>."
	contentTypes    []string
	forward         []string
	upstreamHeaders []string // response.upstreamHeaders, canonical form
	credentials     []string
	guard           Guard

	targetParam string
	targetBody  string
	targetBy    string
	targetUUID  bool // normalize: uuid
	tenantParam string
	rejectExtra bool

	keys     map[string]*keyRules
	keyTab   keyTable // keys, for lookups while translating
	required []*fieldRule
	sources  map[string]string // canonical field → source name, for upstream errors
	params   map[string]bool   // the route's parameters, by name

	success *successTmpl
	errs    *errorTmpls
	config  map[string]string
}

type keyRules struct {
	readOnly bool
	target   bool // the key names the user (target from body)
	rules    []*fieldRule
}

type jsonType uint8

const (
	typeAny jsonType = iota
	typeString
	typeBool
	typeNumber
	typeInteger
	typeObject
	typeArray
)

var typeNames = map[string]jsonType{"": typeAny, "any": typeAny, "string": typeString, "boolean": typeBool,
	"number": typeNumber, "integer": typeInteger, "object": typeObject, "array": typeArray}

func (t jsonType) String() string {
	for k, v := range typeNames {
		if v == t && k != "" && k != "any" {
			return k
		}
	}
	return "any"
}

type policy uint8

const (
	polKeep policy = iota
	polUnset
	polReject
	polIgnore
)

// slot is a canonical destination: a field index, or an extension member.
type slot struct {
	field int    // index in canonical.Fields, or -1
	ext   string // "dialect.name" when field is -1
	name  string // the canonical name, for messages and unset
}

type assign struct {
	to  slot
	raw []byte
}

type fieldRule struct {
	source   string // as written
	key      string // top-level key
	sub      string // gjson path under key, or ""
	to       slot
	hasTo    bool
	typ      jsonType
	required bool
	empty    policy
	null     policy
	enum     map[string][]assign
	enumList string
	wrap     string
	list     bool
	uuid     bool // normalize: uuid
	items    *itemsRule
	v        validators
}

type itemsRule struct {
	wrap     string
	keep     map[string]bool
	required []string
	ignore   map[string]bool
}

// problems collects every compile error at once.
type problems struct {
	name string
	root *yaml.Node // the file as decoded, for the line of a problem; nil: none
	errs []error
	// sources are the template sources allowed; nil: a dialect's.
	sources []string
	// params are the route's parameters, config the file's declared
	// constants: what ${param.NAME} and ${config.NAME} may name; nil: not
	// checked (the rules upstream profile's templates).
	params map[string]bool
	route  string
	config map[string]bool
	// success is set while the success answer's templates are compiled:
	// there is no error to read there.
	success bool
}

func (p *problems) addf(where, format string, args ...any) {
	file, where := Locate(p.name, p.root, where)
	p.errs = append(p.errs, fmt.Errorf("%w: %s: %s: %s", ErrRules, file, where, fmt.Sprintf(format, args...)))
}

func (p *problems) err() error { return errors.Join(p.errs...) }

// Load parses and compiles a rule file; name is used in messages.
func Load(name string, data []byte, opts Options) (*Program, error) {
	f, err := Parse(name, data)
	if err != nil {
		return nil, err
	}
	return Compile(name, f, opts)
}

// Compile checks a parsed rule file and compiles it. Every problem is
// reported, each with where it is.
func Compile(name string, f *File, opts Options) (*Program, error) {
	pr := &problems{name: name, root: f.root}
	p := &Program{file: f, name: f.Dialect, keys: map[string]*keyRules{}, sources: map[string]string{},
		guard: Guard{MaxDepth: opts.MaxDepth}}
	if !canonical.ValidDialectName(f.Dialect) {
		pr.addf("dialect", "%q is not a dialect name (lower-case letters, digits, '-' or '_')", f.Dialect)
	}
	p.extPrefix = "extensions." + f.Dialect + "."
	p.compileRoute(pr)
	p.compileRequest(pr)
	p.keyTab = newKeyTable(p.keys)
	p.config = map[string]string{}
	for k, v := range f.Config {
		p.config[k] = v
	}
	for k, v := range opts.Config {
		if _, ok := f.Config[k]; !ok {
			pr.addf("config."+k, "the rule file declares no such config constant")
		}
		p.config[k] = v
	}
	pr.params, pr.route, pr.config = p.params, f.Route.Path, map[string]bool{}
	for k := range f.Config {
		pr.config[k] = true
	}
	pr.success = true
	p.success = compileSuccess(pr, &f.Response)
	pr.success = false
	if f.Response.Body.Kind != 0 && f.Response.Status == http.StatusResetContent {
		// 204 is refused with a body by compileSuccess; 1xx and 304, which
		// forbid one too, are no success statuses.
		pr.addf("response.body", "a 205 answer has no body")
	}
	checkHeaderNames(pr, "response.headers", f.Response.Headers)
	p.upstreamHeaders = compileUpstreamHeaders(pr, f.Response.UpstreamHeaders)
	p.errs = compileErrors(pr, &f.Errors)
	checkHeaderNames(pr, "errors.headers", f.Errors.Headers)
	for _, k := range sortedKeys(f.Errors.ByCode) {
		checkHeaderNames(pr, "errors.byCode."+k+".headers", f.Errors.ByCode[k].Headers)
	}
	if err := pr.err(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Program) compileRoute(pr *problems) {
	r := &p.file.Route
	r.Method = strings.ToUpper(r.Method)
	switch r.Method {
	case http.MethodPut, http.MethodPatch, http.MethodPost:
	default:
		pr.addf("route.method", "%q: an update is PUT, PATCH or POST", r.Method)
	}
	if !strings.HasPrefix(r.Path, "/") {
		pr.addf("route.path", "%q must start with '/'", r.Path)
	}
}

func (p *Program) compileRequest(pr *problems) {
	rq := &p.file.Request
	p.contentTypes = rq.ContentTypes
	if len(p.contentTypes) == 0 {
		p.contentTypes = []string{"application/json"}
	}
	for i, ct := range rq.ContentTypes {
		if !matchableMediaType(ct) {
			pr.addf(fmt.Sprintf("request.contentTypes[%d]", i), "%q cannot match a request's Content-Type as meant: an entry is a plain media type, type/subtype "+
				"(e.g. application/json), matched exactly: no parameters (a client's charset=utf-8 is accepted with any entry), "+
				"no wildcards (never expanded)", ct)
		}
	}
	for i, h := range rq.Headers {
		c := http.CanonicalHeaderKey(h)
		p.forward = append(p.forward, c)
		where := fmt.Sprintf("request.forwardHeaders[%d]", i)
		switch {
		case h == "":
			pr.addf(where, "empty header name")
		case !httpguts.ValidHeaderFieldName(h):
			pr.addf(where, "%q is not a header name", h)
		case credentialHeader[c]:
			pr.addf(where, "%s carries credentials: it belongs in credentialHeaders, never in forwardHeaders", c)
		case connectionHeader[c]:
			pr.addf(where, "%s is the connection's or the body's own: userbridge's request to the upstream has its own, so it cannot be forwarded", c)
		}
	}
	for i, h := range rq.Credentials {
		c := http.CanonicalHeaderKey(h)
		p.credentials = append(p.credentials, c)
		switch {
		case h == "":
			pr.addf(fmt.Sprintf("request.credentialHeaders[%d]", i), "empty header name")
		case !httpguts.ValidHeaderFieldName(h):
			pr.addf(fmt.Sprintf("request.credentialHeaders[%d]", i), "%q is not a header name", h)
		case connectionHeader[c]:
			pr.addf(fmt.Sprintf("request.credentialHeaders[%d]", i), "%s is the connection's or the body's own, no credential: userbridge's request to the upstream has its own", c)
		case slices.Contains(p.forward, c):
			// Listed as forwarded too, it would reach the upstream in
			// verify mode, where userbridge's own credentials replace it.
			pr.addf(fmt.Sprintf("request.credentialHeaders[%d]", i), "%s is also in forwardHeaders: a credential header belongs in credentialHeaders only", h)
		}
	}
	params := pathParams(p.file.Route.Path)
	p.params = params
	switch src, name, _ := strings.Cut(rq.Target.From, "."); src {
	case "param":
		if !params[name] {
			pr.addf("request.target.from", "route %q has no parameter %q", p.file.Route.Path, name)
		}
		p.targetParam = name
	case "body":
		if name == "" || strings.Contains(name, ".") {
			pr.addf("request.target.from", "%q: body.FIELD names a top-level field", rq.Target.From)
		}
		p.targetBody = name
		p.keys[name] = &keyRules{target: true}
	default:
		pr.addf("request.target.from", "%q: expected param.NAME or body.FIELD", rq.Target.From)
	}
	switch rq.Target.By {
	case "id", "username", "auto":
		p.targetBy = rq.Target.By
	default:
		pr.addf("request.target.by", "%q: expected id, username or auto", rq.Target.By)
	}
	switch rq.Target.Normalize {
	case "":
	case "uuid":
		p.targetUUID = true
	default:
		pr.addf("request.target.normalize", "%q: expected uuid", rq.Target.Normalize)
	}
	if rq.Tenant != "" {
		src, name, _ := strings.Cut(rq.Tenant, ".")
		if src != "param" || !params[name] {
			pr.addf("request.tenant", "%q: expected param.NAME of a route parameter", rq.Tenant)
		}
		p.tenantParam = name
	}
	switch rq.Unknown {
	case "", "keep":
	case "reject":
		p.rejectExtra = true
	default:
		pr.addf("request.unknownFields", "%q: expected keep or reject", rq.Unknown)
	}
	for _, k := range rq.ReadOnly {
		if _, dup := p.keys[k]; dup {
			pr.addf("request.readOnly", "%q is listed twice or also has a rule", k)
		}
		p.keys[k] = &keyRules{readOnly: true}
	}
	for i := range rq.Fields {
		fr := p.compileField(pr, fmt.Sprintf("request.fields[%d]", i), &rq.Fields[i])
		if fr == nil {
			continue
		}
		kr := p.keys[fr.key]
		if kr == nil {
			kr = &keyRules{}
			p.keys[fr.key] = kr
		}
		if kr.readOnly || kr.target {
			pr.addf(fmt.Sprintf("request.fields[%d].source", i), "%q is read-only or names the user", fr.key)
		}
		kr.rules = append(kr.rules, fr)
		if fr.required {
			p.required = append(p.required, fr)
		}
		if fr.hasTo {
			if _, seen := p.sources[fr.to.name]; !seen {
				p.sources[fr.to.name] = fr.source
			}
		}
		for _, as := range fr.enum {
			for _, a := range as {
				if _, seen := p.sources[a.to.name]; !seen {
					p.sources[a.to.name] = fr.source
				}
			}
		}
	}
	p.checkUsernameFields(pr)
}

// checkUsernameFields makes sure a password rule's usernameField names a
// field of the body this file knows: a field rule's source, a readOnly
// field, or the body field that names the user. Any other name is a
// mistake: with unknownFields reject a body holding it is refused, so the
// check would always fall back to the stored username; with keep it is an
// opaque extension member, no username of the dialect's.
func (p *Program) checkUsernameFields(pr *problems) {
	rq := &p.file.Request
	for i := range rq.Fields {
		pw := rq.Fields[i].Validate.Password
		if pw == nil || pw.UsernameField == "" {
			continue
		}
		u := pw.UsernameField
		known := u == p.targetBody || slices.Contains(rq.ReadOnly, u)
		for j := range rq.Fields {
			known = known || rq.Fields[j].Source == u
		}
		if !known {
			pr.addf(fmt.Sprintf("request.fields[%d].validate.password.usernameField", i),
				"%q is no field of this file: it names the source of a field rule, a readOnly field or the target's body field", u)
		}
	}
}

// matchableMediaType reports whether a contentTypes entry can match a
// request's Content-Type as AcceptsContentType compares them: the media
// type a client sends, parameters stripped, equals the entry.
func matchableMediaType(ct string) bool {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || len(params) > 0 || !strings.EqualFold(mt, ct) || strings.Contains(mt, "*") {
		return false
	}
	typ, sub, ok := strings.Cut(mt, "/")
	return ok && typ != "" && sub != ""
}

// credentialHeader are the standard headers that carry credentials: never
// forwardHeaders, which pass in every auth mode.
var credentialHeader = map[string]bool{"Authorization": true, "Proxy-Authorization": true, "Cookie": true}

// connectionHeader are the request headers of the connection and of the
// body's framing: userbridge's request to the upstream has its own.
var connectionHeader = map[string]bool{"Host": true, "Content-Length": true, "Transfer-Encoding": true,
	"Connection": true, "Upgrade": true, "Te": true, "Keep-Alive": true, "Proxy-Connection": true, "Trailer": true}

func pathParams(path string) map[string]bool {
	out := map[string]bool{}
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, ":") || strings.HasPrefix(seg, "*") {
			out[seg[1:]] = true
		}
	}
	return out
}

// resolveSlot turns a canonical name into a slot.
func (p *Program) resolveSlot(name string) (slot, error) {
	if i := canonical.FieldIndex(name); i >= 0 {
		return slot{field: i, name: name}, nil
	}
	if rest, ok := strings.CutPrefix(name, "extensions."); ok {
		d, n, ok := strings.Cut(rest, ".")
		if ok && canonical.ValidDialectName(d) && canonical.ValidMemberName(n) {
			if d != p.file.Dialect {
				return slot{}, fmt.Errorf("%q: a dialect writes only its own extensions, extensions.%s.<name>", name, p.file.Dialect)
			}
			return slot{field: -1, ext: rest, name: name}, nil
		}
		return slot{}, fmt.Errorf("%q: extensions take the form extensions.<dialect>.<name>, the name of letters, digits, '_' or '-'", name)
	}
	for _, ro := range canonical.ReadOnly {
		if ro == name {
			return slot{}, fmt.Errorf("%q is read-only in the canonical contract", name)
		}
	}
	return slot{}, fmt.Errorf("%q is not a canonical field", name)
}

func parsePolicy(s string, def policy, allowed ...policy) (policy, bool) {
	m := map[string]policy{"keep": polKeep, "unset": polUnset, "reject": polReject, "ignore": polIgnore}
	if s == "" {
		return def, true
	}
	v, ok := m[s]
	if !ok {
		return def, false
	}
	for _, a := range allowed {
		if a == v {
			return v, true
		}
	}
	return def, false
}

func (p *Program) compileField(pr *problems, where string, r *FieldRule) *fieldRule {
	fr := &fieldRule{source: r.Source, required: r.Required, wrap: r.Wrap, list: r.List}
	if r.Source == "" {
		pr.addf(where+".source", "missing")
		return nil
	}
	fr.key, fr.sub, _ = strings.Cut(r.Source, ".")
	if fr.sub != "" {
		for _, seg := range strings.Split(fr.sub, ".") {
			if _, err := strconv.Atoi(seg); err == nil || seg == "" || strings.ContainsAny(seg, "*?#|@!\\") {
				pr.addf(where+".source", "%q: a dotted source names object members (profile.city); %q is no member name (an array is read whole, with type array)", r.Source, seg)
				break
			}
		}
	}
	t, ok := typeNames[r.Type]
	if !ok {
		pr.addf(where+".type", "%q: expected string, boolean, number, integer, object, array or any", r.Type)
	}
	fr.typ = t
	var ok1, ok2 bool
	fr.empty, ok1 = parsePolicy(r.Empty, polKeep, polKeep, polUnset, polReject)
	fr.null, ok2 = parsePolicy(r.Null, polReject, polReject, polUnset, polIgnore)
	if !ok1 {
		pr.addf(where+".empty", "%q: expected keep, unset or reject", r.Empty)
	}
	if !ok2 {
		pr.addf(where+".null", "%q: expected reject, unset or ignore", r.Null)
	}
	if r.Target != "" {
		s, err := p.resolveSlot(r.Target)
		if err != nil {
			pr.addf(where+".target", "%v", err)
		}
		fr.to, fr.hasTo = s, err == nil
	}
	if len(r.Enum) > 0 {
		fr.enum = map[string][]assign{}
		var names []string
		for val, sets := range r.Enum {
			names = append(names, val)
			keys := make([]string, 0, len(sets))
			for k := range sets {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				s, err := p.resolveSlot(k)
				if err != nil {
					pr.addf(where+".enum."+val, "%v", err)
					continue
				}
				raw, err := json.Marshal(sets[k])
				if err != nil {
					pr.addf(where+".enum."+val+"."+k, "%v", err)
					continue
				}
				if err := checkKind(s, raw); err != nil {
					pr.addf(where+".enum."+val+"."+k, "%v", err)
				}
				fr.enum[val] = append(fr.enum[val], assign{to: s, raw: raw})
			}
		}
		sort.Strings(names)
		fr.enumList = strings.Join(names, ", ")
	} else if !fr.hasTo && r.Target == "" {
		pr.addf(where+".target", "missing (a field rule needs a target or an enum)")
	}
	if r.Target == "" && len(r.Enum) > 0 {
		// translate's apply unsets only a target: an enum's fields are set
		// by its values, never unset.
		if fr.null == polUnset {
			pr.addf(where+".null", "unset needs a target: an enum-only rule has no field to unset (reject or ignore)")
		}
		if fr.empty == polUnset {
			pr.addf(where+".empty", "unset needs a target: an enum-only rule has no field to unset (keep or reject)")
		}
		// They shape the value written to the target; an enum-only rule
		// writes its constants, so they would do nothing.
		for _, k := range []struct {
			key string
			set bool
		}{{"wrap", r.Wrap != ""}, {"list", r.List}, {"items", r.Items != nil}, {"normalize", r.Normalize != ""}} {
			if k.set {
				pr.addf(where+"."+k.key, "shapes the value written to target, and this enum-only rule has none: remove it or add a target")
			}
		}
	}
	if r.Empty != "" && t != typeString && t != typeAny {
		pr.addf(where+".empty", "says what \"\" means, and a value of type %s is never \"\": empty applies to type string or any", t)
	}
	if r.Wrap != "" && t != typeString && !(fr.hasTo && fr.to.field >= 0) { // checkShape covers a canonical field
		pr.addf(where+".wrap", "turns a string into an object: wrap needs type: string, not %s", t)
	}
	if r.Items != nil {
		fr.items = &itemsRule{wrap: r.Items.Wrap, keep: map[string]bool{}, ignore: map[string]bool{}}
		for _, k := range r.Items.Keep {
			fr.items.keep[k] = true
		}
		for _, k := range r.Items.Ignore {
			fr.items.ignore[k] = true
		}
		for _, k := range r.Items.Required {
			if !fr.items.keep[k] {
				pr.addf(where+".items.required", "%q is not a kept key", k)
			}
			fr.items.required = append(fr.items.required, k)
		}
		if fr.typ != typeArray {
			pr.addf(where+".items", "items needs type: array")
		}
	}
	switch r.Normalize {
	case "":
	case "uuid":
		fr.uuid = true
		if fr.typ != typeString {
			pr.addf(where+".normalize", "uuid needs type: string")
		}
	default:
		pr.addf(where+".normalize", "%q: expected uuid", r.Normalize)
	}
	fr.v = compileValidators(pr, where+".validate", &r.Validate)
	checkValidatorTypes(pr, where+".validate", t, &r.Validate)
	if fr.hasTo && fr.to.field >= 0 {
		p.checkShape(pr, where, fr)
	}
	return fr
}

// checkShape makes sure a rule can only produce what its canonical field
// holds, so that every update the engine lets through is valid.
func (p *Program) checkShape(pr *problems, where string, fr *fieldRule) {
	kind := canonical.Fields[fr.to.field].Kind
	var ok bool
	switch {
	case fr.wrap != "" && fr.list:
		// {"description": x} alone would be a role that names nothing.
		ok = kind == canonical.KindRoles && fr.typ == typeString && isIDOrName(fr.wrap)
	case fr.wrap != "":
		ok = kind == canonical.KindObject && fr.typ == typeString
	case fr.items != nil:
		ok = kind == canonical.KindRoles && fr.items.rolesOnly()
	case kind == canonical.KindString:
		ok = fr.typ == typeString
	case kind == canonical.KindBool:
		ok = fr.typ == typeBool
	case kind == canonical.KindObject:
		ok = fr.typ == typeObject
	}
	if !ok {
		pr.addf(where, "type %s (wrap %q, list %v) cannot produce canonical %s, a %s", fr.typ, fr.wrap, fr.list, fr.to.name, kind)
	}
}

func isRoleKey(k string) bool { return k == "id" || k == "name" || k == "description" }

func (it *itemsRule) rolesOnly() bool {
	if it.wrap != "" && !isIDOrName(it.wrap) {
		return false
	}
	for k := range it.keep {
		if !isRoleKey(k) {
			return false
		}
	}
	return len(it.keep) > 0 || it.wrap != ""
}

// checkKind checks an enum constant against its canonical field.
func checkKind(s slot, raw []byte) error {
	if s.field < 0 {
		return nil
	}
	kind := canonical.Fields[s.field].Kind
	c := raw[0]
	ok := (kind == canonical.KindString && c == '"') || (kind == canonical.KindBool && (c == 't' || c == 'f')) ||
		(kind == canonical.KindObject && c == '{') || (kind == canonical.KindRoles && c == '[')
	if !ok {
		return fmt.Errorf("%s is a %s; %s does not fit", s.name, kind, raw)
	}
	if kind == canonical.KindRoles { // each role a non-empty id or name, as the contract says
		doc := append(append([]byte(`{"set":{"roles":`), raw...), "}}"...)
		if err := canonical.ValidateUpdate(doc); err != nil {
			return fmt.Errorf("%s: %s does not fit: %w", s.name, raw, err)
		}
	}
	return nil
}

// notPassedBack are the reply headers no rule may pass back from the
// upstream: the connection's own (HTTP/1.1 framing, hop by hop), the body's
// (userbridge writes its own), and the upstream's cookies.
var notPassedBack = map[string]bool{"Connection": true, "Keep-Alive": true, "Transfer-Encoding": true,
	"Content-Length": true, "Content-Type": true, "Content-Encoding": true, "Te": true, "Trailer": true,
	"Upgrade": true, "Proxy-Authenticate": true, "Set-Cookie": true, "X-Request-Id": true}

// notWritten are the answer headers no rule may set: the connection's own,
// the body's (userbridge writes the body and its Content-Type from
// contentType) and userbridge's X-Request-Id; notPassedBack but Set-Cookie,
// which a dialect's rules may set.
var notWritten = func() map[string]bool {
	m := map[string]bool{"Proxy-Connection": true}
	for k := range notPassedBack {
		m[k] = k != "Set-Cookie"
	}
	return m
}()

// checkHeaderNames checks the names of a headers map of templates.
func checkHeaderNames(pr *problems, where string, hs map[string]string) {
	seen := map[string]string{}
	for _, h := range sortedKeys(hs) {
		c := http.CanonicalHeaderKey(h)
		other, twice := seen[c]
		seen[c] = h
		switch {
		case twice:
			pr.addf(where+"."+h, "names the header %s again (as %s): header names are case-insensitive", c, other)
		case !httpguts.ValidHeaderFieldName(h):
			pr.addf(where+"."+h, "%q is not a header name", h)
		case c == "Content-Type":
			pr.addf(where+"."+h, "Content-Type is set by contentType, not headers")
		case notWritten[c]:
			pr.addf(where+"."+h, "%s cannot be set: userbridge writes it, or it is the connection's", c)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// validatorTypes says which value type each validator checks (see
// validators.run): the others are never run on it.
var validatorTypes = []struct {
	name string
	typ  jsonType
	set  func(v *Validators) bool
}{
	{"nonEmpty", typeString, func(v *Validators) bool { return v.NonEmpty }},
	{"pattern", typeString, func(v *Validators) bool { return v.Pattern != "" }},
	{"minLength", typeString, func(v *Validators) bool { return v.MinLength != 0 }},
	{"maxLength", typeString, func(v *Validators) bool { return v.MaxLength != 0 }},
	{"oneOf", typeString, func(v *Validators) bool { return len(v.OneOf) > 0 }},
	{"uuid", typeString, func(v *Validators) bool { return v.UUID }},
	{"email", typeString, func(v *Validators) bool { return v.Email }},
	{"password", typeString, func(v *Validators) bool { return v.Password != nil }},
	{"maxPairs", typeObject, func(v *Validators) bool { return v.MaxPairs != 0 }},
	{"keyPattern", typeObject, func(v *Validators) bool { return v.KeyPattern != "" }},
	{"keyMaxLength", typeObject, func(v *Validators) bool { return v.KeyMaxLength != 0 }},
	{"valueMaxLength", typeObject, func(v *Validators) bool { return v.ValueMaxLength != 0 }},
	{"valueType", typeObject, func(v *Validators) bool { return v.ValueType != "" }},
	{"maxItems", typeArray, func(v *Validators) bool { return v.MaxItems != 0 }},
}

// checkValidatorTypes refuses a validator the rule's type never gives a
// value to check (type any may receive anything).
func checkValidatorTypes(pr *problems, where string, t jsonType, v *Validators) {
	if t == typeAny {
		return
	}
	for _, vt := range validatorTypes {
		if vt.set(v) && vt.typ != t {
			pr.addf(where+"."+vt.name, "checks %s and never applies to type %s: it needs type %s or any", plural(vt.typ), t, vt.typ)
		}
	}
}

func compileUpstreamHeaders(pr *problems, names []string) []string {
	var out []string
	for i, h := range names {
		c := http.CanonicalHeaderKey(h)
		switch {
		case !httpguts.ValidHeaderFieldName(h):
			pr.addf(fmt.Sprintf("response.upstreamHeaders[%d]", i), "%q is not a header name", h)
		case notPassedBack[c]:
			pr.addf(fmt.Sprintf("response.upstreamHeaders[%d]", i), "%s is not passed back: userbridge writes it, or it is the connection's", c)
		case !slices.Contains(out, c):
			out = append(out, c)
		}
	}
	return out
}
