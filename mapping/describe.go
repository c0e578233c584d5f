package mapping

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/userbridge/userbridge/mapping/canonical"
)

// This file holds read-only accessors that describe a compiled Program for
// documents generated from it (the OpenAPI contract of adapters/openapi).
// They change nothing the Program does.

// RequestFields returns a copy of the rule file's field rules, as written.
func (p *Program) RequestFields() []FieldRule { return slices.Clone(p.file.Request.Fields) }

// ReadOnlyFields lists the top-level request members accepted and ignored.
func (p *Program) ReadOnlyFields() []string { return slices.Clone(p.file.Request.ReadOnly) }

// HeadersAsWritten returns request.forwardHeaders and
// request.credentialHeaders as the rule file spells them (ForwardHeaders
// and CredentialHeaders give them in canonical form).
func (p *Program) HeadersAsWritten() (forward, credentials []string) {
	return slices.Clone(p.file.Request.Headers), slices.Clone(p.file.Request.Credentials)
}

// TargetBodyField is the body member that names the user (target.from:
// body.FIELD), "" when a route parameter names it.
func (p *Program) TargetBodyField() string { return p.targetBody }

// TargetParam is the route parameter that names the user, "" when a body
// member names it.
func (p *Program) TargetParam() string { return p.targetParam }

// RejectsUnknown reports whether a member no rule names is refused
// (unknownFields: reject) rather than kept under extensions.<dialect>.
func (p *Program) RejectsUnknown() bool { return p.rejectExtra }

// ShapeKind says what a Shape describes.
type ShapeKind uint8

// The kinds of Shape.
const (
	// ShapeLiteral is a JSON value written as it is (Shape.Literal).
	ShapeLiteral ShapeKind = iota + 1
	// ShapeValue is a value read from a source, of Shape.Type when known.
	ShapeValue
	// ShapeString is a string with values interpolated.
	ShapeString
	// ShapeObject is an object of Shape.Members.
	ShapeObject
	// ShapeArray is an array of Shape.Items.
	ShapeArray
)

// Shape describes what a template of the rule file renders, as far as the
// rules say: a value read from the upstream's user or the request body has
// no known type (Type ""), and a value that may be absent renders null
// (Nullable) or, written ${x?}, is left out (Optional).
type Shape struct {
	Kind ShapeKind
	// Literal is the JSON of a ShapeLiteral.
	Literal json.RawMessage
	// Type is a ShapeValue's JSON type (string, number, integer, boolean,
	// object, array), "" when the rules do not say.
	Type string
	// Enum, when set, lists the only values a ShapeValue may have.
	Enum []string
	// Nullable: the value may render null (its source may be absent).
	Nullable bool
	// Optional: the member or item is left out when its value is absent.
	Optional bool
	// Members of a ShapeObject, in the order written.
	Members []ShapeMember
	// Items of a ShapeArray, in the order written.
	Items []*Shape
}

// ShapeMember is one member of an object template.
type ShapeMember struct {
	// Name is the member's key; "" when Templated.
	Name string
	// Templated: the key is taken from a value (${error.field}), so the
	// member's name is not known in advance, and it may be left out.
	Templated bool
	Value     *Shape
}

// SuccessAnswer describes the dialect's success answer.
type SuccessAnswer struct {
	Status      int
	ContentType string // "" when there is no body
	// Headers are the names of the headers the rules set (when they do
	// not render ""), in canonical form.
	Headers []string
	// Body is nil when the answer has none.
	Body *Shape
}

// ErrorAnswer describes how the dialect renders one canonical error code.
type ErrorAnswer struct {
	Code        canonical.Code
	Status      int
	ContentType string
	Headers     []string
	// Body is the envelope of an error naming no field; WithField, when
	// set, the one of an error that names a field.
	Body      *Shape
	WithField *Shape
}

// Success describes the success answer.
func (p *Program) Success() SuccessAnswer {
	s := p.success
	a := SuccessAnswer{Status: s.status, Headers: headerNames(s.headers)}
	if s.body != nil {
		a.ContentType = s.contentType
		a.Body = p.shape(s.body, nil)
	}
	return a
}

// ErrorAnswers describes, for each canonical code in canonical.Codes
// order, the answer the dialect renders for it (an upstream's error keeps
// its own status unless the rules map its code).
func (p *Program) ErrorAnswers() []ErrorAnswer {
	t := p.errs
	out := make([]ErrorAnswer, 0, len(canonical.Codes))
	for _, c := range canonical.Codes {
		a := ErrorAnswer{Code: c, Status: c.Status(), ContentType: t.contentType, Headers: headerNames(t.headers)}
		if s, ok := t.status[c]; ok {
			a.Status = s
		}
		body := t.body
		if v := t.byCode[c]; v != nil {
			a.Headers = append(a.Headers, headerNames(v.headers)...)
			if v.body != nil {
				body = v.body
			}
			if v.withField != nil {
				a.WithField = p.shape(v.withField, &a)
			}
		}
		a.Body = p.shape(body, &a)
		out = append(out, a)
	}
	return out
}

func headerNames(hs []headerTmpl) []string {
	out := make([]string, 0, len(hs))
	for _, h := range hs {
		out = append(out, h.name)
	}
	return out
}

// shape describes a template; e is the error answer it renders, nil for
// the success answer.
func (p *Program) shape(t *tmpl, e *ErrorAnswer) *Shape {
	switch t.kind {
	case tLit:
		return &Shape{Kind: ShapeLiteral, Literal: json.RawMessage(t.lit)}
	case tInterp:
		return &Shape{Kind: ShapeString}
	case tExpr:
		return p.exprShape(t.expr, e)
	case tObject:
		s := &Shape{Kind: ShapeObject}
		for _, m := range t.members {
			s.Members = append(s.Members, ShapeMember{Name: m.name, Templated: m.keyTpl != nil, Value: p.shape(m.val, e)})
		}
		return s
	case tArray:
		s := &Shape{Kind: ShapeArray}
		for _, it := range t.items {
			s.Items = append(s.Items, p.shape(it, e))
		}
		return s
	}
	return &Shape{Kind: ShapeValue, Nullable: true}
}

// exprShape describes a whole-value expression: its source's type and
// whether it may be absent, then each filter's effect.
func (p *Program) exprShape(x *expr, e *ErrorAnswer) *Shape {
	s := &Shape{Kind: ShapeValue, Optional: x.optional, Nullable: true}
	switch x.src {
	case srcParam:
		// A route's parameter is never empty where its route matched; an
		// answer to a request no route matched (not_found, method_not_allowed:
		// internal/server/unmatched.go) may have none.
		s.Type = "string"
		s.Nullable = e != nil && (e.Code == canonical.NotFound || e.Code == canonical.MethodNotAllowed)
	case srcRequest:
		// Every request has an id, a URL and a path; dir is "" for a path
		// of one segment.
		s.Type = "string"
		s.Nullable = x.path == "dir"
	case srcConfig:
		s.Type = "string"
		s.Nullable = p.config[x.path] == ""
		if !s.Nullable {
			s.Enum = []string{p.config[x.path]}
		}
	case srcError:
		s.Type, s.Enum, s.Nullable = p.errorValueShape(x.path, e)
	}
	for _, f := range x.filters {
		switch f.name {
		case "default":
			var lit any
			if json.Unmarshal(f.arg, &lit) == nil && lit != nil {
				if s.Type != jsonTypeOf(lit) {
					s.Type, s.Enum = "", nil
				}
				s.Nullable = false
			}
		case "epoch3", "number":
			s.Type, s.Enum, s.Nullable = "number", nil, true
		case "query", "path", "string":
			s.Type, s.Enum = "string", nil
		case "firstOf":
			s.Type, s.Enum, s.Nullable = "string", slices.Clone(f.list), true
		case "not":
			s.Type, s.Enum, s.Nullable = "boolean", nil, true
		case "enum":
			s.Type, s.Enum, s.Nullable = reverseEnumShape(f.rev)
		default: // a filter this description does not know
			s.Type, s.Enum, s.Nullable = "", nil, true
		}
	}
	if x.optional { // left out when absent: never null
		s.Nullable = false
	}
	return s
}

// errorValueShape describes ${error.NAME} in the answer to one code.
func (p *Program) errorValueShape(name string, e *ErrorAnswer) (typ string, enum []string, nullable bool) {
	if e == nil {
		return "", nil, true
	}
	t := p.errs
	switch name {
	case "status":
		return "integer", nil, false
	case "code":
		return "string", []string{string(e.Code)}, false
	case "dialectCode":
		s := t.codes[e.Code]
		if s == "" {
			s = t.defCode
		}
		if s == "" {
			return "string", nil, true
		}
		return "string", []string{s}, false
	case "message":
		if m, ok := t.messages[e.Code]; ok && m != "" {
			return "string", []string{m}, false
		}
	}
	return "string", nil, true
}

// reverseEnumShape describes what the enum:SOURCE filter renders: one of
// the request enum's values, typed as its rule's source, or nothing.
func reverseEnumShape(r *reverseEnum) (typ string, enum []string, nullable bool) {
	if r == nil || len(r.entries) == 0 {
		return "", nil, true
	}
	for i, e := range r.entries {
		var v any
		if json.Unmarshal(e.out, &v) != nil {
			return "", nil, true
		}
		t := jsonTypeOf(v)
		if i > 0 && t != typ {
			return "", nil, true
		}
		typ = t
		if str, ok := v.(string); ok {
			enum = append(enum, str)
		}
	}
	slices.Sort(enum)
	return typ, enum, true
}

func jsonTypeOf(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return ""
}

// RouteParams lists the route's parameters in the order of the path.
func (p *Program) RouteParams() []string {
	var out []string
	for _, seg := range strings.Split(p.file.Route.Path, "/") {
		if len(seg) > 1 && (seg[0] == ':' || seg[0] == '*') {
			out = append(out, seg[1:])
		}
	}
	return out
}
