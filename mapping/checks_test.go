package mapping

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkBase is a valid rule file with four places a case fills in: more
// request keys, more field rules, the response and more errors keys.
const checkBase = `dialect: demo
route: {method: PUT, path: /t/:tenant/u/*who}
config: {site: example}
request:
  target: {from: param.who, by: id}
  readOnly: [id]
%REQ%
  fields:
    - {source: name, type: string, target: givenName}
%FIELDS%
response:
%RESP%
errors:
  body: {msg: "${error.message}"}
%ERRS%
`

const defaultResp = `  status: 200
  body: {id: "${user.id}"}`

type checkCase struct {
	name                  string
	req, fields, resp, er string
	// want are the texts the problems must hold, each on one problem
	// (the key and what is wrong); none: the file must compile.
	want []string
}

func (c checkCase) rules() string {
	resp := c.resp
	if resp == "" {
		resp = defaultResp
	}
	base := checkBase
	if strings.Contains(c.req, "  target:") { // the case's replaces the base's
		base = strings.Replace(base, "  target: {from: param.who, by: id}\n", "", 1)
	}
	r := strings.NewReplacer("%REQ%\n", c.req, "%FIELDS%\n", c.fields, "%RESP%", resp, "%ERRS%\n", c.er)
	return r.Replace(base)
}

func runChecks(t *testing.T, cases []checkCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load("check.yaml", []byte(c.rules()), Options{})
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("refused:\n%v\nrules:\n%s", err, c.rules())
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted:\n%s", c.rules())
			}
			if !errors.Is(err, ErrRules) {
				t.Fatalf("%v does not wrap ErrRules", err)
			}
			for _, w := range c.want {
				if !problemHas(err, w) {
					t.Errorf("no problem holds %q in:\n%v", w, err)
				}
			}
		})
	}
}

// problemHas reports whether one line of err (one problem) holds every
// part of want, split at " … ".
func problemHas(err error, want string) bool {
	for _, line := range strings.Split(err.Error(), "\n") {
		all := true
		for _, part := range strings.Split(want, " … ") {
			all = all && strings.Contains(line, part)
		}
		if all {
			return true
		}
	}
	return false
}

func TestCheckBaseCompiles(t *testing.T) {
	runChecks(t, []checkCase{{name: "base"}})
}

func TestContentTypesMustBeMatchable(t *testing.T) {
	ct := func(list string) string { return "  contentTypes: " + list + "\n" }
	runChecks(t, []checkCase{
		{name: "plain types", req: ct(`[application/json, application/hal+json, text/plain, Application/JSON]`)},
		{name: "parameter", req: ct(`["application/json; charset=utf-8"]`),
			want: []string{`check.yaml:7: request.contentTypes[0]: "application/json; charset=utf-8" … no parameters`}},
		{name: "any wildcard", req: ct(`[application/json, "*/*"]`), want: []string{`request.contentTypes[1]: "*/*" … no wildcards`}},
		{name: "subtype wildcard", req: ct(`["application/*"]`), want: []string{`request.contentTypes[0]: "application/*"`}},
		{name: "no slash", req: ct(`[json]`), want: []string{`request.contentTypes[0]: "json"`}},
		{name: "empty", req: ct(`[""]`), want: []string{`request.contentTypes[0]: ""`}},
		{name: "no subtype", req: ct(`[application/]`), want: []string{`request.contentTypes[0]: "application/"`}},
		{name: "trailing semicolon", req: ct(`["application/json;"]`), want: []string{`request.contentTypes[0]: "application/json;"`}},
		{name: "space", req: ct(`[" application/json"]`), want: []string{`request.contentTypes[0]: " application/json"`}},
	})
	// What the check accepts, AcceptsContentType matches, with or without
	// a charset.
	for _, e := range []string{"application/json", "text/plain", "Application/Vnd.Api+JSON"} {
		if !matchableMediaType(e) {
			t.Fatalf("%q refused", e)
		}
		p := &Program{contentTypes: []string{e}}
		for _, v := range []string{e, strings.ToLower(e), e + "; charset=utf-8"} {
			if !p.AcceptsContentType(v) {
				t.Errorf("entry %q does not match %q", e, v)
			}
		}
	}
	// What it refuses, AcceptsContentType never matches as meant.
	for _, e := range []string{"application/json; charset=utf-8", "application/json;", " application/json", "json", ""} {
		p := &Program{contentTypes: []string{e}}
		for _, v := range []string{"application/json", "application/json; charset=utf-8", "text/plain"} {
			if p.AcceptsContentType(v) {
				t.Errorf("entry %q matches %q", e, v)
			}
		}
	}
}

func TestAnswerHeaderNames(t *testing.T) {
	resp := func(headers string) string {
		return "  status: 200\n  headers: " + headers + "\n  body: {id: \"${user.id}\"}"
	}
	runChecks(t, []checkCase{
		{name: "allowed", resp: resp(`{Location: "/u/${user.id}", Set-Cookie: "a=b", Retry-After: "1", X-Custom: x}`),
			er: "  headers: {Cache-Control: no-store}\n  byCode:\n    unauthorized: {headers: {WWW-Authenticate: Bearer}}\n"},
		{name: "invalid name", resp: resp(`{"Bad Name": x}`), want: []string{`response.headers.Bad Name: "Bad Name" is not a header name`}},
		{name: "empty name", resp: resp(`{"": x}`), want: []string{`response.headers.: "" is not a header name`}},
		{name: "content type", resp: resp(`{content-type: text/plain}`), want: []string{`response.headers.content-type: Content-Type is set by contentType`}},
		{name: "request id", resp: resp(`{X-Request-Id: "${request.id}"}`), want: []string{`response.headers.X-Request-Id: X-Request-Id cannot be set`}},
		{name: "framing", resp: resp(`{Content-Length: "3", Transfer-Encoding: chunked, Connection: close, Proxy-Connection: close}`),
			want: []string{"response.headers.Content-Length: Content-Length cannot be set", "response.headers.Transfer-Encoding: Transfer-Encoding",
				"response.headers.Connection: Connection", "response.headers.Proxy-Connection: Proxy-Connection"}},
		{name: "errors headers", er: "  headers: {Keep-Alive: x}\n", want: []string{`check.yaml:14: errors.headers.Keep-Alive: Keep-Alive cannot be set`}},
		{name: "byCode headers", er: "  byCode:\n    unauthorized: {headers: {Upgrade: h2c, \"a:b\": x}}\n",
			want: []string{`errors.byCode.unauthorized.headers.Upgrade: Upgrade cannot be set`, `errors.byCode.unauthorized.headers.a:b: "a:b" is not a header name`}},
	})
}

func TestEnumOnlyRuleCannotUnset(t *testing.T) {
	enum := func(extra string) string {
		return "    - {source: state, type: string, enum: {ACTIVE: {active: true}}" + extra + "}\n"
	}
	runChecks(t, []checkCase{
		{name: "reject and ignore", fields: enum(", null: ignore, empty: reject")},
		{name: "null unset", fields: enum(", null: unset"), want: []string{`request.fields[1].null: unset needs a target`}},
		{name: "empty unset", fields: enum(", empty: unset"), want: []string{`request.fields[1].empty: unset needs a target`}},
	})
	// With a target, the target is what is unset: allowed.
	runChecks(t, []checkCase{{name: "target and enum",
		fields: "    - {source: state, type: string, target: extensions.demo.state, enum: {A: {active: true}}, null: unset, empty: unset}\n"}})
}

func TestValidatorsFitTheType(t *testing.T) {
	f := func(typ, target, validate string) string {
		return "    - {source: x, type: " + typ + ", target: " + target + ", validate: {" + validate + "}}\n"
	}
	runChecks(t, []checkCase{
		{name: "string validators on a string", fields: f("string", "displayName", "nonEmpty: true, pattern: '[a-z@.]+', minLength: 1, maxLength: 9, oneOf: [a@b.co], uuid: false, email: true")},
		{name: "map validators on an object", fields: f("object", "attributes", "maxPairs: 3, keyPattern: '[a-z]+', keyMaxLength: 9, valueMaxLength: 9, valueType: string")},
		{name: "maxItems on an array", fields: f("array", "extensions.demo.x", "maxItems: 3")},
		{name: "anything on any", fields: f("any", "extensions.demo.x", "pattern: '[a-z]+', maxPairs: 3, maxItems: 3")},
		{name: "pattern on a boolean", fields: f("boolean", "active", "pattern: '[a-z]+'"),
			want: []string{`request.fields[1].validate.pattern: checks strings and never applies to type boolean: it needs type string or any`}},
		{name: "minLength and email on an integer", fields: f("integer", "extensions.demo.x", "minLength: 2, email: true"),
			want: []string{`request.fields[1].validate.minLength: checks strings … type integer`, `request.fields[1].validate.email: checks strings`}},
		{name: "password on a number", fields: f("number", "extensions.demo.x", "password: {minLength: 8}"),
			want: []string{`request.fields[1].validate.password: checks strings`}},
		{name: "maxItems on a string", fields: f("string", "displayName", "maxItems: 2"),
			want: []string{`request.fields[1].validate.maxItems: checks arrays and never applies to type string: it needs type array or any`}},
		{name: "maxPairs on an array", fields: f("array", "extensions.demo.x", "maxPairs: 2, valueType: string"),
			want: []string{`request.fields[1].validate.maxPairs: checks objects`, `request.fields[1].validate.valueType: checks objects`}},
		{name: "uuid on an object", fields: f("object", "attributes", "uuid: true"), want: []string{`request.fields[1].validate.uuid: checks strings`}},
	})
}

func TestWrapAndEmptyFitTheType(t *testing.T) {
	runChecks(t, []checkCase{
		{name: "wrap a string into an extension", fields: "    - {source: x, type: string, target: extensions.demo.x, wrap: id}\n"},
		{name: "empty on a string and on any", fields: "    - {source: x, type: string, target: displayName, empty: unset}\n    - {source: y, target: extensions.demo.y, empty: reject}\n"},
		{name: "wrap an integer", fields: "    - {source: x, type: integer, target: extensions.demo.x, wrap: id}\n",
			want: []string{`request.fields[1].wrap: turns a string into an object: wrap needs type: string, not integer`}},
		{name: "wrap anything", fields: "    - {source: x, target: extensions.demo.x, wrap: id}\n",
			want: []string{`request.fields[1].wrap: … not any`}},
		{name: "empty on a boolean", fields: "    - {source: x, type: boolean, target: active, empty: unset}\n",
			want: []string{`request.fields[1].empty: says what "" means, and a value of type boolean is never ""`}},
		{name: "empty on integer and number", fields: "    - {source: x, type: integer, target: extensions.demo.x, empty: reject}\n    - {source: y, type: number, target: extensions.demo.y, empty: keep}\n",
			want: []string{`request.fields[1].empty: … type integer`, `request.fields[2].empty: … type number`}},
		{name: "empty on an object", fields: "    - {source: x, type: object, target: attributes, empty: unset}\n",
			want: []string{`request.fields[1].empty: … type object`}},
	})
}

func TestExtensionsOnlyOwnDialect(t *testing.T) {
	runChecks(t, []checkCase{
		{name: "own", fields: "    - {source: x, type: string, target: extensions.demo.x, enum: {A: {extensions.demo.y: 1}}}\n"},
		{name: "other target", fields: "    - {source: x, type: string, target: extensions.finix.x}\n",
			want: []string{`request.fields[1].target: "extensions.finix.x": a dialect writes only its own extensions, extensions.demo.<name>`}},
		{name: "other in an enum", fields: "    - {source: x, type: string, enum: {A: {extensions.shift.sso: true}}}\n",
			want: []string{`request.fields[1].enum.A: "extensions.shift.sso": a dialect writes only its own extensions`}},
	})
}

func TestPasswordSettings(t *testing.T) {
	pw := func(policy string) string {
		return "    - {source: login, type: string, target: username}\n    - {source: pw, type: string, target: password, validate: {password: {" + policy + "}}}\n"
	}
	runChecks(t, []checkCase{
		{name: "a field rule's source", fields: pw("minLength: 8, notContainUsername: true, usernameField: login")},
		{name: "a readOnly field", fields: pw("notContainUsername: true, usernameField: id")},
		{name: "the target's body field", req: "  target: {from: body.userName, by: username}\n", fields: pw("notContainUsername: true, usernameField: userName")},
		{name: "negative minLength", fields: pw("minLength: -1"),
			want: []string{`request.fields[2].validate.password.minLength: -1: a length is 0 (no minimum) or more`}},
		{name: "unknown usernameField", fields: pw("notContainUsername: true, usernameField: userName"),
			want: []string{`request.fields[2].validate.password.usernameField: "userName" is no field of this file`}},
		{name: "usernameField without the check", fields: pw("usernameField: login"),
			want: []string{`request.fields[2].validate.password.usernameField: read only by notContainUsername`}},
	})
}

func TestForwardAndCredentialHeaders(t *testing.T) {
	runChecks(t, []checkCase{
		{name: "allowed", req: "  forwardHeaders: [Finix-Version, X-Trace]\n  credentialHeaders: [Authorization, Cookie, X-Key, Proxy-Authorization]\n"},
		{name: "credentials forwarded", req: "  forwardHeaders: [authorization, Proxy-Authorization, Cookie]\n",
			want: []string{`request.forwardHeaders[0]: Authorization carries credentials: it belongs in credentialHeaders`,
				`request.forwardHeaders[1]: Proxy-Authorization carries credentials`, `request.forwardHeaders[2]: Cookie carries credentials`}},
		{name: "connection forwarded", req: "  forwardHeaders: [Host, Content-Length, Transfer-Encoding, Connection, Upgrade, TE, Keep-Alive, Proxy-Connection, Trailer]\n",
			want: []string{`request.forwardHeaders[0]: Host is the connection's`, `request.forwardHeaders[1]: Content-Length`,
				`request.forwardHeaders[2]: Transfer-Encoding`, `request.forwardHeaders[3]: Connection`, `request.forwardHeaders[4]: Upgrade`,
				`request.forwardHeaders[5]: Te is the connection's`, `request.forwardHeaders[6]: Keep-Alive`, `request.forwardHeaders[7]: Proxy-Connection`,
				`request.forwardHeaders[8]: Trailer`}},
		{name: "invalid names", req: "  forwardHeaders: [\"X Y\"]\n  credentialHeaders: [\"a:b\"]\n",
			want: []string{`request.forwardHeaders[0]: "X Y" is not a header name`, `request.credentialHeaders[0]: "a:b" is not a header name`}},
		{name: "connection as credentials", req: "  credentialHeaders: [Authorization, host, Connection]\n",
			want: []string{`request.credentialHeaders[1]: Host is the connection's or the body's own, no credential`, `request.credentialHeaders[2]: Connection`}},
	})
}

func TestNoBodyStatuses(t *testing.T) {
	runChecks(t, []checkCase{
		{name: "205 without a body", resp: "  status: 205"},
		{name: "204 with a body", resp: "  status: 204\n  body: {a: 1}", want: []string{`response.body: a 204 answer has no body`}},
		{name: "205 with a body", resp: "  status: 205\n  body: {a: 1}", want: []string{`check.yaml:11: response.body: a 205 answer has no body`}},
		{name: "304 with a body", resp: "  status: 304\n  body: {a: 1}", want: []string{`response.status: 304 is not a success status`}},
		{name: "1xx with a body", resp: "  status: 101\n  body: {a: 1}", want: []string{`response.status: 101 is not a success status`}},
	})
}

func TestTemplateSourcesHaveValues(t *testing.T) {
	runChecks(t, []checkCase{
		{name: "route parameters and declared config",
			resp: "  status: 200\n  headers: {Location: \"/t/${param.tenant}/u/${param.who|path}\"}\n  body: {site: \"${config.site}\"}",
			er:   "  byCode:\n    not_found: {body: {who: \"${param.who}\", site: \"${config.site?}\"}}\n"},
		{name: "no such parameter", resp: "  status: 200\n  body: {id: \"${param.id}\"}",
			want: []string{`check.yaml:11: response.body.id: ${param.id}: route "/t/:tenant/u/*who" has no parameter "id"`}},
		{name: "no such parameter in a header", resp: "  status: 200\n  headers: {Location: \"/u/${param.user|path}\"}",
			want: []string{`response.headers.Location: ${param.user|path}: route … has no parameter "user"`}},
		{name: "no such parameter in an error", er: "  byCode:\n    not_found: {body: {who: \"${param.user_id?}\"}}\n",
			want: []string{`errors.byCode.not_found.body.who: ${param.user_id?}: route … has no parameter "user_id"`}},
		{name: "undeclared config", resp: "  status: 200\n  body: {site: \"https://${config.host}/\"}",
			want: []string{`response.body.site: ${config.host}: the file's config declares no constant "host"`}},
		{name: "undeclared config in an error", er: "  headers: {X-Site: \"${config.nope}\"}\n",
			want: []string{`errors.headers.X-Site: ${config.nope}: the file's config declares no constant "nope"`}},
		{name: "error in a success body", resp: "  status: 200\n  body: {msg: \"${error.message}\"}",
			want: []string{`response.body.msg: ${error.message}: a success answer has no error`}},
		{name: "error in a success header", resp: "  status: 200\n  headers: {X-Code: \"${error.code}\"}",
			want: []string{`response.headers.X-Code: ${error.code}: a success answer has no error`}},
	})
	// A deployment overrides declared constants only; templates read those.
	if _, err := Load("check.yaml", []byte(checkCase{resp: "  status: 200\n  body: {s: \"${config.site}\"}"}.rules()),
		Options{Config: map[string]string{"site": "elsewhere"}}); err != nil {
		t.Fatal(err)
	}
}

// TestTemplateSetsKeepTheirSources: the rules upstream profile's templates
// read params and config constants the dialect check knows nothing of.
func TestTemplateSetsKeepTheirSources(t *testing.T) {
	s := NewTemplateSet("up.yaml", map[string]string{"realm": "x"}, "update", "param", "config")
	s.Path("users.path", "/admin/realms/${config.realm}/users/${param.id|path}")
	s.Text("h", "${config.other}")
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestTemplateYAMLConstructs(t *testing.T) {
	body := func(b string) string { return "  status: 200\n  body:\n" + b }
	runChecks(t, []checkCase{
		{name: "numbers and keys that render as written",
			resp: body("    a: 1\n    b: -2.5e3\n    c: \"1e400\"\n    \"~\": x\n    \"null\": y\n    null: z\n    1: one\n    d: 99999999999999999999\n")},
		{name: "complex key", resp: body("    ? [a, b]\n    : x\n"), want: []string{`check.yaml:12: response.body: a key is a string: a complex key`}},
		{name: "mapping key", resp: body("    ? {a: 1}\n    : x\n"), want: []string{`response.body: a key is a string`}},
		{name: "merge key", resp: body("    base: &b {x: 1}\n    copy:\n      <<: *b\n      y: 2\n"),
			want: []string{`check.yaml:14: response.body.copy: merge keys (<<) are not supported`}},
		{name: "null key", resp: body("    ~: x\n"), want: []string{`check.yaml:12: response.body: a null key (~) has no JSON form`}},
		{name: "overflowing number", resp: body("    big: 1e400\n    neg: -1.5E+999\n"),
			want: []string{`check.yaml:12: response.body.big: 1e400 does not fit a float64`, `response.body.neg: -1.5E+999 does not fit a float64`}},
		{name: "YAML-only number forms", resp: body("    plus: +1\n    lead: 01\n    dot: .5\n"),
			want: []string{`response.body.plus: "+1" is not a JSON number`, `response.body.lead: "01" is not a JSON number`, `response.body.dot: ".5" is not a JSON number`}},
		{name: "in errors too", er: "  byCode:\n    not_found: {body: {n: 1e999, ~: x}}\n",
			want: []string{`errors.byCode.not_found.body.n: 1e999 does not fit`, `errors.byCode.not_found.body: a null key`}},
	})
}

// TestNewChecksReportedTogether: each check's problem is one more among
// the others, not the first and only one.
func TestNewChecksReportedTogether(t *testing.T) {
	c := checkCase{
		req:    "  contentTypes: [\"*/*\"]\n  forwardHeaders: [Cookie]\n",
		fields: "    - {source: s, type: boolean, target: extensions.other.s, validate: {pattern: x}, empty: reject}\n",
		resp:   "  status: 205\n  headers: {Content-Length: \"1\"}\n  body: {e: \"${error.code}\", p: \"${param.nope}\", n: 1e400}",
	}
	_, err := Load("check.yaml", []byte(c.rules()), Options{})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, w := range []string{"request.contentTypes[0]", "request.forwardHeaders[0]", "request.fields[1].target", "request.fields[1].validate.pattern",
		"request.fields[1].empty", "response.body: a 205", "response.headers.Content-Length", "response.body.e", "response.body.p", "response.body.n"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%v", w, err)
		}
	}
}

// TestShippedRuleFilesCompile: every built-in dialect and the bench's
// minimal one pass the checks.
func TestShippedRuleFilesCompile(t *testing.T) {
	files, _ := filepath.Glob("../adapters/*/rules.yaml")
	files = append(files, "../bench/minimal/rules.yaml")
	if len(files) < 6 {
		t.Fatalf("found only %v", files)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Load(f, data, Options{}); err != nil {
			t.Errorf("%v", err)
		}
	}
}
