package mapping

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/userbridge/userbridge/mapping/canonical"
)

type params map[string]string

func (p params) ByName(n string) string { return p[n] }

// testRules exercises every request-side feature of the engine.
const testRules = `
dialect: demo
description: a dialect for the engine's own tests
route: {method: put, path: /t/:tenant/u/:who}
config: {site: example}
request:
  target: {from: param.who, by: auto, normalize: uuid}
  tenant: param.tenant
  readOnly: [id]
  fields:
    - {source: login, type: string, target: username, validate: {nonEmpty: true, pattern: "[a-z.]+"}}
    - {source: first, type: string, target: givenName, empty: unset}
    - {source: mail, type: string, target: email, empty: reject, validate: {email: true}}
    - source: state
      type: string
      enum:
        ACTIVE: {active: true, locked: false}
        LOCKED: {locked: true}
    - {source: lockedOut, type: boolean, target: locked}
    - {source: meta, type: object, target: attributes, null: unset, validate: {maxPairs: 2, keyPattern: "[a-z_]+", valueMaxLength: 3}}
    - {source: role, type: string, target: roles, wrap: id, list: true, normalize: uuid, validate: {uuid: true}}
    - {source: groups, type: array, target: roles, items: {wrap: name, keep: [id, name], ignore: [created]}}
    - {source: teams, type: array, target: roles, items: {keep: [id, name], required: [name]}}
    - {source: rolename, type: string, target: roles, wrap: name, list: true}
    - {source: flag, type: boolean, target: extensions.demo.flag}
    - {source: pw, type: string, target: password, validate: {password: {minLength: 8, upper: true, lower: true, digit: true, special: "!@#", notContainUsername: true, usernameField: login}}}
    - {source: profile.city, type: string, target: organization}
response:
  status: 200
  headers: {Location: "/u/${user.username|query}"}
  body:
    who: ${user.id}
    name: ${user.username}
    since: ${user.createdAt|epoch3}
    maybe: ${user.missing?}
    tags: ${user.attributes|default:{}}
    site: https://${config.site}/u/${param.who|path}
    list: ["${user.roles.0.name}", "${user.nothing?}"]
errors:
  status: {invalid_field: 422}
  codes: {invalid_field: BAD_FIELD, default: OOPS}
  messages: {not_found: nobody here}
  body: {code: "${error.dialectCode}", msg: "${error.message}", field: "${error.field?}", status: "${error.status}", rid: "${request.id}"}
  byCode:
    unauthorized:
      headers: {WWW-Authenticate: Bearer}
      body: {denied: true}
    invalid_field:
      withField: {"${error.field}": "${error.message}"}
`

func program(t *testing.T) *Program { return mustLoad(t, "test.yaml", testRules) }

// mustLoad compiles rules, a rule file that compiles.
func mustLoad(t *testing.T, name, rules string) *Program {
	t.Helper()
	p, err := Load(name, []byte(rules), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func input(body string) *Input {
	return &Input{Body: []byte(body), Params: params{"tenant": "acme", "who": "jane.doe"}, URL: "http://x/t/acme/u/jane.doe",
		Path: "/t/acme/u/jane.doe", RequestID: "rid-1"}
}

func TestTranslate(t *testing.T) {
	p := program(t)
	cases := []struct{ name, body, want string }{
		{"empty object", `{}`, `{"set":{},"unset":[]}`},
		{"empty string unsets", `{"first":""}`, `{"set":{},"unset":["givenName"]}`},
		{"enum sets several fields", `{"state":"ACTIVE"}`, `{"set":{"active":true,"locked":false},"unset":[]}`},
		{"null unsets, {} sets empty", `{"meta":null}`, `{"set":{},"unset":["attributes"]}`},
		{"{} sets empty", `{"meta":{}}`, `{"set":{"attributes":{}},"unset":[]}`},
		{"string wrapped into a role list", `{"role":"7c9e6679-7425-40de-944b-e07fc1f90ae7"}`,
			`{"set":{"roles":[{"id":"7c9e6679-7425-40de-944b-e07fc1f90ae7"}]},"unset":[]}`},
		{"role strings and objects", `{"groups":["admin",{"name":"ops","created":"2020"}]}`,
			`{"set":{"roles":[{"name":"admin"},{"name":"ops"}]},"unset":[]}`},
		{"a UUID in upper case and braces, normalised", `{"role":"{7C9E6679-7425-40DE-944B-E07FC1F90AE7}"}`,
			`{"set":{"roles":[{"id":"7c9e6679-7425-40de-944b-e07fc1f90ae7"}]},"unset":[]}`},
		{"a role name wrapped into a role list", `{"rolename":"ops"}`, `{"set":{"roles":[{"name":"ops"}]},"unset":[]}`},
		{"read-only ignored, unknown kept", `{"id":"x","other":{"a":[1]},"gone":null}`,
			`{"set":{"extensions":{"demo":{"other":{"a":[1]}}}},"unset":["extensions.demo.gone"]}`},
		{"rule extension and client extension together", `{"flag":true,"zz":"\u00e9\"q"}`,
			`{"set":{"extensions":{"demo":{"flag":true,"zz":"\u00e9\"q"}}},"unset":[]}`},
		{"nested source", `{"profile":{"city":"Paris"}}`, `{"set":{"organization":"Paris"},"unset":[]}`},
		{"password checked against the body's username", `{"login":"jane","pw":"Secr3t!xx"}`,
			`{"set":{"username":"jane","password":"Secr3t!xx"},"unset":[]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := p.Translate(input(c.body))
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if string(res.update) != c.want {
				t.Fatalf("update\n got %s\nwant %s", res.update, c.want)
			}
			if verr := canonical.ValidateUpdate(res.update); verr != nil {
				t.Fatalf("invalid update: %v", verr)
			}
			if res.Target != canonical.ByUsername || res.Value != "jane.doe" || res.Tenant != "acme" {
				t.Fatalf("target %v %q tenant %q", res.Target, res.Value, res.Tenant)
			}
		})
	}
}

// TestTargetNormalize checks that normalize: uuid forwards a UUID-shaped
// user reference in canonical form, and any other value as sent.
func TestTargetNormalize(t *testing.T) {
	p := program(t)
	for who, want := range map[string]struct {
		value string
		by    canonical.Target
	}{
		"0B6F4C1E-8C2A-4D7E-9F3B-5A1D2E3C4B5A":   {"0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a", canonical.ByID},
		"{0b6f4c1e-8c2a-4d7e-9F3B-5a1d2e3c4b5a}": {"0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a", canonical.ByID},
		"0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a":   {"0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a", canonical.ByID},
		"Jane.Doe":                               {"Jane.Doe", canonical.ByUsername},
		"{0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a":  {"{0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a", canonical.ByUsername},
		// Forms uuid.Parse reads that are no id here.
		"urn:uuid:0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a": {"urn:uuid:0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a", canonical.ByUsername},
		"0b6f4c1e8c2a4d7e9f3b5a1d2e3c4b5a":              {"0b6f4c1e8c2a4d7e9f3b5a1d2e3c4b5a", canonical.ByUsername},
		"(0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a)":        {"(0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a)", canonical.ByUsername},
	} {
		in := input(`{}`)
		in.Params = params{"tenant": "acme", "who": who}
		res, err := p.Translate(in)
		if err != nil {
			t.Fatalf("%s: %v", who, err)
		}
		if res.Value != want.value || res.Target != want.by {
			t.Errorf("%s: %v %q, want %v %q", who, res.Target, res.Value, want.by, want.value)
		}
	}
	_, err := Load("n.yaml", []byte("dialect: demo\nroute: {method: PUT, path: /u/:id}\nrequest:\n  target: {from: param.id, by: id, normalize: upper}\n  fields:\n"+
		"    - {source: a, type: object, target: attributes, normalize: uuid}\n    - {source: b, type: string, target: email, normalize: lower}\n"+
		"response: {status: 204}\nerrors: {body: {m: x}}\n"), Options{})
	for _, want := range []string{`request.target.normalize: "upper": expected uuid`, "request.fields[0].normalize: uuid needs type: string",
		`request.fields[1].normalize: "lower": expected uuid`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestTranslateRefuses(t *testing.T) {
	p := program(t)
	cases := []struct{ name, body, field, msg string }{
		{"type", `{"first":1}`, "first", "first must be a string"},
		{"empty rejected", `{"mail":""}`, "mail", "mail must not be empty"},
		{"email shape", `{"mail":"nope"}`, "mail", "mail must be an email address"},
		{"pattern", `{"login":"Jane!"}`, "login", "login must match [a-z.]+"},
		{"non-empty", `{"login":""}`, "login", "login must not be empty"},
		{"enum", `{"state":"GONE"}`, "state", "state must be one of ACTIVE, LOCKED"},
		{"null refused by default", `{"first":null}`, "first", "first must not be null"},
		{"map pairs", `{"meta":{"a":"1","b":"2","c":"3"}}`, "meta", "meta may hold at most 2 pairs"},
		{"map key pattern", `{"meta":{"A":"1"}}`, "meta.A", `meta key "A" must match [a-z_]+`},
		{"map value length", `{"meta":{"a":"1234"}}`, "meta.a", "meta values must be at most 3 characters long"},
		{"uuid", `{"role":"admin"}`, "role", "role must be a UUID"},
		{"item shape", `{"groups":[1]}`, "groups[0]", "groups[0] must be a string or an object"},
		{"item unknown key", `{"groups":[{"name":"a","x":1}]}`, "groups[0].x", "groups[0].x is not a field of this API"},
		{"item without id or name", `{"groups":["a",{"created":"2020"}]}`, "groups[1]", "groups[1] needs an id or a name"},
		{"item without a required key", `{"teams":[{"id":"t1"}]}`, "teams[0].name", "teams[0].name is required"},
		{"empty role name item", `{"groups":["a",""]}`, "groups[1]", "groups[1] must not be empty"},
		{"empty role name member", `{"groups":[{"name":""}]}`, "groups[0].name", "groups[0].name must not be empty"},
		{"empty role id member", `{"groups":[{"id":"","name":"a"}]}`, "groups[0].id", "groups[0].id must not be empty"},
		{"empty required role name", `{"teams":[{"name":""}]}`, "teams[0].name", "teams[0].name must not be empty"},
		{"empty wrapped role", `{"rolename":""}`, "rolename", "rolename must not be empty"},
		{"two sources, one field", `{"state":"LOCKED","lockedOut":true}`, "lockedOut", "lockedOut and state both set locked; send only one"},
		{"password policy", `{"pw":"short"}`, "pw", "pw must be at least 8 characters long"},
		{"password classes", `{"pw":"alllowercase"}`, "pw", "pw must contain at least one number, one upper case letter, one special character (!@#)"},
		{"password contains username", `{"login":"jane","pw":"xJANE1!aa"}`, "pw", "pw must not contain the username"},
		{"duplicate key", `{"first":"a","first":"b"}`, "first", `the field "first" appears more than once`},
		{"escaped duplicate key", `{"first":"a","\u0066irst":"b"}`, "first", `the field "first" appears more than once`},
		// Valid JSON: the empty name is a name like any other.
		{"duplicate empty key", `{"":"a","":[]}`, "", `the field "" appears more than once`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := p.Translate(input(c.body))
			if err == nil {
				t.Fatal("accepted")
			}
			if err.Code != canonical.InvalidField || err.Field != c.field || err.Message != c.msg {
				t.Fatalf("got %s %q %q; want field %q message %q", err.Code, err.Field, err.Message, c.field, c.msg)
			}
		})
	}
}

func TestGuard(t *testing.T) {
	p := program(t)
	for _, body := range []string{``, `{`, `[]`, `"x"`, `{"a":1}x`, "{\"a\":\"\xff\"}", `{"a":01}`, `{"a":.5}`, `{'a':1}`,
		`{"a":"\x"}`, strings.Repeat(`{"a":`, 33) + `1` + strings.Repeat(`}`, 33)} {
		_, err := p.Translate(input(body))
		if err == nil || err.Code != canonical.BadRequest {
			t.Errorf("%q: got %v, want bad_request", body, err)
		}
	}
	for _, body := range []string{`{"a":"\ud800"}`, `{"a":"\udc00x"}`, `{"a":"\ud800\u0041"}`, `{"\ud83d":1}`} {
		if _, err := p.Translate(input(body)); err == nil || err.Code != canonical.BadRequest {
			t.Errorf("%s: lone surrogate accepted: %v", body, err)
		}
	}
	if _, err := p.Translate(input(`{"zz":"\ud83d\ude00"}`)); err != nil {
		t.Errorf("a surrogate pair refused: %v", err)
	}
	// 31 levels pass the guard (32 is its limit); kept whole as an
	// extension, "a" would then be too deep for the update
	// (TestKeptValuesStayWithinTheContractsDepth): refused naming it.
	deep := strings.Repeat(`{"a":`, 31) + `1` + strings.Repeat(`}`, 31)
	if _, err := p.Translate(input(deep)); err == nil || err.Code != canonical.InvalidField || err.Field != "a" {
		t.Errorf("31 levels: %v", err)
	}
}

func TestStoredPasswordCheck(t *testing.T) {
	p := program(t)
	res, err := p.Translate(input(`{"pw":"Jane.Doe1!x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !res.NeedsStoredUser() {
		t.Fatal("the username is not in the body: the stored user is needed")
	}
	if _, e := res.Update(storedUser(`{"username":"jane.doe"}`)); e == nil || e.Field != "pw" {
		t.Fatalf("got %v", e)
	}
	if _, e := res.Update(storedUser(`{"username":"bob"}`)); e != nil {
		t.Fatalf("got %v", e)
	}
	if got := string(res.Redacted()); strings.Contains(got, "Jane.Doe1") {
		t.Fatalf("password not redacted: %s", got)
	}
	res, err = p.Translate(input(`{"first":"A","newPassword":"S3cret!!","apiToken":{"v":1},"note":"kept"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"set":{"givenName":"A","extensions":{"demo":{"newPassword":"[redacted]","apiToken":"[redacted]","note":"kept"}}},"unset":[]}`
	if got := string(res.Redacted()); got != want {
		t.Fatalf("redacted\n got %s\nwant %s", got, want)
	}
}

// storedUser is a StoredUser that finds user.
func storedUser(user string) StoredUser {
	return func() ([]byte, *canonical.Error) { return []byte(user), nil }
}

func TestRender(t *testing.T) {
	p := program(t)
	in := input(`{}`)
	res, _ := p.Translate(in)
	user := `{"id":"u1","username":"jane doe","createdAt":"2024-01-15T09:30:00.123Z","roles":[{"name":"admin"}]}`
	rep := p.RenderSuccess(in, res, []byte(user))
	want := `{"who":"u1","name":"jane doe","since":1705311000.123,"tags":{},"site":"https://example/u/jane.doe","list":["admin"]}`
	if string(rep.Body) != want {
		t.Fatalf("body\n got %s\nwant %s", rep.Body, want)
	}
	if rep.Status != 200 || len(rep.Headers) != 1 || rep.Headers[0] != (Header{"Location", "/u/jane+doe"}) {
		t.Fatalf("status %d headers %v", rep.Status, rep.Headers)
	}
	if !p.NeedsUser() {
		t.Fatal("the body reads the user")
	}
}

func TestRenderError(t *testing.T) {
	p := program(t)
	in := input(`{}`)
	cases := []struct {
		err    *canonical.Error
		status int
		body   string
		header string
	}{
		{canonical.Errorf(canonical.NotFound, "x"), 404, `{"code":"OOPS","msg":"nobody here","status":404,"rid":"rid-1"}`, ""},
		{canonical.FieldError("mail", "bad mail"), 422, `{"mail":"bad mail"}`, ""},
		{canonical.Errorf(canonical.InvalidField, "bad"), 422, `{"code":"BAD_FIELD","msg":"bad","status":422,"rid":"rid-1"}`, ""},
		{canonical.Errorf(canonical.Unauthorized, "no"), 401, `{"denied":true}`, "Bearer"},
		{&canonical.Error{Code: canonical.RateLimited, Message: "slow \"down\""}, 429, `{"code":"OOPS","msg":"slow \"down\"","status":429,"rid":"rid-1"}`, ""},
	}
	for _, c := range cases {
		rep := p.RenderError(in, c.err)
		if rep.Status != c.status || string(rep.Body) != c.body {
			t.Errorf("%v: got %d %s; want %d %s", c.err, rep.Status, rep.Body, c.status, c.body)
		}
		if !json.Valid(rep.Body) {
			t.Errorf("not JSON: %s", rep.Body)
		}
		if c.header != "" && (len(rep.Headers) == 0 || rep.Headers[0].Value != c.header) {
			t.Errorf("%v: headers %v", c.err, rep.Headers)
		}
	}
}

// TestErrorFieldNames checks that an error names its field in the caller's
// terms or not at all, never in canonical terms the dialect has no field for.
func TestErrorFieldNames(t *testing.T) {
	p := program(t)
	for in, want := range map[string]string{"username": "login", "locked": "state", "roles": "role",
		"extensions.demo.flag": "flag", "extensions.demo.zz": "zz", "displayName": "displayName", "extensions.other.x": "extensions.other.x"} {
		if got := p.UpstreamField(in); got != want {
			t.Errorf("UpstreamField(%q) = %q, want %q", in, got, want)
		}
	}
	without := `{"code":"BAD_FIELD","msg":"bad","status":422,"rid":"rid-1"}`
	for _, c := range []struct{ body, field, want string }{
		{`{}`, "login", `{"login":"bad"}`},                   // a rule's source
		{`{}`, "groups[1].name", `{"groups[1].name":"bad"}`}, // inside one
		{`{}`, "who", `{"who":"bad"}`},                       // a route parameter
		{`{}`, "id", `{"id":"bad"}`},                         // a read-only field of the dialect
		{`{}`, "nick", `{"nick":"bad"}`},                     // not a canonical name: the caller's or the upstream's
		{`{"email":"x"}`, "email", `{"email":"bad"}`},        // sent by the caller (kept as an extension)
		{`{}`, "displayName", without},                       // canonical, no name in this dialect
		{`{}`, "email", without},                             // canonical, not sent
		{`{}`, "attributes.a", without},                      // inside a canonical field
		{`{}`, "extensions.other.x", without},                // another dialect's extension
		{`{"first":"J"}`, "createdAt", without},              // read-only canonical field
	} {
		e := canonical.FieldError(c.field, "bad")
		rep := p.RenderError(input(c.body), e)
		if string(rep.Body) != c.want {
			t.Errorf("%s with body %s: got %s, want %s", c.field, c.body, rep.Body, c.want)
		}
		if e.Field != c.field {
			t.Errorf("RenderError changed the caller's error: %q", e.Field)
		}
	}
}

// TestFirstOf checks the firstOf filter: the first value of a list that is
// one of the values kept, or nothing.
func TestFirstOf(t *testing.T) {
	rules := strings.Replace(testRules, "    maybe: ${user.missing?}\n",
		"    maybe: ${user.missing?}\n    role: ${user.roles.#.name?|firstOf:A, B}\n    one: ${user.username|firstOf:jane}\n", 1)
	p, err := Load("firstof.yaml", []byte(rules), Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := input(`{}`)
	res, _ := p.Translate(in)
	for _, c := range []struct{ user, role, one string }{ // "": absent; "null": null
		{`{"username":"jane","roles":[{"name":"x"},{"id":"1"},{"name":"B"},{"name":"A"}]}`, `"B"`, `"jane"`},
		{`{"username":"bob","roles":[{"name":"a"},{"name":"C"}]}`, "", "null"},
		{`{"username":"jane"}`, "", `"jane"`},
		{`{"roles":[]}`, "", "null"},
	} {
		body := p.RenderSuccess(in, res, []byte(c.user)).Body
		role, one := gjson.GetBytes(body, "role"), gjson.GetBytes(body, "one")
		if role.Raw != c.role || one.Raw != c.one {
			t.Errorf("%s: role %q one %q, want %q %q (%s)", c.user, role.Raw, one.Raw, c.role, c.one, body)
		}
	}
	_, err = Load("bad.yaml", []byte(strings.Replace(testRules, "    maybe: ${user.missing?}\n", "    maybe: ${user.missing|firstOf:}\n", 1)), Options{})
	if err == nil || !strings.Contains(err.Error(), "firstOf needs the values it keeps") {
		t.Fatalf("got %v", err)
	}
}

// TestCompileErrors checks that a bad rule file reports every problem at
// once, each with where it is, and that unknown keys name their line.
func TestCompileErrors(t *testing.T) {
	_, err := Load("bad.yaml", []byte("dialect: demo\nroute: {method: GET, path: users}\nrequest:\n  target: {from: body.a.b, by: who}\n  fields:\n    - {source: x, type: strin, target: nope}\n    - {source: y, type: string, target: active}\n    - {source: z, type: array, target: roles, items: {keep: [name], required: [id]}}\nresponse: {status: 500}\nerrors: {}\n"), Options{})
	if err == nil || !errors.Is(err, ErrRules) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"route.method", "route.path", "request.target.from", "request.target.by",
		"request.fields[0].type", `"nope" is not a canonical field`, "request.fields[1]: type string", `request.fields[2].items.required: "id" is not a kept key`, "response.status", "errors.body"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	// Rules that could only make roles naming nothing.
	_, err = Load("roles.yaml", []byte("dialect: demo\nroute: {method: PUT, path: /u/:id}\nrequest:\n  target: {from: param.id, by: id}\n  fields:\n"+
		"    - {source: a, type: string, target: roles, wrap: description, list: true}\n"+
		"    - {source: b, type: array, target: roles, items: {wrap: description, keep: [name]}}\n"+
		"    - {source: c, type: string, enum: {X: {roles: [{name: \"\"}]}, Y: {roles: [{description: d}]}, Z: {roles: [{id: r1}]}}}\n"+
		"response: {status: 204}\nerrors: {body: {m: x}}\n"), Options{})
	if err == nil || !errors.Is(err, ErrRules) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"request.fields[0]: type string (wrap \"description\"", "request.fields[1]: type array (wrap \"\"",
		"request.fields[2].enum.X.roles", "request.fields[2].enum.Y.roles"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "enum.Z") {
		t.Errorf("a role with an id refused:\n%v", err)
	}
	// An enum matches a value's text: values a rule's type never has refuse
	// every request, so the file is refused (line-precise), and the ones it
	// can have are taken.
	_, err = Load("enum.yaml", []byte("dialect: demo\nroute: {method: PUT, path: /u/:id}\nrequest:\n  target: {from: param.id, by: id}\n  fields:\n"+
		"    - {source: a, type: boolean, enum: {banned: {locked: true}, ok: {locked: false}}}\n"+
		"    - {source: b, type: boolean, enum: {\"true\": {active: true}, \"false\": {active: false}}}\n"+
		"    - {source: c, type: integer, enum: {\"01\": {deleted: true}, \"2\": {deleted: false}, \"-3\": {deleted: false}}}\n"+
		"    - {source: d, type: number, enum: {\"1e3\": {deleted: true}, \"1.5\": {deleted: false}}}\n"+
		"    - {source: e, type: object, enum: {x: {deleted: true}}}\n"+
		"response: {status: 204}\nerrors: {body: {m: x}}\n"), Options{})
	if err == nil || !errors.Is(err, ErrRules) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"enum.yaml:6: request.fields[0].enum.banned: a boolean rule's enum values are true and false",
		"request.fields[0].enum.ok", "request.fields[2].enum.01: an integer rule's", "request.fields[3].enum.1e3: a number rule's",
		"request.fields[4].enum.x: an enum needs values of type string"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	for _, not := range []string{"fields[1]", "enum.2:", "enum.-3", "enum.1.5"} {
		if strings.Contains(err.Error(), not) {
			t.Errorf("%q refused:\n%v", not, err)
		}
	}
	_, err = Parse("typo.yaml", []byte("dialect: demo\nroute:\n  methd: PUT\n"))
	if err == nil || !strings.Contains(err.Error(), "typo.yaml") || !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), "methd") {
		t.Fatalf("got %v", err)
	}
}

func TestAcceptsContentType(t *testing.T) {
	p := program(t)
	for v, want := range map[string]bool{
		"application/json": true, "Application/JSON": true, "application/json; charset=utf-8": true,
		"application/json;charset=UTF-8": true, "application/json; charset=latin1": false, "text/plain": false,
		"application/json;;": false, "": false, "application/jsonx": false,
	} {
		if got := p.AcceptsContentType(v); got != want {
			t.Errorf("AcceptsContentType(%q) = %v, want %v", v, got, want)
		}
	}
}

// TestTemplatedKeysNeverRepeat: a member whose key is a template is left
// out when it would repeat a name the object already has (the first wins),
// so a rendered object never holds a name twice.
func TestTemplatedKeysNeverRepeat(t *testing.T) {
	rules := strings.Replace(testRules, "    maybe: ${user.missing?}\n",
		"    maybe: ${user.missing?}\n    \"${body.first}\": dynamic\n    \"${body.first}2\": second\n", 1)
	p, err := Load("dyn.yaml", []byte(rules), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for first, want := range map[string][2]string{"who": {"who", "dynamic"}, "nick": {"nick", "dynamic"}} {
		in := input(`{"first":"` + first + `"}`)
		res, e := p.Translate(in)
		if e != nil {
			t.Fatal(e)
		}
		body := p.RenderSuccess(in, res, []byte(`{"id":"U1","username":"jane"}`)).Body
		names := map[string]int{}
		gjson.ParseBytes(body).ForEach(func(k, _ gjson.Result) bool { names[k.Str]++; return true })
		for k, n := range names {
			if n > 1 {
				t.Errorf("first=%s: %q appears %d times in %s", first, k, n, body)
			}
		}
		if first == "who" && gjson.GetBytes(body, "who").Str != "U1" {
			t.Errorf("the templated key shadowed who: %s", body)
		}
		if first == "nick" && gjson.GetBytes(body, want[0]).Str != want[1] {
			t.Errorf("a templated key that repeats nothing is written: %s", body)
		}
		if gjson.GetBytes(body, first+"2").Str != "second" {
			t.Errorf("%s2 missing: %s", first, body)
		}
	}
}

// TestProblemsNameTheirLine: every problem of a rule file names the file
// and the line it is on (file:line), a field rule's as a template's, or the
// line of the nearest enclosing key for one left out.
func TestProblemsNameTheirLine(t *testing.T) {
	_, err := Load("bad.yaml", []byte(`dialect: demo
route: {method: PUT, path: /u/:id}
request:
  target: {from: param.id, by: id}
  fields:
    - {source: a, type: string, target: givenName}
    - source: b
      type: string
      target: nickname
response:
  status: 200
  headers:
    Location: ${nope.x}
  body:
    id: ${user.id}
    x: ${user.id|upper}
errors: {}
`), Options{})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{`bad.yaml:9: request.fields[1].target: "nickname" is not a canonical field`,
		`bad.yaml:13: response.headers.Location: ${nope.x}: unknown source "nope"`,
		`bad.yaml:16: response.body.x: ${user.id|upper}: unknown filter "upper"`,
		`bad.yaml:17: errors.body: `} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

// TestProblemLineIsNotReadFromItsName: a problem's line is where its node
// stands, whatever the names on its path say; a key that reads like a line
// reference is a name like any other.
func TestProblemLineIsNotReadFromItsName(t *testing.T) {
	_, err := Load("bad.yaml", []byte(`dialect: demo
route: {method: PUT, path: /u/:id}
request:
  target: {from: param.id, by: id}
response:
  status: 200
  headers:
    "X-Note (line 99)": ${nope.x}
errors: {body: {m: "${error.message}"}}
`), Options{})
	if err == nil {
		t.Fatal("accepted")
	}
	want := `bad.yaml:8: response.headers.X-Note (line 99): ${nope.x}: unknown source "nope"`
	if !strings.Contains(err.Error(), want) {
		t.Errorf("missing %q in:\n%v", want, err)
	}
}
