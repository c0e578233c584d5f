package mapping

import (
	"slices"
	"testing"

	"github.com/userbridge/userbridge/mapping/canonical"
)

const describeRules = `
dialect: acme
description: test
route: {method: PUT, path: /acme/:tenant/users/:id}
config: {app: APP1}
request:
  target: {from: param.id, by: id}
  forwardHeaders: [X-Version]
  credentialHeaders: [x-key]
  unknownFields: reject
  readOnly: [createdAt]
  fields:
    - {source: active, type: boolean, target: active}
    - source: state
      type: string
      enum: {ON: {locked: false}, OFF: {locked: true}}
response:
  status: 200
  headers: {Location: "/users/${param.id}"}
  body:
    id: ${user.id}
    nick: ${user.username?}
    app: ${config.app}
    at: ${user.updatedAt|epoch3}
    role: ${user.roles.#.name?|firstOf:A,B}
    tags: ${user.attributes|default:{}}
    locked: ${user.locked|not}
    state: ${user|enum:state}
    kind: user
    links: ["/x/${param.id}"]
errors:
  status: {invalid_field: 422}
  codes: {not_found: NOPE}
  messages: {conflict: taken}
  body: {code: "${error.dialectCode}", message: "${error.message}", status: "${error.status}"}
  byCode:
    invalid_field: {withField: {"${error.field}": "${error.message}"}}
`

func shapeMember(t *testing.T, s *Shape, name string) *Shape {
	t.Helper()
	for _, m := range s.Members {
		if m.Name == name {
			return m.Value
		}
	}
	t.Fatalf("no member %s", name)
	return nil
}

// TestDescribe: the accessors say what the rules do, and the shapes what
// the templates render: typed where a source or filter says, untyped for
// the user's values, optional for ${x?}, constants where the rules fix them.
func TestDescribe(t *testing.T) {
	p, err := Load("acme.yaml", []byte(describeRules), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.RouteParams(); !slices.Equal(got, []string{"tenant", "id"}) {
		t.Errorf("params %v", got)
	}
	if fw, cr := p.HeadersAsWritten(); !slices.Equal(fw, []string{"X-Version"}) || !slices.Equal(cr, []string{"x-key"}) {
		t.Errorf("headers %v %v", fw, cr)
	}
	if !p.RejectsUnknown() || p.TargetParam() != "id" || p.TargetBodyField() != "" ||
		!slices.Equal(p.ReadOnlyFields(), []string{"createdAt"}) || len(p.RequestFields()) != 2 {
		t.Error("request accessors")
	}
	s := p.Success()
	if s.Status != 200 || s.ContentType != "application/json" || !slices.Equal(s.Headers, []string{"Location"}) {
		t.Errorf("success %+v", s)
	}
	b := s.Body
	for name, want := range map[string]Shape{
		"id":     {Kind: ShapeValue, Nullable: true},
		"nick":   {Kind: ShapeValue, Optional: true},
		"app":    {Kind: ShapeValue, Type: "string", Enum: []string{"APP1"}},
		"at":     {Kind: ShapeValue, Type: "number", Nullable: true},
		"role":   {Kind: ShapeValue, Type: "string", Enum: []string{"A", "B"}, Optional: true},
		"tags":   {Kind: ShapeValue},
		"locked": {Kind: ShapeValue, Type: "boolean", Nullable: true},
		"state":  {Kind: ShapeValue, Type: "string", Enum: []string{"OFF", "ON"}, Nullable: true},
	} {
		got := shapeMember(t, b, name)
		if got.Kind != want.Kind || got.Type != want.Type || got.Nullable != want.Nullable ||
			got.Optional != want.Optional || !slices.Equal(got.Enum, want.Enum) {
			t.Errorf("%s: %+v, want %+v", name, *got, want)
		}
	}
	if k := shapeMember(t, b, "kind"); k.Kind != ShapeLiteral || string(k.Literal) != `"user"` {
		t.Errorf("kind %+v", k)
	}
	if l := shapeMember(t, b, "links"); l.Kind != ShapeArray || len(l.Items) != 1 || l.Items[0].Kind != ShapeString {
		t.Errorf("links %+v", l)
	}
	answers := map[canonical.Code]ErrorAnswer{}
	for _, a := range p.ErrorAnswers() {
		answers[a.Code] = a
	}
	if len(answers) != len(canonical.Codes) {
		t.Fatalf("%d answers", len(answers))
	}
	inv, nf, cf := answers[canonical.InvalidField], answers[canonical.NotFound], answers[canonical.Conflict]
	if inv.Status != 422 || inv.WithField == nil || !inv.WithField.Members[0].Templated || nf.Status != 404 || nf.WithField != nil {
		t.Errorf("statuses or variants: %+v %+v", inv, nf)
	}
	if c := shapeMember(t, nf.Body, "code"); !slices.Equal(c.Enum, []string{"NOPE"}) || c.Nullable {
		t.Errorf("not_found's code %+v", c)
	}
	if c := shapeMember(t, inv.Body, "code"); c.Enum != nil || !c.Nullable {
		t.Errorf("a code without a dialect code %+v", c)
	}
	if m := shapeMember(t, cf.Body, "message"); !slices.Equal(m.Enum, []string{"taken"}) {
		t.Errorf("conflict's message %+v", m)
	}
	if st := shapeMember(t, cf.Body, "status"); st.Type != "integer" || st.Nullable {
		t.Errorf("status %+v", st)
	}
}
