package mapping

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
	"github.com/userbridge/userbridge/internal/lex"
	"github.com/userbridge/userbridge/mapping/canonical"
	"gopkg.in/yaml.v3"
)

// A template is a JSON value written in YAML whose strings may hold
// expressions: "${user.id}" alone is the value itself (any JSON type, null
// when absent); "${user.id?}" omits the member when absent or null; inside
// a longer string, "/users/${param.user_id}" interpolates. Filters follow a
// '|': epoch3, default:<json>, query, path, string, number (a numeric string
// such as a dialect's error code becomes a JSON number; anything else null),
// not (a boolean's negation), enum:SOURCE (the request enum of the field
// rule SOURCE read backwards: ${user|enum:status}; see reverse.go),
// and for the rules upstream profile listValues, unlistValues, fromMillis
// and unset:<json> (see external.go).
type tmpl struct {
	kind    tmplKind
	lit     []byte    // literal JSON
	expr    *expr     // whole-value expression
	parts   []strPart // interpolated string
	members []member  // object
	items   []*tmpl   // array
	// dynamic: an object with a member whose key is a template, which
	// might render a key another member has (see renderCtx.appendTmpl).
	dynamic bool
}

type tmplKind uint8

const (
	tLit tmplKind = iota
	tExpr
	tInterp
	tObject
	tArray
)

type member struct {
	key    []byte // JSON-encoded key, or nil when keyTpl is set
	name   string // the key as written, when it is no template
	keyTpl []strPart
	val    *tmpl
}

type strPart struct {
	lit     string
	expr    *expr
	litJSON []byte // lit escaped for a JSON string (no quotes), made once
}

type expr struct {
	src  source
	path string // gjson path or name
	// head and rest split a plain user path at its first dot, so that the
	// user's top-level members are found in one pass (see renderCtx.lookup).
	head, rest string
	plain      bool
	// mem is canonical.MemberIndex(head)+1 for a plain user path whose head
	// a canonical user can have at its top level; 0 otherwise.
	mem      int
	optional bool
	filters  []filter
	text     string
	// unsetArg is the unset filter's value: what an update.set.<field>
	// expression renders when the update unsets the field.
	unsetArg []byte
	// each is set for ${user.<head>.#.<item>|firstOf:…}: the items of
	// <head> are looked through for the first <item> firstOf keeps,
	// without building the array of every <item> gjson's # would.
	each *eachExpr
	// userRaw is set for a user expression (not the whole user, not an
	// each) whose filters are at most one default: what it renders is the
	// member's JSON text, or userDef when that is absent or null, so the
	// render appends it without building a value (renderCtx.userJSON).
	userRaw bool
	// userDef is the default's JSON text; "" with no default, or for
	// default:null (which renders null, as an absent value does).
	userDef string
}

type eachExpr struct {
	array expr   // ${user.<head>}: the user's top-level member holding the array
	item  string // gjson path within one item
}

type source uint8

const (
	srcUser source = iota + 1
	srcParam
	srcRequest
	srcConfig
	srcError
	srcBody
	srcUpdate // the canonical update, for the rules upstream profile
	srcReply  // the upstream's reply, for the rules upstream profile
)

var sourceNames = map[string]source{"user": srcUser, "param": srcParam, "request": srcRequest,
	"config": srcConfig, "error": srcError, "body": srcBody, "update": srcUpdate, "reply": srcReply}

// dialectSources are the sources a dialect's rule file reads.
var dialectSources = []string{"user", "param", "request", "config", "error", "body"}

type filter struct {
	name string
	arg  []byte       // for default: a JSON literal
	list []string     // for firstOf: the values kept
	rev  *reverseEnum // for enum: the request enum read backwards
}

// compileNode compiles a YAML node into a template.
func compileNode(pr *problems, where string, n *yaml.Node) *tmpl {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	at := place{where, n.Line}
	switch n.Kind {
	case yaml.MappingNode:
		t := &tmpl{kind: tObject}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			for k.Kind == yaml.AliasNode && k.Alias != nil {
				k = k.Alias
			}
			if !checkKey(pr, where, k) {
				continue
			}
			m := member{val: compileNode(pr, where+"."+k.Value, v)}
			if strings.Contains(k.Value, "${") {
				m.keyTpl = compileInterp(pr, at, k.Value)
				t.dynamic = true
			} else {
				m.key, m.name = lex.AppendJSONString(nil, k.Value), k.Value
			}
			t.members = append(t.members, m)
		}
		return t
	case yaml.SequenceNode:
		t := &tmpl{kind: tArray}
		for i, c := range n.Content {
			t.items = append(t.items, compileNode(pr, fmt.Sprintf("%s[%d]", where, i), c))
		}
		return t
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!str":
			if n.Style == 0 && yamlFloat.MatchString(n.Value) {
				// A plain number YAML could not read as a float64 (1e400):
				// it would render as a string.
				pr.addAt(at, "%s does not fit a float64 (a JSON number userbridge can render); quote it if a string is meant", n.Value)
			}
			return compileString(pr, at, n.Value)
		case "!!int", "!!float":
			f, err := strconv.ParseFloat(n.Value, 64)
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || !isJSONNumber(n.Value) {
				pr.addAt(at, "%q is not a JSON number", n.Value)
			}
			return &tmpl{kind: tLit, lit: []byte(n.Value)}
		case "!!bool":
			return &tmpl{kind: tLit, lit: []byte(strings.ToLower(n.Value))}
		case "!!null":
			return &tmpl{kind: tLit, lit: []byte("null")}
		}
	case yaml.AliasNode:
		return compileNode(pr, where, n.Alias)
	}
	pr.addAt(at, "unsupported YAML value")
	return &tmpl{kind: tLit, lit: []byte("null")}
}

// yamlFloat is how YAML (gopkg.in/yaml.v3) recognises a plain float.
var yamlFloat = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

// isJSONNumber reports whether s is written as JSON writes a number (no
// '+', no leading zero, no bare '.').
func isJSONNumber(s string) bool {
	return s != "" && (s[0] == '-' || '0' <= s[0] && s[0] <= '9') && json.Valid([]byte(s))
}

// checkKey refuses a template object's key that would not render as the
// key written: a complex key (a sequence or mapping), a merge key (<<) or
// a null one (~).
func checkKey(pr *problems, where string, k *yaml.Node) bool {
	at := place{where, k.Line}
	switch {
	case k.Kind != yaml.ScalarNode:
		pr.addAt(at, "a key is a string: a complex key (? [a, b]) has no JSON form")
	case k.Tag == "!!merge":
		pr.addAt(at, "merge keys (<<) are not supported: write the members out")
	case k.Tag == "!!null":
		pr.addAt(at, "a null key (%s) has no JSON form: quote it if the text is meant", k.Value)
	default:
		return true
	}
	return false
}

func compileString(pr *problems, at place, s string) *tmpl {
	parts := compileInterp(pr, at, s)
	if len(parts) == 1 && parts[0].expr != nil {
		return &tmpl{kind: tExpr, expr: parts[0].expr}
	}
	if len(parts) == 1 || len(parts) == 0 {
		lit := ""
		if len(parts) == 1 {
			lit = parts[0].lit
		}
		return &tmpl{kind: tLit, lit: lex.AppendJSONString(nil, lit)}
	}
	return &tmpl{kind: tInterp, parts: parts}
}

// compileInterp splits "a${x}b" into parts.
func compileInterp(pr *problems, at place, s string) []strPart {
	var parts []strPart
	for s != "" {
		i := strings.Index(s, "${")
		if i < 0 {
			parts = append(parts, strPart{lit: s, litJSON: lex.AppendJSONStringBody(nil, s)})
			break
		}
		if i > 0 {
			parts = append(parts, strPart{lit: s[:i], litJSON: lex.AppendJSONStringBody(nil, s[:i])})
		}
		j := closingBrace(s[i+2:])
		if j >= 0 {
			j += 2
		}
		if j < 0 {
			pr.addAt(at, "unclosed ${ in %q", s)
			break
		}
		parts = append(parts, strPart{expr: compileExpr(pr, at, s[i+2:i+j])})
		s = s[i+j+1:]
	}
	return parts
}

func compileExpr(pr *problems, at place, text string) *expr {
	e := &expr{text: text}
	segs := strings.Split(text, "|")
	head := strings.TrimSpace(segs[0])
	if strings.HasSuffix(head, "?") {
		e.optional = true
		head = strings.TrimSuffix(head, "?")
	}
	src, path, _ := strings.Cut(head, ".")
	s, ok := sourceNames[src]
	allowed := pr.sources
	if allowed == nil {
		allowed = dialectSources
	}
	if !ok || !slices.Contains(allowed, src) {
		s = 0
		pr.addAt(at, "${%s}: unknown source %q (%s)", text, src, strings.Join(allowed, ", "))
	}
	e.src, e.path = s, path
	e.head, e.rest, _ = strings.Cut(path, ".")
	e.plain = gjsonEscape(e.head) == e.head && !strings.ContainsAny(e.head, "*?")
	if s == srcUser && e.plain {
		e.mem = canonical.MemberIndex(e.head) + 1
	}
	if s == srcRequest && !slices.Contains([]string{"url", "path", "dir", "origin", "id"}, path) {
		pr.addAt(at, "${%s}: request has url, path, dir, origin and id", text)
	}
	if s == srcError && !slices.Contains([]string{"status", "code", "dialectCode", "message", "field"}, path) {
		pr.addAt(at, "${%s}: error has status, code, dialectCode, message and field", text)
	}
	// ${user|enum:SOURCE} reads the whole user.
	wholeUser := s == srcUser && len(segs) > 1 && strings.HasPrefix(strings.TrimSpace(segs[1]), "enum:")
	if path == "" && s != 0 && !wholeUser {
		pr.addAt(at, "${%s}: a source needs a name after the dot", text)
	}
	switch {
	case path == "":
	case s == srcParam && pr.params != nil && !pr.params[path]:
		pr.addAt(at, "${%s}: route %q has no parameter %q (a route parameter is :NAME or *NAME in route.path)", text, pr.route, path)
	case s == srcConfig && pr.config != nil && !pr.config[path]:
		pr.addAt(at, "${%s}: the file's config declares no constant %q (a deployment can only override declared ones)", text, path)
	case s == srcError && pr.success:
		pr.addAt(at, "${%s}: a success answer has no error; error.* is read by errors templates only", text)
	}
	for _, f := range segs[1:] {
		name, arg, hasArg := strings.Cut(strings.TrimSpace(f), ":")
		flt := filter{name: name}
		switch name {
		case "epoch3", "query", "path", "string", "number", "not":
		case "enum":
			flt.rev = compileEnumFilter(pr, at, e, arg)
		case "firstOf":
			for _, s := range strings.Split(arg, ",") {
				if s = strings.TrimSpace(s); s != "" {
					flt.list = append(flt.list, s)
				}
			}
			if len(flt.list) == 0 {
				pr.addAt(at, "${%s}: firstOf needs the values it keeps, firstOf:A,B", text)
			}
		case "listValues", "unlistValues", "fromMillis":
			if pr.sources == nil {
				pr.addAt(at, "${%s}: unknown filter %q (%s)", text, name, filterNames)
			}
		case "unset":
			if s != srcUpdate || !strings.HasPrefix(path, "set.") || !hasArg || !gjson.Valid(arg) {
				pr.addAt(at, "${%s}: unset:<JSON> applies to an update.set.<field> expression", text)
			}
			e.unsetArg = []byte(arg)
		case "default":
			if !hasArg {
				pr.addAt(at, "${%s}: default needs a value", text)
			}
			if gjson.Valid(arg) {
				flt.arg = []byte(arg)
			} else {
				flt.arg = lex.AppendJSONString(nil, arg)
			}
		default:
			pr.addAt(at, "${%s}: unknown filter %q (%s)", text, name, filterNames)
		}
		e.filters = append(e.filters, flt)
	}
	if item, ok := strings.CutPrefix(e.rest, "#."); ok && s == srcUser && e.plain && !strings.ContainsAny(item, "#|@*?") &&
		len(e.filters) > 0 && e.filters[0].name == "firstOf" {
		e.each = &eachExpr{array: expr{src: srcUser, path: e.head, head: e.head, plain: true, mem: e.mem}, item: item}
	}
	if s == srcUser && path != "" && e.each == nil {
		switch {
		case len(e.filters) == 0:
			e.userRaw = true
		case len(e.filters) == 1 && e.filters[0].name == "default":
			e.userRaw = true
			if d := string(e.filters[0].arg); d != "null" {
				e.userDef = d
			}
		}
	}
	return e
}

// uses reports whether any expression in t reads the given source.
func (t *tmpl) uses(s source) bool {
	if t == nil {
		return false
	}
	found := false
	t.each(func(e *expr) { found = found || e.src == s })
	return found
}

// value is an evaluated expression: raw JSON, or a plain string.
type value struct {
	ok    bool  // present and not null
	isStr bool  // str holds a plain string (not JSON)
	isMs  bool  // epoch3's number: ms/1000 with three decimals, appended by appendJSON
	ms    int64 // for isMs
	raw   string
	str   string
}

func (v value) text() string {
	if v.isStr {
		return v.str
	}
	if !v.ok {
		return ""
	}
	if v.isMs {
		return string(appendEpoch3(nil, v.ms))
	}
	if n := len(v.raw); n >= 2 && v.raw[0] == '"' && v.raw[n-1] == '"' && lex.QuoteRun(v.raw, 1) == n-1 {
		return v.raw[1 : n-1] // a string without escapes: what gjson would decode
	}
	r := gjson.Parse(v.raw)
	if r.Type == gjson.String {
		return r.Str
	}
	return v.raw
}

func (v value) appendJSON(out []byte) []byte {
	switch {
	case !v.ok:
		return append(out, "null"...)
	case v.isStr:
		return append(appendStringBody(append(out, '"'), v.str), '"')
	case v.isMs:
		return appendEpoch3(out, v.ms)
	}
	return append(out, v.raw...)
}

func applyFilters(v value, fs []filter) value {
	for i, f := range fs {
		switch f.name {
		case "default":
			if !v.ok {
				v = value{ok: string(f.arg) != "null", raw: string(f.arg)}
			}
		case "epoch3":
			if v.ok {
				if t, err := time.Parse(time.RFC3339Nano, v.text()); err == nil {
					v = value{ok: true, isMs: true, ms: t.UnixMilli()}
					if i < len(fs)-1 { // a filter follows: it reads raw
						v = value{ok: true, raw: v.text()}
					}
				} else {
					v = value{}
				}
			}
		case "query":
			if v.ok {
				v = value{ok: true, isStr: true, str: url.QueryEscape(v.text())}
			}
		case "path":
			if v.ok {
				v = value{ok: true, isStr: true, str: url.PathEscape(v.text())}
			}
		case "string":
			if v.ok {
				v = value{ok: true, isStr: true, str: v.text()}
			}
		case "number":
			if v.ok {
				v = jsonNumber(v.text())
			}
		case "firstOf":
			v = firstOf(v, f.list)
		case "not":
			v = not(v)
		case "enum":
			if v.ok && f.rev != nil {
				v = f.rev.render(v.raw)
			}
		case "listValues":
			v = listValues(v)
		case "unlistValues":
			v = unlistValues(v)
		case "fromMillis":
			v = fromMillis(v)
		}
	}
	return v
}

// firstOf is v when it is a string in list or, for an array, its first
// string item in list; absent otherwise.
func firstOf(v value, list []string) value {
	if !v.ok {
		return value{}
	}
	if v.isStr {
		if slices.Contains(list, v.str) {
			return v
		}
		return value{}
	}
	var out value
	r := gjson.Parse(v.raw)
	pick := func(item gjson.Result) bool {
		if item.Type == gjson.String && slices.Contains(list, item.Str) {
			out = value{ok: true, isStr: true, str: item.Str}
			return false
		}
		return true
	}
	if r.IsArray() {
		r.ForEach(func(_, item gjson.Result) bool { return pick(item) })
	} else {
		pick(r)
	}
	return out
}

// jsonNumber is s as a JSON number, or null when s is not one.
func jsonNumber(s string) value {
	if !gjson.Valid(s) || gjson.Parse(s).Type != gjson.Number {
		return value{}
	}
	return value{ok: true, raw: s}
}

// appendEpoch3 appends ms as seconds with three decimals: the integer
// part is ms/1000 (truncated toward zero, so that -1 ms is 0.001, as
// epoch3 has always written it), the decimals |ms%1000|.
func appendEpoch3(out []byte, ms int64) []byte {
	out = strconv.AppendInt(out, ms/1000, 10)
	f := ms % 1000
	if f < 0 {
		f = -f
	}
	return append(out, '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
}

// closingBrace finds the '}' that closes an expression, skipping braces
// nested in a default value such as default:{}.
func closingBrace(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			if depth == 0 {
				return i
			}
			depth--
		}
	}
	return -1
}

// each calls visit for every expression of the template, keys included.
func (t *tmpl) each(visit func(e *expr)) {
	if t.expr != nil {
		visit(t.expr)
	}
	for _, p := range t.parts {
		if p.expr != nil {
			visit(p.expr)
		}
	}
	for _, m := range t.members {
		for _, p := range m.keyTpl {
			if p.expr != nil {
				visit(p.expr)
			}
		}
		m.val.each(visit)
	}
	for _, it := range t.items {
		it.each(visit)
	}
}
