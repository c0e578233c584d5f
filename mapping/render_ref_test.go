package mapping

// The renderer as it was before the render rewrite (commit 16f0fd6), kept
// as the reference the differential tests compare the current one with
// (render_diff_test.go, FuzzRenderDiff). Only RenderSuccess's path is kept.

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/net/http/httpguts"

	"github.com/tidwall/gjson"
	"github.com/userbridge/userbridge/internal/lex"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// RefRenderSuccess is RenderSuccess as it was, for the external tests.
func (p *Program) RefRenderSuccess(in *Input, res *Result, user []byte) *Reply {
	return p.refRenderSuccess(in, res, user)
}

type refCtx struct {
	p    *Program
	in   *Input
	user gjson.Result
	err  *canonical.Error
	st   int
	data *TemplateData // the rules upstream profile's sources; nil in a dialect

	// top indexes the user's top-level members, read in one pass the first
	// time a template needs one: a template reads a dozen members, and a
	// gjson lookup for each would scan the user a dozen times.
	top     [32]refMember
	ntop    int
	indexed bool
}

type refMember struct {
	key string // as written: indexing stops at a key with an escape
	raw string // the value's JSON text
}

func (c *refCtx) lookup(e *expr) string {
	if !e.plain {
		return c.user.Get(e.path).Raw
	}
	if !c.indexed {
		c.indexed = true
		if !c.indexTop(c.user.Raw) {
			c.ntop = -1 // fall back to gjson lookups
		}
	}
	if c.ntop < 0 {
		return c.user.Get(e.path).Raw
	}
	for i := 0; i < c.ntop; i++ {
		if c.top[i].key == e.head {
			if e.rest == "" {
				return c.top[i].raw
			}
			return gjson.Get(c.top[i].raw, e.rest).Raw
		}
	}
	return ""
}

func (c *refCtx) indexTop(s string) bool {
	c.ntop = 0
	sc := scanner{b: unsafe.Slice(unsafe.StringData(s), len(s)), max: 32}
	sc.ws()
	if sc.i >= len(sc.b) || sc.b[sc.i] != '{' {
		return false
	}
	sc.i++
	sc.ws()
	if sc.i < len(sc.b) && sc.b[sc.i] == '}' {
		return true
	}
	for {
		if sc.i >= len(sc.b) || sc.b[sc.i] != '"' {
			return false
		}
		key, esc, err := sc.str()
		if err != nil || esc {
			return false
		}
		sc.ws()
		if sc.i >= len(sc.b) || sc.b[sc.i] != ':' {
			return false
		}
		sc.i++
		sc.ws()
		start := sc.i
		if sc.value(1) != nil || c.ntop == len(c.top) {
			return false
		}
		c.top[c.ntop] = refMember{str(key), s[start:sc.i]}
		c.ntop++
		sc.ws()
		if sc.i >= len(sc.b) {
			return false
		}
		switch sc.b[sc.i] {
		case '}':
			return true
		case ',':
			sc.i++
			sc.ws()
		default:
			return false
		}
	}
}

func (c *refCtx) eval(e *expr) refValue {
	var v refValue
	switch e.src {
	case srcUser:
		if e.each != nil { // the firstOf filter that follows keeps what this finds
			v = refFirstOfEach(c.lookup(&e.each.array), e.each.item, e.filters[0].list)
			break
		}
		raw := c.lookup(e)
		if e.path == "" { // ${user|enum:SOURCE}
			raw = c.user.Raw
		}
		v = refValue{ok: raw != "" && raw != "null", raw: raw}
	case srcBody:
		r := gjson.GetBytes(c.in.Body, e.path)
		v = refValue{ok: r.Exists() && r.Type != gjson.Null, raw: r.Raw}
	case srcUpdate, srcReply:
		v = toRef(c.data.eval(e))
	case srcParam:
		if c.in.Params != nil {
			s := c.in.Params.ByName(e.path)
			v = refValue{ok: s != "", isStr: true, str: s}
		}
	case srcConfig:
		s, ok := c.p.config[e.path]
		v = refValue{ok: ok, isStr: true, str: s}
	case srcRequest:
		s := ""
		switch e.path {
		case "url":
			s = c.in.URL
		case "path":
			s = c.in.Path
		case "dir":
			s = c.in.Path[:strings.LastIndexByte(c.in.Path, '/')+1]
			s = strings.TrimSuffix(s, "/")
		case "origin":
			s = strings.TrimSuffix(c.in.URL, c.in.Path)
		case "id":
			s = c.in.RequestID
		}
		v = refValue{ok: s != "", isStr: true, str: s}
	case srcError:
		if c.err != nil {
			v = toRef((&renderCtx{p: c.p, err: c.err, st: c.st}).errorValue(e.path))
		}
	}
	if len(e.filters) == 0 {
		return v
	}
	return refApplyFilters(v, e.filters)
}

func (c *refCtx) appendTmpl(out []byte, t *tmpl) []byte {
	switch t.kind {
	case tLit:
		return append(out, t.lit...)
	case tExpr:
		return c.eval(t.expr).appendJSON(out)
	case tInterp:
		out = append(out, '"')
		for _, p := range t.parts {
			if p.expr == nil {
				out = lex.AppendJSONStringBody(out, p.lit)
			} else {
				out = lex.AppendJSONStringBody(out, c.eval(p.expr).text())
			}
		}
		return append(out, '"')
	case tArray:
		out = append(out, '[')
		n := 0
		for _, it := range t.items {
			if it.kind == tExpr && it.expr.optional && !c.eval(it.expr).ok {
				continue
			}
			if n > 0 {
				out = append(out, ',')
			}
			n++
			out = c.appendTmpl(out, it)
		}
		return append(out, ']')
	}
	out = append(out, '{')
	n := 0
	// With a templated key, the names written so far: a member whose key
	// is one of them is left out (the first wins, as in a lookup), so the
	// object never holds a name twice, which JSON parsers read differently.
	// A templated key never takes a name the rules write as it is (whatever
	// the order: a request's value must not replace a member the rules
	// fill), and one that renders "" (its value absent) drops its member.
	var seen []string
	for _, m := range t.members {
		if m.val.kind == tExpr && m.val.expr.optional && !c.eval(m.val.expr).ok {
			continue
		}
		name := m.name
		if m.key == nil {
			name = c.interp(m.keyTpl)
		}
		if t.dynamic {
			if m.key == nil && (name == "" || t.writes(name)) {
				continue
			}
			if slices.Contains(seen, name) {
				continue
			}
			seen = append(seen, name)
		}
		if n > 0 {
			out = append(out, ',')
		}
		n++
		if m.key != nil {
			out = append(out, m.key...)
		} else {
			out = lex.AppendJSONString(out, name)
		}
		out = append(out, ':')
		out = c.appendTmpl(out, m.val)
	}
	return append(out, '}')
}

func (c *refCtx) interp(parts []strPart) string {
	if len(parts) == 1 && parts[0].expr == nil {
		return parts[0].lit
	}
	var sb strings.Builder
	for _, p := range parts {
		if p.expr == nil {
			sb.WriteString(p.lit)
		} else {
			sb.WriteString(c.eval(p.expr).text())
		}
	}
	return sb.String()
}

func (c *refCtx) headers(dst []Header, hs []headerTmpl) []Header {
	for _, h := range hs {
		if v := c.interp(h.parts); v != "" && httpguts.ValidHeaderFieldValue(v) {
			dst = append(dst, Header{Name: h.name, Value: v})
		}
	}
	return dst
}

func (p *Program) refRenderSuccess(in *Input, res *Result, user []byte) *Reply {
	t := p.success
	c := refCtx{p: p, in: in, user: gjson.Parse(str(user)), st: t.status}
	rep := &Reply{Status: t.status, ContentType: t.contentType}
	rep.Headers = c.headers(nil, t.headers)
	if t.body != nil {
		rep.Body = c.appendTmpl(make([]byte, 0, len(user)+256), t.body)
	}
	return rep
}

type refValue struct {
	ok    bool // present and not null
	raw   string
	str   string
	isStr bool // str holds a plain string (not JSON)
}

func (v refValue) text() string {
	if v.isStr {
		return v.str
	}
	if !v.ok {
		return ""
	}
	r := gjson.Parse(v.raw)
	if r.Type == gjson.String {
		return r.Str
	}
	return v.raw
}

func (v refValue) appendJSON(out []byte) []byte {
	switch {
	case !v.ok:
		return append(out, "null"...)
	case v.isStr:
		return lex.AppendJSONString(out, v.str)
	}
	return append(out, v.raw...)
}

func refApplyFilters(v refValue, fs []filter) refValue {
	for _, f := range fs {
		switch f.name {
		case "default":
			if !v.ok {
				v = refValue{ok: string(f.arg) != "null", raw: string(f.arg)}
			}
		case "epoch3":
			if v.ok {
				if t, err := time.Parse(time.RFC3339Nano, v.text()); err == nil {
					ms := t.UnixMilli()
					v = refValue{ok: true, raw: strconv.FormatInt(ms/1000, 10) + "." + refPad3(ms%1000)}
				} else {
					v = refValue{}
				}
			}
		case "query":
			if v.ok {
				v = refValue{ok: true, isStr: true, str: url.QueryEscape(v.text())}
			}
		case "path":
			if v.ok {
				v = refValue{ok: true, isStr: true, str: url.PathEscape(v.text())}
			}
		case "string":
			if v.ok {
				v = refValue{ok: true, isStr: true, str: v.text()}
			}
		case "number":
			if v.ok {
				v = refJSONNumber(v.text())
			}
		case "firstOf":
			v = refFirstOf(v, f.list)
		case "not":
			v = toRef(not(fromRef(v)))
		case "enum":
			if v.ok && f.rev != nil {
				v = toRef(f.rev.render(v.raw))
			}
		case "listValues":
			v = toRef(listValues(fromRef(v)))
		case "unlistValues":
			v = toRef(unlistValues(fromRef(v)))
		case "fromMillis":
			v = toRef(fromMillis(fromRef(v)))
		}
	}
	return v
}

func refFirstOfEach(array string, item string, list []string) refValue {
	var out refValue
	gjson.Parse(array).ForEach(func(_, it gjson.Result) bool {
		if r := it.Get(item); r.Type == gjson.String && slices.Contains(list, r.Str) {
			out = refValue{ok: true, isStr: true, str: r.Str}
			return false
		}
		return true
	})
	return out
}

func refFirstOf(v refValue, list []string) refValue {
	if !v.ok {
		return refValue{}
	}
	if v.isStr {
		if slices.Contains(list, v.str) {
			return v
		}
		return refValue{}
	}
	var out refValue
	r := gjson.Parse(v.raw)
	pick := func(item gjson.Result) bool {
		if item.Type == gjson.String && slices.Contains(list, item.Str) {
			out = refValue{ok: true, isStr: true, str: item.Str}
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

func refJSONNumber(s string) refValue {
	if !gjson.Valid(s) || gjson.Parse(s).Type != gjson.Number {
		return refValue{}
	}
	return refValue{ok: true, raw: s}
}

func refPad3(n int64) string {
	if n < 0 {
		n = -n
	}
	s := strconv.FormatInt(n, 10)
	return strings.Repeat("0", 3-len(s)) + s
}

// toRef and fromRef carry a value across the shared helpers the rewrite
// left alone (enum, not, the upstream profile's filters).
func toRef(v value) refValue {
	return refValue{ok: v.ok, raw: v.raw, str: v.str, isStr: v.isStr}
}

func fromRef(v refValue) value { return value{ok: v.ok, raw: v.raw, str: v.str, isStr: v.isStr} }
