package mapping

import (
	"strings"

	"github.com/tidwall/gjson"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// RenderError renders a canonical error in the dialect.
//
// The error's field is shown in the caller's terms or not at all: a name of
// the dialect's rules or route, or a field the request body holds, is shown
// as it is; a name in canonical terms the dialect has no field for (an
// upstream's "username" for Finix) is left out, as if the error named no
// field. UpstreamField first names an upstream's canonical field by its
// source. The Reply owns its memory, as RenderSuccess's does.
func (p *Program) RenderError(in *Input, e *canonical.Error) *Reply {
	if e.Field != "" {
		if f := p.errorField(in, e.Field); f != e.Field {
			named := *e
			named.Field = f
			e = &named
		}
	}
	t := p.errs
	st := e.HTTPStatus()
	if s, ok := t.status[e.Code]; ok {
		st = s
	}
	c := renderCtx{p: p, in: in, err: e, st: st}
	rep := &Reply{Status: st, ContentType: t.contentType}
	rep.Headers = c.headers(nil, t.headers)
	body := t.body
	if v := t.byCode[e.Code]; v != nil {
		rep.Headers = c.headers(rep.Headers, v.headers)
		if v.body != nil {
			body = v.body
		}
		if e.Field != "" && v.withField != nil {
			body = v.withField
		}
	}
	if e.RetryAfter != "" {
		rep.Headers = append(rep.Headers, Header{Name: "Retry-After", Value: e.RetryAfter})
	}
	rep.Body = c.appendTmpl(make([]byte, 0, 256), body)
	return rep
}

// SourceField names a canonical field in the dialect's terms, for errors
// the upstream reports on a canonical field ("" when no rule writes it).
func (p *Program) SourceField(field string) string { return p.sources[field] }

// UpstreamField names the field of an upstream's error in the dialect's
// terms where the rules say how: the source of the rule that writes a
// canonical field, or the member name of one of the dialect's own
// extensions; anything else unchanged (RenderError then leaves a canonical
// name out). UpstreamError does it, and names the field in the message.
func (p *Program) UpstreamField(field string) string {
	if f := p.sources[field]; f != "" {
		return f
	}
	if rest, ok := strings.CutPrefix(field, p.extPrefix); ok {
		return rest
	}
	return field
}

// UpstreamError is e, an error an upstream reported (or refused before
// sending anything) on a canonical field, as the dialect shows it: the field
// named in the dialect's terms (UpstreamField) and, where RenderError shows
// that name, named at the start of the message too ("phone: the directory
// has no attribute for this field"), as userbridge's own field errors are
// ("phone must not be empty"), unless the message already starts with it.
// A dialect whose error envelope has no member for a field (Trusted Twin's
// description) shows only the message: it is there that the caller reads
// which field was refused. e is changed in place and returned. It is what
// the server does to every upstream error before rendering it.
func (p *Program) UpstreamError(in *Input, e *canonical.Error) *canonical.Error {
	if e.Field == "" {
		return e
	}
	e.Field = p.UpstreamField(e.Field)
	f := p.errorField(in, e.Field)
	switch {
	case f == "" || startsWithName(e.Message, f):
	case e.Message == "":
		e.Message = f + " was refused"
	default:
		e.Message = f + ": " + e.Message
	}
	return e
}

// startsWithName reports whether msg begins with the field name, in any
// case, followed by its end, a space or a colon ("Email is not valid").
func startsWithName(msg, name string) bool {
	if len(msg) < len(name) || !strings.EqualFold(msg[:len(name)], name) {
		return false
	}
	return len(msg) == len(name) || msg[len(name)] == ' ' || msg[len(name)] == ':'
}

// errorField is field as RenderError shows it; "" leaves it out.
func (p *Program) errorField(in *Input, field string) string {
	top := field
	if i := strings.IndexAny(field, ".["); i >= 0 {
		top = field[:i]
	}
	if p.keys[top] != nil || p.params[top] || !isCanonicalName(top) {
		return field // the dialect's own name, or one the caller or the upstream chose
	}
	if in != nil && len(in.Body) > 0 && gjson.ValidBytes(in.Body) && gjson.GetBytes(in.Body, gjsonEscape(top)).Exists() {
		return field // a field the caller sent (an unknown field kept as an extension)
	}
	return ""
}

// isCanonicalName reports whether name is a canonical field, writable or
// read-only, or extensions.
func isCanonicalName(name string) bool {
	if name == "extensions" || canonical.FieldIndex(name) >= 0 {
		return true
	}
	for _, r := range canonical.ReadOnly {
		if r == name {
			return true
		}
	}
	return false
}
