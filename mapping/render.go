package mapping

import (
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/tidwall/gjson"
	"github.com/userbridge/userbridge/internal/lex"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// Header is one response header.
type Header struct {
	Name, Value string
}

// Reply is a rendered answer in the dialect.
type Reply struct {
	Status      int
	ContentType string
	Headers     []Header
	Body        []byte // nil: no body
}

// renderCtx is what templates read. Its user and the index of its members
// are views of the bytes RenderSuccess was given: a renderCtx never leaves
// the function that makes it, and what it renders is appended (copied) to
// the answer.
type renderCtx struct {
	p    *Program
	in   *Input
	err  *canonical.Error
	st   int
	data *TemplateData // the rules upstream profile's sources; nil in a dialect

	// u is the user the answer shows; nil shows none (an error's answer,
	// a Template's), as an empty user would.
	u *userView
	// mem, when not nil, says where the members of u.doc are: the user
	// passed canonical.CheckAnswerMembers's walk, so idx is never needed.
	// It is the caller's, read during this render only.
	mem *canonical.Members
	// idx, when mem is nil, indexes the user's top-level members; nil
	// (there is no user) reads through gjson.
	idx   *userIndex
	guard uint8 // 0 not asked yet; 1 the guard's scanner reads the user, 2 it does not (guardIndexes)
}

// userView is the user a success answer shows: doc as given, user its
// gjson view (user.Raw starts at doc's first non-blank byte), parsed the
// first time it is asked for (renderCtx.user): a render from the walk's
// Members may never need it.
//
// It is apart from renderCtx, and so are the index and the Members, for
// the compiler's escape analysis, which does not tell apart the fields of
// what a pointer points to: gjson leaks the strings it is given, so were
// the user a field of renderCtx, whatever a renderCtx points to would be
// taken to leak with it, and the index RenderChecked keeps on its stack,
// like its caller's Members, would be moved to the heap.
type userView struct {
	doc    string
	user   gjson.Result
	parsed bool // user is set
}

// userIndex indexes a user's top-level members, read in one pass the first
// time a template needs one: a template reads a dozen members, and a gjson
// lookup for each would scan the user a dozen times. A render that has the
// walk's Members has no need of it, nor zeroes its kilobyte.
type userIndex struct {
	top     [32]userMember
	ntop    int
	indexed bool
}

type userMember struct {
	key string // as written: indexing stops at a key with an escape
	raw string // the value's JSON text
}

// user is the gjson view of the user, empty when there is none.
func (c *renderCtx) user() gjson.Result {
	if c.u == nil {
		return gjson.Result{}
	}
	if !c.u.parsed {
		c.u.user, c.u.parsed = gjson.Parse(c.u.doc), true
	}
	return c.u.user
}

// lookup finds a user path: the JSON text of its value, "" when absent.
func (c *renderCtx) lookup(e *expr) string {
	if !e.plain {
		return c.user().Get(e.path).Raw
	}
	if c.mem != nil {
		// One object of canonical members, each once, keys as written: a
		// head that is no canonical member's name is absent.
		if e.mem == 0 {
			return ""
		}
		raw := c.mem.Raw(c.u.doc, e.mem-1)
		if raw == "" || e.rest == "" {
			return raw
		}
		return gjson.Get(raw, e.rest).Raw
	}
	x := c.idx
	if x == nil {
		return c.user().Get(e.path).Raw // no user: indexTop would refuse ""
	}
	if !x.indexed {
		x.indexed = true
		if !x.indexTop(c.user().Raw) {
			x.ntop = -1 // fall back to gjson lookups
		}
	}
	if x.ntop < 0 {
		return c.user().Get(e.path).Raw
	}
	for i := 0; i < x.ntop; i++ {
		if x.top[i].key == e.head {
			if e.rest == "" {
				return x.top[i].raw
			}
			if x.duplicated(i) && !c.guardIndexes() {
				return c.user().Get(e.path).Raw
			}
			return gjson.Get(x.top[i].raw, e.rest).Raw
		}
	}
	return ""
}

// duplicated reports whether a member after top[i] has its key.
func (x *userIndex) duplicated(i int) bool {
	for j := i + 1; j < x.ntop; j++ {
		if x.top[j].key == x.top[i].key {
			return true
		}
	}
	return false
}

// eval evaluates e. value is too large for the compiler to keep in
// registers: each source returns its value whole (source), rather than
// filling in a variable that is then copied, and the render's commonest
// expressions skip it (userJSON, text).
func (c *renderCtx) eval(e *expr) value {
	if e.each != nil {
		// firstOfEach applies the firstOf filter that follows: only the
		// filters after it are left.
		v := firstOfEach(c.lookup(&e.each.array), e.each.item, e.filters[0].list)
		if len(e.filters) == 1 {
			return v
		}
		return applyFilters(v, e.filters[1:])
	}
	if len(e.filters) == 0 {
		return c.source(e)
	}
	return applyFilters(c.source(e), e.filters)
}

// source is the value e reads from its source, before its filters.
func (c *renderCtx) source(e *expr) value {
	switch e.src {
	case srcUser:
		raw := c.lookup(e)
		if e.path == "" { // ${user|enum:SOURCE}
			raw = c.user().Raw
		}
		return value{ok: raw != "" && raw != "null", raw: raw}
	case srcBody:
		r := gjson.Get(str(c.in.Body), e.path) // a view: what is rendered from it is copied
		return value{ok: r.Exists() && r.Type != gjson.Null, raw: r.Raw}
	case srcUpdate, srcReply:
		return c.data.eval(e)
	case srcParam, srcConfig, srcRequest:
		if e.src == srcParam && c.in.Params == nil {
			return value{}
		}
		s, ok := c.plain(e)
		return value{ok: ok, isStr: true, str: s}
	case srcError:
		if c.err != nil {
			return c.errorValue(e.path)
		}
	}
	return value{}
}

// plain reads the sources whose value is a plain string (param, config,
// request): the string, and whether it is present. An absent one is "".
func (c *renderCtx) plain(e *expr) (string, bool) {
	switch e.src {
	case srcParam:
		if c.in.Params != nil {
			s := c.in.Params.ByName(e.path)
			return s, s != ""
		}
	case srcConfig:
		s, ok := c.p.config[e.path]
		return s, ok
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
		return s, s != ""
	}
	return "", false
}

// text is c.eval(e).text(), a plain source without filters read without
// building the value.
func (c *renderCtx) text(e *expr) string {
	if len(e.filters) == 0 && (e.src == srcParam || e.src == srcConfig || e.src == srcRequest) {
		s, _ := c.plain(e)
		return s
	}
	return c.eval(e).text()
}

// userJSON is what eval(e).appendJSON writes for an e.userRaw expression,
// "" where it writes null because the value is absent (eval's ok false):
// the member's JSON text, else the default's.
func (c *renderCtx) userJSON(e *expr) string {
	if raw := c.lookup(e); raw != "" && raw != "null" {
		return raw
	}
	return e.userDef
}

func (c *renderCtx) errorValue(name string) value {
	e, t := c.err, c.p.errs
	s := ""
	switch name {
	case "status":
		return value{ok: true, raw: strconv.Itoa(c.st)}
	case "code":
		s = string(e.Code)
	case "dialectCode":
		s = t.codes[e.Code]
		if s == "" {
			s = t.defCode
		}
	case "message":
		s = e.Message
		if m, ok := t.messages[e.Code]; ok {
			s = m
		}
	case "field":
		s = e.Field
	}
	return value{ok: s != "", isStr: true, str: s}
}

func (c *renderCtx) appendTmpl(out []byte, t *tmpl) []byte {
	switch t.kind {
	case tLit:
		return append(out, t.lit...)
	case tExpr:
		if t.expr.userRaw {
			return appendRaw(out, c.userJSON(t.expr))
		}
		return c.eval(t.expr).appendJSON(out)
	case tInterp:
		out = append(out, '"')
		for i := range t.parts {
			if p := &t.parts[i]; p.expr == nil {
				out = append(out, p.litJSON...)
			} else {
				out = appendStringBody(out, c.text(p.expr))
			}
		}
		return append(out, '"')
	case tArray:
		out = append(out, '[')
		n := 0
		for _, it := range t.items {
			if it.kind == tExpr && it.expr.userRaw {
				raw := c.userJSON(it.expr)
				if it.expr.optional && raw == "" {
					continue
				}
				out = appendRaw(comma(out, &n), raw)
				continue
			}
			if it.kind == tExpr { // evaluated once, for the test and the value
				v := c.eval(it.expr)
				if it.expr.optional && !v.ok {
					continue
				}
				out = v.appendJSON(comma(out, &n))
				continue
			}
			out = c.appendTmpl(comma(out, &n), it)
		}
		return append(out, ']')
	}
	if t.dynamic {
		return c.appendDynamic(out, t)
	}
	out = append(out, '{')
	n := 0
	for i := range t.members {
		m := &t.members[i]
		// A member whose value is one expression is evaluated once: for
		// ${x?} the value decides whether the member is written at all.
		if m.val.kind == tExpr && m.val.expr.userRaw { // the commonest member, with no value built
			raw := c.userJSON(m.val.expr)
			if m.val.expr.optional && raw == "" {
				continue
			}
			out = append(append(comma(out, &n), m.key...), ':')
			out = appendRaw(out, raw)
			continue
		}
		if m.val.kind == tExpr {
			v := c.eval(m.val.expr)
			if m.val.expr.optional && !v.ok {
				continue
			}
			out = append(append(comma(out, &n), m.key...), ':')
			out = v.appendJSON(out)
			continue
		}
		out = append(append(comma(out, &n), m.key...), ':')
		out = c.appendTmpl(out, m.val)
	}
	return append(out, '}')
}

// appendRaw appends userJSON's answer raw: null for "".
func appendRaw(out []byte, raw string) []byte {
	if raw == "" {
		return append(out, "null"...)
	}
	return append(out, raw...)
}

// appendDynamic renders an object with a templated key. The names written
// so far are kept: a member whose key is one of them is left out (the
// first wins, as in a lookup), so the object never holds a name twice,
// which JSON parsers read differently. A templated key never takes a name
// the rules write as it is (whatever the order: a request's value must not
// replace a member the rules fill), and one that renders "" (its value
// absent) drops its member.
func (c *renderCtx) appendDynamic(out []byte, t *tmpl) []byte {
	out = append(out, '{')
	n := 0
	var names [8]string
	seen := names[:0]
	for i := range t.members {
		m := &t.members[i]
		var v value
		if m.val.kind == tExpr {
			if v = c.eval(m.val.expr); m.val.expr.optional && !v.ok {
				continue
			}
		}
		name := m.name
		if m.key == nil {
			name = c.interp(m.keyTpl)
			if name == "" || t.writes(name) {
				continue
			}
		}
		if slices.Contains(seen, name) {
			continue
		}
		seen = append(seen, name)
		out = comma(out, &n)
		if m.key != nil {
			out = append(out, m.key...)
		} else {
			out = lex.AppendJSONString(out, name)
		}
		out = append(out, ':')
		if m.val.kind == tExpr {
			out = v.appendJSON(out)
		} else {
			out = c.appendTmpl(out, m.val)
		}
	}
	return append(out, '}')
}

// writes reports whether the object template has a member named name as
// written (not templated).
func (t *tmpl) writes(name string) bool {
	for i := range t.members {
		if m := &t.members[i]; m.key != nil && m.name == name {
			return true
		}
	}
	return false
}

func (c *renderCtx) interp(parts []strPart) string {
	if len(parts) == 1 && parts[0].expr == nil {
		return parts[0].lit
	}
	var buf [256]byte // the text is built here and copied once
	b := buf[:0]
	for i := range parts {
		if p := &parts[i]; p.expr == nil {
			b = append(b, p.lit...)
		} else {
			b = append(b, c.text(p.expr)...)
		}
	}
	return string(b)
}

// headers renders hs. A header whose value renders "" is left out, and so
// is one whose value is not a valid field value (a control character a
// request sent, which interpolation does not escape): written, it would
// break the answer's header block.
func (c *renderCtx) headers(dst []Header, hs []headerTmpl) []Header {
	for _, h := range hs {
		if v := c.interp(h.parts); v != "" && httpguts.ValidHeaderFieldValue(v) {
			dst = append(dst, Header{Name: h.name, Value: v})
		}
	}
	return dst
}

// NeedsUser reports whether the success answer shows the user, so that an
// upstream 204 must be followed by a GET.
func (p *Program) NeedsUser() bool { return p.success.needsUser }

// RenderSuccess renders the dialect's success answer from the canonical
// user (nil when the upstream answered 204 and the dialect shows no user).
// The Reply owns its memory: the user, read through views while rendering,
// may be reused as soon as RenderSuccess returns.
func (p *Program) RenderSuccess(in *Input, res *Result, user []byte) *Reply {
	return p.RenderChecked(in, res, user, nil)
}

// RenderChecked is RenderSuccess for a user canonical.CheckAnswerMembers
// has checked, m what it found: the same answer, its members read where m
// says rather than found by a scan of the user. A nil m, or one not Valid
// for user (Members.Of), is RenderSuccess.
func (p *Program) RenderChecked(in *Input, res *Result, user []byte, m *canonical.Members) *Reply {
	t := p.success
	rep := &Reply{Status: t.status, ContentType: t.contentType}
	if len(t.headers) == 0 && t.body == nil {
		return rep // a bare status (Shift's and Baasic's 204): nothing reads the user
	}
	u := userView{doc: str(user)}
	c := renderCtx{p: p, in: in, st: t.status, u: &u}
	if m != nil && m.Of(user) {
		c.mem = m
		return c.render(rep, t, len(user))
	}
	// Only a user the walk did not vouch for needs the index: declared
	// here, it is zeroed only then. Like u, it stays on this stack (see
	// userView).
	var idx userIndex
	c.idx = &idx
	u.user, u.parsed = gjson.Parse(u.doc), true // the index reads it
	return c.render(rep, t, len(user))
}

// render fills rep with the success answer t, for a user of n bytes.
func (c *renderCtx) render(rep *Reply, t *successTmpl, n int) *Reply {
	rep.Headers = c.headers(nil, t.headers)
	if t.body != nil {
		rep.Body = c.appendTmpl(make([]byte, 0, n+256), t.body)
	}
	return rep
}
