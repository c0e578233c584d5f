package mapping

import (
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
	"github.com/userbridge/userbridge/internal/lex"
	"gopkg.in/yaml.v3"
)

// Templates outside a dialect: the `rules` upstream profile
// (internal/upstream/rest) writes its requests from the canonical update and
// reads the canonical user from the upstream's reply with the same template
// language as a dialect's rule file. Two sources are theirs alone:
//
//   - ${update.<gjson path>}: the canonical update document, e.g.
//     ${update.set.givenName}; the filter unset:<JSON> makes an
//     update.set.<field> expression render that JSON when the update unsets
//     the field (${update.set.email?|unset:""}: the e-mail when set, "" when
//     unset, left out otherwise).
//   - ${reply.<gjson path>}: the upstream's reply body.
//
// and three filters: listValues (an object's scalar values become one-item
// arrays, {"a":"x"} → {"a":["x"]}), unlistValues (an object's one-item
// arrays become their item) and fromMillis (epoch milliseconds → RFC 3339
// UTC with milliseconds).

// TemplateData is what a Template reads.
type TemplateData struct {
	// Update is the canonical update document: ${update.…}.
	Update []byte
	// Reply is the upstream's reply body: ${reply.…}.
	Reply []byte
	// Params are ${param.<name>}.
	Params Params
}

// Template is a compiled template of a TemplateSet. It is immutable and safe
// for concurrent use.
type Template struct {
	t *tmpl
	p *Program // the config constants
}

// TemplateSet compiles the templates of one file, collecting every problem
// with where it is.
type TemplateSet struct {
	pr *problems
	p  *Program
}

// NewTemplateSet starts the templates of file, which may read
// ${config.NAME} from config and the given sources (of user, param,
// request, config, error, body, update, reply).
func NewTemplateSet(file string, config map[string]string, sources ...string) *TemplateSet {
	p := &Program{config: map[string]string{}, errs: &errorTmpls{}}
	for k, v := range config {
		p.config[k] = v
	}
	if len(sources) == 0 {
		sources = []string{"config"}
	}
	return &TemplateSet{pr: &problems{name: file, sources: sources}, p: p}
}

// Lines gives the set the file as decoded, so that each problem names its
// line in the file (a template written as YAML knows its own).
func (s *TemplateSet) Lines(root *yaml.Node) { s.pr.root = root }

// Node compiles a JSON template written as YAML.
func (s *TemplateSet) Node(where string, n *yaml.Node) *Template {
	if n == nil || n.Kind == 0 {
		s.pr.addf(where, "missing")
		return &Template{t: &tmpl{kind: tLit, lit: []byte("null")}, p: s.p}
	}
	return &Template{t: compileNode(s.pr, where, n), p: s.p}
}

// Text compiles an interpolated string, such as a header value.
func (s *TemplateSet) Text(where, text string) *Template {
	return &Template{t: &tmpl{kind: tInterp, parts: compileInterp(s.pr, place{where: where}, text)}, p: s.p}
}

// Path compiles a URL path template, query allowed. Every value but a
// config constant must be escaped for its place, its last filter being
// path or query, so that a value can never add a segment, a parameter or a
// fragment.
func (s *TemplateSet) Path(where, text string) *Template {
	t := s.Text(where, text)
	if !strings.HasPrefix(text, "/") {
		s.pr.addf(where, "%q must start with /", text)
	}
	if strings.Contains(text, "#") {
		s.pr.addf(where, "%q: a path has no fragment", text)
	}
	for _, p := range t.t.parts {
		if p.expr == nil || p.expr.src == srcConfig {
			continue
		}
		n := len(p.expr.filters)
		if n == 0 || (p.expr.filters[n-1].name != "path" && p.expr.filters[n-1].name != "query") {
			s.pr.addf(where, "${%s} must end with |path or |query: a value is escaped for its place", p.expr.text)
		}
	}
	return t
}

// Err reports every problem found so far, nil when there is none.
func (s *TemplateSet) Err() error { return s.pr.err() }

// Render renders the template as JSON.
func (t *Template) Render(d *TemplateData) []byte {
	c := t.ctx(d)
	return c.appendTmpl(make([]byte, 0, 256), t.t)
}

// Text renders a template compiled by TemplateSet.Text or Path as text.
func (t *Template) Text(d *TemplateData) string {
	if t.t.kind != tInterp {
		return string(t.Render(d))
	}
	return t.ctx(d).interp(t.t.parts)
}

func (t *Template) ctx(d *TemplateData) *renderCtx {
	in := &Input{Params: NoParams{}}
	if d.Params != nil {
		in.Params = d.Params
	}
	return &renderCtx{p: t.p, in: in, data: d}
}

// eval reads ${update.…} and ${reply.…}.
func (d *TemplateData) eval(e *expr) value {
	if d == nil {
		return value{}
	}
	doc := d.Reply
	if e.src == srcUpdate {
		doc = d.Update
	}
	r := gjson.GetBytes(doc, e.path)
	v := value{ok: r.Exists() && r.Type != gjson.Null, raw: r.Raw}
	if !v.ok && e.unsetArg != nil && unsets(d.Update, strings.TrimPrefix(e.path, "set.")) {
		v = value{ok: true, raw: string(e.unsetArg)}
	}
	return v
}

// unsets reports whether the update's unset names field.
func unsets(update []byte, field string) bool {
	found := false
	gjson.GetBytes(update, "unset").ForEach(func(_, v gjson.Result) bool {
		found = v.Str == field
		return !found
	})
	return found
}

// listValues turns an object's scalar values into one-item arrays.
func listValues(v value) value {
	return mapMembers(v, func(out []byte, x gjson.Result) []byte {
		if x.IsArray() || x.IsObject() {
			return append(out, x.Raw...)
		}
		return append(append(append(out, '['), x.Raw...), ']')
	})
}

// unlistValues turns an object's one-item arrays into their item.
func unlistValues(v value) value {
	return mapMembers(v, func(out []byte, x gjson.Result) []byte {
		if items := x.Array(); x.IsArray() && len(items) == 1 {
			return append(out, items[0].Raw...)
		}
		return append(out, x.Raw...)
	})
}

// mapMembers rewrites the member values of v, an object, each appended to
// out by f; any other v is returned unchanged.
func mapMembers(v value, f func(out []byte, x gjson.Result) []byte) value {
	r := gjson.Parse(v.raw)
	if !v.ok || v.isStr || !r.IsObject() {
		return v
	}
	out := []byte{'{'}
	r.ForEach(func(k, x gjson.Result) bool {
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = f(append(lex.AppendJSONString(out, k.Str), ':'), x)
		return true
	})
	return value{ok: true, raw: string(append(out, '}'))}
}

// fromMillis turns epoch milliseconds into RFC 3339 UTC with milliseconds.
func fromMillis(v value) value {
	if !v.ok {
		return v
	}
	ms, err := strconv.ParseInt(v.text(), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(v.text(), 64)
		if ferr != nil {
			return value{}
		}
		ms = int64(f)
	}
	return value{ok: true, isStr: true, str: time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")}
}

// Ref is one ${source.path} a template reads.
type Ref struct {
	// Path is the expression's path, e.g. "set.givenName".
	Path string
	// Unset is true when the expression has the unset filter.
	Unset bool
}

// Refs lists the expressions of source ("update", "reply", …) the
// template reads, in order.
func (t *Template) Refs(source string) []Ref {
	want := sourceNames[source]
	var out []Ref
	t.t.each(func(e *expr) {
		if e.src == want {
			out = append(out, Ref{Path: e.path, Unset: e.unsetArg != nil})
		}
	})
	return out
}
