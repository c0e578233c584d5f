package mapping

import (
	"strings"
	"testing"
)

// reverseRules is a dialect whose answer maps values back: disabled is the
// negation of active, state one string for two flags.
const reverseRules = `
dialect: rev
description: values rendered back
route: {method: put, path: /r/:id}
request:
  target: {from: param.id, by: id}
  fields:
    - source: disabled
      type: boolean
      enum:
        true: {active: false}
        false: {active: true}
    - source: state
      type: string
      enum:
        closed: {deleted: true}
        locked: {locked: true, deleted: false}
        open: {locked: false, deleted: false}
    - {source: tier, type: integer, enum: {1: {extensions.rev.tier: gold}, 2: {extensions.rev.tier: silver}}}
response:
  status: 200
  body:
    disabled: ${user.active|not}
    disabledByEnum: ${user|enum:disabled}
    state: ${user?|enum:state}
    stateOrOpen: ${user|enum:state|default:open}
    tier: ${user?|enum:tier}
errors:
  body: {message: "${error.message}"}
`

// TestRenderBack: not and enum:SOURCE give back what the request sent.
func TestRenderBack(t *testing.T) {
	p, err := Load("rev.yaml", []byte(reverseRules), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ user, want string }{
		{`{"active":false}`, `{"disabled":true,"disabledByEnum":true,"stateOrOpen":"open"}`},
		{`{"active":true,"locked":false,"deleted":false}`, `{"disabled":false,"disabledByEnum":false,"state":"open","stateOrOpen":"open"}`},
		{`{"active":true,"locked":true,"deleted":false}`, `{"disabled":false,"disabledByEnum":false,"state":"locked","stateOrOpen":"locked"}`},
		// Both flags: the first value in the file's order whose fields hold.
		{`{"locked":true,"deleted":true}`, `{"disabled":null,"disabledByEnum":null,"state":"closed","stateOrOpen":"closed"}`},
		// A number source renders a number; an extension is read where it is.
		{`{"active":"yes","extensions":{"rev":{"tier":"silver"}}}`, `{"disabled":null,"disabledByEnum":null,"stateOrOpen":"open","tier":2}`},
	} {
		in := &Input{Params: params{"id": "u1"}, Path: "/r/u1", URL: "http://x/r/u1"}
		res, cerr := p.Translate(&Input{Body: []byte(`{}`), Params: params{"id": "u1"}, Path: "/r/u1"})
		if cerr != nil {
			t.Fatal(cerr)
		}
		if got := string(p.RenderSuccess(in, res, []byte(c.user)).Body); got != c.want {
			t.Errorf("user %s:\n got %s\nwant %s", c.user, got, c.want)
		}
	}
}

// TestRenderBackChecked: a reverse that cannot hold is refused at compile
// time, naming the file and line of the template.
func TestRenderBackChecked(t *testing.T) {
	for _, c := range []struct{ name, from, to, want string }{
		{"unknown source", "${user?|enum:state}", "${user?|enum:status}", `rev.yaml:25: response.body.state: ${user?|enum:status}: no request field rule with source "status" has an enum (disabled, state, tier)`},
		{"not the whole user", "${user?|enum:state}", "${user.locked|enum:state}", `enum:state reads the whole user: write ${user|enum:state}`},
		{"not first", "${user?|enum:state}", "${user|default:x|enum:state}", `enum:state comes first`},
		{"unknown filter", "${user.active|not}", "${user.active|nope}", `unknown filter "nope" (epoch3, default, firstOf, query, path, string, number, not, enum)`},
		// gone's fields are a subset of locked's: a user locked (and not
		// deleted) would read gone.
		{"a subset first", "        closed: {deleted: true}\n", "        gone: {locked: true}\n        closed: {deleted: true}\n",
			`rev.yaml:26: response.body.state: ${user?|enum:state}: state's enum value "locked" would render back as "gone"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(reverseRules, c.from, c.to, 1)
			if src == reverseRules {
				t.Fatalf("%q not found", c.from)
			}
			_, err := Load("rev.yaml", []byte(src), Options{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v\nwant %q", err, c.want)
			}
		})
	}
}
