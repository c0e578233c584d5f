package mapping

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// nestedRules has rules that read paths inside profile; unknown is keep or
// reject.
func nestedRules(t *testing.T, unknown string) *Program {
	t.Helper()
	p, err := Load("nested.yaml", []byte(`dialect: acme
route: {method: PUT, path: /u/:id}
request:
  target: {from: param.id, by: id}
  unknownFields: `+unknown+`
  fields:
    - {source: profile.first, type: string, target: givenName, null: unset}
    - {source: profile.address.city, type: string, target: extensions.acme.city, null: ignore}
response: {status: 204}
errors: {body: {m: "${error.message}"}}
`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestNestedSourcesTakeTheObjectApart: with rules reading paths inside a
// key, every other member of that object is an unknown field (refused or
// kept, never dropped), and a value that is not an object is refused naming
// it.
func TestNestedSourcesTakeTheObjectApart(t *testing.T) {
	keep, reject := nestedRules(t, "keep"), nestedRules(t, "reject")
	for _, c := range []struct {
		p          *Program
		body, want string // want: the update, or the error's field and message
	}{
		{keep, `{"profile":{"first":"J","nick":"jj"}}`, `{"set":{"givenName":"J","extensions":{"acme":{"profile":{"nick":"jj"}}}},"unset":[]}`},
		{keep, `{"profile":{"first":"J","address":{"city":"Oslo","zip":"0150"},"x":{"y":1}}}`,
			`{"set":{"givenName":"J","extensions":{"acme":{"city":"Oslo","profile":{"address":{"zip":"0150"},"x":{"y":1}}}}},"unset":[]}`},
		{keep, `{"profile":{"first":"J"}}`, `{"set":{"givenName":"J"},"unset":[]}`},
		{keep, `{"profile":null}`, `{"set":{},"unset":["givenName"]}`},
		{keep, `{"profile":{"address":null}}`, `{"set":{},"unset":[]}`},
		{keep, `{"profile":{"a.b":1}}`, `{"set":{"extensions":{"acme":{"profile":{"a.b":1}}}},"unset":[]}`},
		{keep, `{"profile":{":a":1,"a":2,"\u0062":3}}`, `{"set":{"extensions":{"acme":{"profile":{":a":1,"a":2,"\u0062":3}}}},"unset":[]}`},
		{reject, `{"profile":{"first":"J","nick":"jj"}}`, `profile.nick: profile.nick is not a field of this API`},
		{reject, `{"profile":{"address":{"city":"Oslo","zip":"1"}}}`, `profile.address.zip: profile.address.zip is not a field of this API`},
		{reject, `{"profile":{"first":"J"}}`, `{"set":{"givenName":"J"},"unset":[]}`},
		{keep, `{"profile":"str"}`, `profile: profile must be an object`},
		{keep, `{"profile":[{"first":"X"}]}`, `profile: profile must be an object`},
		{reject, `{"profile":{"address":"Oslo"}}`, `profile.address: profile.address must be an object`},
		{keep, `{"profile":{"first":1}}`, `profile.first: profile.first must be a string`},
	} {
		res, e := c.p.Translate(&Input{Body: []byte(c.body), Params: params{"id": "u1"}})
		var got string
		if e != nil {
			got = e.Field + ": " + e.Message
		} else {
			got = string(res.update)
			if ce := canonical.ValidateUpdate(res.update); ce != nil {
				t.Errorf("%s: the update is not valid per the contract: %v", c.body, ce)
			}
		}
		if got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.body, got, c.want)
		}
	}
}

// TestKeptValuesStayWithinTheContractsDepth: a kept value sits four levels
// down in the update (set, extensions, the dialect's object), so one the
// request may hold (server.maxDepth 32) but the update could not is refused
// naming it, never forwarded deeper than the contract allows.
func TestKeptValuesStayWithinTheContractsDepth(t *testing.T) {
	p := nestedRules(t, "keep")
	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	res, e := p.Translate(&Input{Body: []byte(`{"deep":` + nest(maxExtDepth) + `}`), Params: params{"id": "u1"}})
	if e != nil {
		t.Fatalf("%d levels refused: %v", maxExtDepth, e)
	}
	if ce := canonical.ValidateUpdate(res.update); ce != nil {
		t.Fatalf("the update is not valid per the contract: %v", ce)
	}
	_, e = p.Translate(&Input{Body: []byte(`{"deep":` + nest(maxExtDepth+1) + `}`), Params: params{"id": "u1"}})
	if e == nil || e.Field != "deep" || !strings.Contains(e.Message, "nested too deeply") {
		t.Fatalf("%d levels: %v", maxExtDepth+1, e)
	}
	_, e = p.Translate(&Input{Body: []byte(`{"profile":{"x":` + nest(maxExtDepth) + `}}`), Params: params{"id": "u1"}})
	if e == nil || e.Field != "profile" {
		t.Fatalf("a nested leftover one level too deep: %v", e)
	}
}

// TestTemplatedKeysNeverTakeAWrittenName: a member whose key a request
// fills never replaces a member the rules write by name, even ahead of it,
// and one whose key renders "" (its value absent) is left out.
func TestTemplatedKeysNeverTakeAWrittenName(t *testing.T) {
	p, err := Load("keys.yaml", []byte(`dialect: acme
route: {method: PUT, path: /u/:id}
request:
  target: {from: param.id, by: id}
response:
  status: 200
  contentType: application/json
  body:
    "${body.nick}": injected
    given: ${user.givenName}
    "${body.none}": empty
errors: {body: {m: "${error.message}"}}
`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for nick, want := range map[string]string{
		"given": `{"given":"Jane"}`,
		"other": `{"other":"injected","given":"Jane"}`,
	} {
		in := &Input{Body: []byte(`{"nick":"` + nick + `"}`), Params: params{"id": "u1"}}
		res, e := p.Translate(in)
		if e != nil {
			t.Fatal(e)
		}
		if got := string(p.RenderSuccess(in, res, []byte(`{"id":"u1","givenName":"Jane"}`)).Body); got != want {
			t.Errorf("nick %q: got %s, want %s", nick, got, want)
		}
	}
}

// TestHeaderValuesStayValid: a header whose value would carry a control
// character a request sent is left out, as an absent value's is.
func TestHeaderValuesStayValid(t *testing.T) {
	p, err := Load("hdr.yaml", []byte(`dialect: acme
route: {method: PUT, path: /u/:id}
request:
  target: {from: param.id, by: id}
response:
  status: 204
  headers: {X-Echo: "${body.nick}"}
errors: {body: {m: "${error.message}"}}
`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for body, want := range map[string]string{`{"nick":"ab"}`: "ab", `{"nick":"a\u0001b"}`: "", `{"nick":"a\u007fb"}`: "", `{"nick":"a\tb é"}`: "a\tb é"} {
		in := &Input{Body: []byte(body), Params: params{"id": "u1"}}
		res, e := p.Translate(in)
		if e != nil {
			t.Fatal(e)
		}
		got := ""
		for _, h := range p.RenderSuccess(in, res, []byte(`{"id":"u1"}`)).Headers {
			if h.Name == "X-Echo" {
				got = h.Value
			}
		}
		if got != want {
			t.Errorf("%s: X-Echo %q, want %q", body, got, want)
		}
	}
}

// TestDecodeProblemsInTheFilesTerms: a rule file that does not decode is
// reported in its author's terms, never with the Go types behind it.
func TestDecodeProblemsInTheFilesTerms(t *testing.T) {
	_, err := Parse("r.yaml", []byte("dialect: d\nroute: {method: PUT, path: /u, nope: 1}\nrequest:\n  fields: x\nresponse: {status: 20x}\nerrors: {messages: [a]}\n"))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"line 2: unknown key nope in route; expected one of method, path", "line 4: request.fields: `x` is not a list",
		"line 5: response.status: `20x` is not a whole number", "line 6: errors.messages: a list is not a mapping"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "mapping.") || strings.Contains(err.Error(), "[]") || strings.Contains(err.Error(), "unmarshal !!") {
		t.Errorf("Go types in:\n%v", err)
	}
}

// TestDuplicateKeyNamedByItsPath: a duplicate key inside an object is named
// by its path in the request, not by its bare name (which may be no field
// of the dialect at all).
func TestDuplicateKeyNamedByItsPath(t *testing.T) {
	p := nestedRules(t, "keep")
	for body, want := range map[string]string{
		`{"a":1,"a":2}`:                                    "a",
		`{"profile":{"first":"a","first":"b"}}`:            "profile.first",
		`{"roles":[{"name":"a"},{"name":"a","name":"b"}]}`: "roles[1].name",
		`{"x":{"y":[[{"z":1,"z":2}]]}}`:                    "x.y[0][0].z",
	} {
		_, e := p.Translate(&Input{Body: []byte(body), Params: params{"id": "u1"}})
		if e == nil || e.Field != want || !strings.Contains(e.Message, `"`+want+`" appears more than once`) {
			t.Errorf("%s: %v, want the field %s", body, e, want)
		}
	}
}

// TestLongUnknownNames: an unknown field named with more than 128
// characters is refused for its length, named by its first 64.
func TestLongUnknownNames(t *testing.T) {
	p := nestedRules(t, "keep")
	long := strings.Repeat("a", 129)
	_, e := p.Translate(&Input{Body: []byte(`{"` + long + `":1}`), Params: params{"id": "u1"}})
	if e == nil || e.Field != long[:64]+"…" || !strings.Contains(e.Message, "at most 128 characters") {
		t.Fatalf("%v", e)
	}
	if _, e := p.Translate(&Input{Body: []byte(`{"` + long[:128] + `":1}`), Params: params{"id": "u1"}}); e != nil {
		t.Fatalf("128 characters: %v", e)
	}
}

// TestRulesThatWouldDoNothing: shaping keys on an enum-only rule, and one
// header named twice in different cases, are refused at compile.
func TestRulesThatWouldDoNothing(t *testing.T) {
	_, err := Load("n.yaml", []byte(`dialect: acme
route: {method: PUT, path: /u/:id}
request:
  target: {from: param.id, by: id}
  fields:
    - {source: st, type: string, wrap: id, list: true, normalize: uuid, enum: {A: {active: true}}}
response:
  status: 204
  headers: {X-Foo: a, x-foo: b}
errors: {body: {m: "${error.message}"}}
`), Options{})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"request.fields[0].wrap: shapes the value", "request.fields[0].list: shapes", "request.fields[0].normalize: shapes",
		"response.headers.x-foo: names the header X-Foo again (as X-Foo)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

// TestWideNestedObjectKeptWhole: every unknown member of a wide object is
// kept, each once, in the order sent (the kept object is built in one pass:
// a per-member rewrite of it made a 1 MiB body cost a minute of CPU).
func TestWideNestedObjectKeptWhole(t *testing.T) {
	p := nestedRules(t, "keep")
	var sb strings.Builder
	sb.WriteString(`{"profile":{"first":"J"`)
	const n = 20000
	for i := range n {
		fmt.Fprintf(&sb, `,"k%d":%d`, i, i)
	}
	sb.WriteString(`}}`)
	res, e := p.Translate(&Input{Body: []byte(sb.String()), Params: params{"id": "u1"}})
	if e != nil {
		t.Fatal(e)
	}
	kept := gjson.GetBytes(res.update, "set.extensions.acme.profile")
	count := 0
	kept.ForEach(func(k, v gjson.Result) bool {
		if k.Str != "k"+strconv.Itoa(count) || v.Int() != int64(count) {
			t.Fatalf("member %d: %s=%s", count, k.Str, v.Raw)
		}
		count++
		return true
	})
	if count != n {
		t.Fatalf("%d members kept, want %d", count, n)
	}
}

// TestDottedSourcesNameMembers: a dotted source reads object members; an
// array index or gjson syntax in it is refused at compile.
func TestDottedSourcesNameMembers(t *testing.T) {
	for _, src := range []string{"emails.0.value", "profile.na*e", "a..b", "a.#.b"} {
		_, err := Load("d.yaml", []byte("dialect: acme\nroute: {method: PUT, path: /u/:id}\nrequest:\n  target: {from: param.id, by: id}\n  fields:\n    - {source: \""+src+"\", type: string, target: email}\nresponse: {status: 204}\nerrors: {body: {m: \"${error.message}\"}}\n"), Options{})
		if err == nil || !strings.Contains(err.Error(), "d.yaml:6: request.fields[0].source") {
			t.Errorf("%s: %v", src, err)
		}
	}
}

// TestDecodeProblemsSayWhatWasMeant: a misspelt key is named with the
// mapping it is in and the key it most likely is; a key like none of them
// lists those the mapping takes; a value of the wrong kind names its key
// path, so that two problems on one line read apart.
func TestDecodeProblemsSayWhatWasMeant(t *testing.T) {
	_, err := Parse("r.yaml", []byte(`dialect: d
respone: {}
request:
  fields:
    - {source: a, type: string, taget: givenName}
    - {source: b, type: string, validate: {maxLen: 3, isEmail: true, zzz: 1}}
    - {source: c, type: string, validate: {password: {upper: 1, digit: 1}}}
`))
	for _, want := range []string{
		"line 2: unknown key respone; did you mean response?",
		"line 5: unknown key taget in request.fields[0]; did you mean target?",
		"line 6: unknown key maxLen in request.fields[1].validate; did you mean maxLength?",
		"line 6: unknown key isEmail in request.fields[1].validate; did you mean email?",
		"line 6: unknown key zzz in request.fields[1].validate; expected one of email, keyMaxLength, keyPattern, maxItems, maxLength, maxPairs, minLength, nonEmpty, oneOf, password, pattern, uuid, valueMaxLength, valueType",
		"line 7: request.fields[2].validate.password.upper: `1` is not true or false",
		"line 7: request.fields[2].validate.password.digit: `1` is not true or false",
	} {
		if !strings.Contains(fmt.Sprint(err), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

// TestDecodeProblemsAreTyped: each problem of a rule file that does not
// decode is a YAMLError a caller can read (line, key), wrapped in ErrRules,
// with no YAML library message rewritten; an empty file says so.
func TestDecodeProblemsAreTyped(t *testing.T) {
	_, err := Parse("r.yaml", []byte("dialect: d\nroute: {method: PUT, path: /u, nope: 1}\nresponse: {status: [200]}\n"))
	if !errors.Is(err, ErrRules) {
		t.Fatalf("not ErrRules: %v", err)
	}
	var ye *YAMLError
	if !errors.As(err, &ye) || ye.Line != 2 || !ye.Unknown || ye.Key != "nope" || ye.Path != "route" {
		t.Fatalf("first problem: %#v in %v", ye, err)
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 2 {
		t.Errorf("want two problems, one a line; got %d: %v", n, err)
	}
	if !strings.Contains(err.Error(), "r.yaml: line 3: response.status: a list is not a whole number") {
		t.Errorf("missing the status problem: %v", err)
	}
	if _, err := Parse("r.yaml", []byte("dialect: d\n\"\": 1\n")); !strings.Contains(fmt.Sprint(err), `r.yaml: line 2: unknown key ""`) {
		t.Errorf("an empty key: %v", err)
	}
	if _, err := Parse("empty.yaml", nil); !errors.Is(err, ErrRules) || !strings.Contains(err.Error(), "empty.yaml: the file is empty") {
		t.Errorf("empty file: %v", err)
	}
}

// TestOneMemberOneType: two rules that read one member as two types, or a
// rule that reads a member as no object while others read into it, would
// refuse every request that sends it: the file is refused, naming both.
// One member read by two rules of one type (or any, or integer and
// number), or an object read whole and member by member, compiles.
func TestOneMemberOneType(t *testing.T) {
	_, err := Load("two.yaml", []byte(`dialect: d
route: {method: PUT, path: /u/:id}
request:
  target: {from: param.id, by: id}
  fields:
    - {source: labels, type: object, target: attributes}
    - {source: labels, type: string, target: extensions.d.labels}
    - {source: profile, type: string, target: displayName}
    - {source: profile.city, type: string, target: givenName}
    - {source: profile.zip.code, type: string, target: familyName}
response: {status: 204}
errors: {body: {message: "${error.message}"}}
`), Options{})
	for _, want := range []string{
		`two.yaml:7: request.fields[1].source: "labels" is read as a string here and as an object by request.fields[0] (line 6): no value is both`,
		`two.yaml:8: request.fields[2].source: "profile" is read as a string, but profile.city, profile.zip.code read into it as an object`,
	} {
		if !strings.Contains(fmt.Sprint(err), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if _, err := Load("ok.yaml", []byte(`dialect: d
route: {method: PUT, path: /u/:id}
request:
  target: {from: param.id, by: id}
  fields:
    - {source: mail, type: string, target: email}
    - {source: mail, type: string, target: username}
    - {source: n, type: integer, target: extensions.d.n}
    - {source: n, type: number, target: extensions.d.m}
    - {source: office, type: object, target: address}
    - {source: office.city, type: string, target: givenName}
    - {source: blob, type: any, target: extensions.d.blob}
    - {source: blob.x, type: string, target: familyName}
response: {status: 204}
errors: {body: {message: "${error.message}"}}
`), Options{}); err != nil {
		t.Errorf("refused: %v", err)
	}
}

// TestConfigOverrideNamesTheConstantMeant: a deployment's value for a
// constant the rule file does not declare says where it is set and the
// constant it most likely means.
func TestConfigOverrideNamesTheConstantMeant(t *testing.T) {
	_, err := Load("c.yaml", []byte(`dialect: d
route: {method: PUT, path: /u/:id}
config: {supportUrl: x, realm: y}
request:
  target: {from: param.id, by: id}
response: {status: 204}
errors: {body: {message: "${error.message}", help: "${config.supportUrl}"}}
`), Options{Config: map[string]string{"supportURL": "z", "zzzz": "w"}})
	for _, want := range []string{
		"config.supportURL: the rule file c.yaml declares no such config constant, which dialects.d.config sets; did you mean supportUrl?",
		"config.zzzz: the rule file c.yaml declares no such config constant, which dialects.d.config sets; expected one of realm, supportUrl",
	} {
		if !strings.Contains(fmt.Sprint(err), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

// TestEnumValueNeverAccepted: the checks run before a string enum, so an
// enum value they refuse is never matched: the file is refused, naming it.
func TestEnumValueNeverAccepted(t *testing.T) {
	_, err := Load("e.yaml", []byte(`dialect: d
route: {method: PUT, path: /u/:id}
request:
  target: {from: param.id, by: id}
  fields:
    - source: status
      type: string
      enum:
        ACTIVE: {active: true}
        off: {active: false}
      validate: {pattern: '[a-z]+'}
response: {status: 204}
errors: {body: {message: "${error.message}"}}
`), Options{})
	if want := `e.yaml:9: request.fields[0].enum.ACTIVE: "ACTIVE" is never accepted: the value must match [a-z]+`; !strings.Contains(fmt.Sprint(err), want) ||
		strings.Contains(fmt.Sprint(err), `"off"`) {
		t.Errorf("want only %q in:\n%v", want, err)
	}
}

// TestOneOfValueNeverAccepted: a oneOf value the rule's other checks
// refuse can never be sent: the file is refused, naming the value.
func TestOneOfValueNeverAccepted(t *testing.T) {
	_, err := Load("o.yaml", []byte(`dialect: d
route: {method: PUT, path: /u/:id}
request:
  target: {from: param.id, by: id}
  fields:
    - source: plan
      type: string
      target: extensions.d.plan
      validate: {pattern: '[a-z]+', maxLength: 5, oneOf: [basic, Gold, premium]}
response: {status: 204}
errors: {body: {message: "${error.message}"}}
`), Options{})
	for _, want := range []string{
		`o.yaml:9: request.fields[0].validate.oneOf[1]: "Gold" is never accepted: the value must match [a-z]+`,
		`o.yaml:9: request.fields[0].validate.oneOf[2]: "premium" is never accepted: the value must be at most 5 characters long`,
	} {
		if !strings.Contains(fmt.Sprint(err), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if strings.Contains(fmt.Sprint(err), `"basic"`) {
		t.Errorf("a value the checks accept is refused: %v", err)
	}
}

// TestFlowTemplateHint: an unquoted ${…} template in a flow mapping or
// list breaks the YAML (its { opens a mapping); the syntax error says to
// quote it. A quoted one, or another syntax error, gets no such hint.
func TestFlowTemplateHint(t *testing.T) {
	const hint = `a ${…} template inside a flow mapping or list ({…}, […]) must be quoted`
	for _, tc := range []struct {
		body string
		want bool
	}{
		{`contact: {email: ${user.email?}}`, true},
		{`groups: [${user.id}]`, true},
		{`x: {a: "${user.id}", b: ${user.id}}`, true},
		{`x: {a: b`, false},
		{"x: \"${user.id}\"\n    y: [a", false},
	} {
		_, err := Parse("h.yaml", []byte("dialect: d\nresponse:\n  body:\n    "+tc.body+"\n"))
		if err == nil || strings.Contains(err.Error(), hint) != tc.want {
			t.Errorf("%s: hint %v: %v", tc.body, !tc.want, err)
		}
	}
}
