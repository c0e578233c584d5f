package mapping

import (
	"strings"
	"testing"

	"github.com/userbridge/userbridge/mapping/canonical"
)

// TestUnholdableValuesRefused: a number beyond float64, an integer literal
// beyond ±2^53 and NUL in a string or a key are refused wherever a rule
// would carry them (a mapped field, a kept object, a role item, an unknown
// member kept as an extension, a member inside a nested object), naming
// the value by its path in the request; nothing is translated.
func TestUnholdableValuesRefused(t *testing.T) {
	p := program(t)
	cases := []struct{ name, body, field, why string }{
		{"beyond float64 in a kept object", `{"meta":{"a":1e400}}`, "meta.a", "beyond the range of a float64"},
		{"negative beyond float64", `{"extra":-1.5E+309}`, "extra", "beyond the range of a float64"},
		{"too small for float64", `{"extra":1e-400}`, "extra", "too small for a float64"},
		{"integer beyond 2^53", `{"extra":9007199254740993}`, "extra", "beyond ±2^53"},
		{"negative integer beyond 2^53", `{"extra":-9007199254740993}`, "extra", "beyond ±2^53"},
		{"long integer", `{"extra":{"n":[1,123456789012345678901234567890]}}`, "extra.n[1]", "beyond ±2^53"},
		{"NUL in a mapped string", `{"first":"a\u0000b"}`, "first", "NUL"},
		{"NUL in a role item", `{"groups":["a","b\u0000"]}`, "groups[1]", "NUL"},
		{"NUL in a role member", `{"groups":[{"name":"x\u0000"}]}`, "groups[0].name", "NUL"},
		{"NUL in a kept key", `{"extra":{"k\u0000":1}}`, "extra", "has a key that must not contain the NUL"},
		{"NUL in a nested member", `{"profile":{"city":"\u0000"}}`, "profile.city", "NUL"},
		{"NUL in an unknown nested member", `{"profile":{"nick":["\u0000"]}}`, "profile.nick[0]", "NUL"},
		{"NUL in a read-only field", `{"id":"\u0000"}`, "id", "NUL"},
	}
	// A top-level key: no object names it but the body.
	if _, err := p.Translate(input(`{"a\u0000":1}`)); err == nil || err.Code != canonical.BadRequest ||
		err.Message != "the request body has a key that "+canonical.NULProblem {
		t.Errorf("a top-level key with NUL: %v", err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := p.Translate(input(c.body))
			if err == nil {
				t.Fatal("accepted")
			}
			if err.Code != canonical.InvalidField || err.Field != c.field || !strings.Contains(err.Message, c.why) ||
				!strings.HasPrefix(err.Message, c.field+" ") {
				t.Fatalf("got %s %q %q; want field %q, a message on %q", err.Code, err.Field, err.Message, c.field, c.why)
			}
		})
	}
}

// TestHoldableValuesKept: what a backend holds exactly goes on as sent:
// integers up to ±2^53, floats within float64's range, other control
// characters and the escaped text "\\u0000" (a backslash, then u0000).
func TestHoldableValuesKept(t *testing.T) {
	p := program(t)
	for _, body := range []string{
		`{"extra":9007199254740992}`, `{"extra":-9007199254740992}`, `{"extra":123456789012345}`,
		`{"extra":1.7976931348623157e308}`, `{"extra":5e-324}`, `{"extra":0e-400}`, `{"extra":0.000000000000000000001}`,
		`{"extra":1e20}`, `{"extra":9007199254740993.5}`, `{"first":"a\u0001b"}`, `{"first":"a\\u0000b"}`,
	} {
		res, err := p.Translate(input(body))
		if err != nil {
			t.Errorf("%s: %v", body, err)
			continue
		}
		if up, _ := res.Update(nil); canonical.ValidateUpdate(up) != nil {
			t.Errorf("%s: the update %s is not valid: %v", body, up, canonical.ValidateUpdate(up))
		}
	}
}

// TestRenameToUnaddressableUsername: a username userbridge would refuse to
// address in a path is refused as the new username too.
func TestRenameToUnaddressableUsername(t *testing.T) {
	p := mustLoad(t, "rename.yaml", `
dialect: rename
route: {method: PUT, path: /u/:id}
request:
  target: {from: param.id, by: id}
  fields:
    - {source: login, type: string, target: username}
response: {status: 204}
errors:
  body: {m: "${error.message}"}
`)
	for _, v := range []string{`../admin`, `a/b?c#d`, `a\\b`, ``, ` `, `\t `, `.`, `..`, `x\u0001`, `x\u007f`} {
		_, err := p.Translate(&Input{Body: []byte(`{"login":"` + v + `"}`), Params: params{"id": "u1"}})
		if err == nil || err.Code != canonical.InvalidField || err.Field != "login" || !strings.HasPrefix(err.Message, "login must ") {
			t.Errorf("login %q: got %v", v, err)
		}
	}
	for _, v := range []string{`jane.doe`, `a..b`, `jane doe`, `zoë`, `a@b.c`} {
		if _, err := p.Translate(&Input{Body: []byte(`{"login":"` + v + `"}`), Params: params{"id": "u1"}}); err != nil {
			t.Errorf("login %q refused: %v", v, err)
		}
	}
	// An enum constant that renames is checked once, when the file compiles.
	_, err := Load("enum.yaml", []byte(`
dialect: rename
route: {method: PUT, path: /u/:id}
request:
  target: {from: param.id, by: id}
  fields:
    - source: kind
      type: string
      enum: {ROOT: {username: "../root"}, BIG: {extensions.rename.n: 1e300}, HUGE: {extensions.rename.n: 12345678901234567890}}
response: {status: 204}
errors:
  body: {m: "${error.message}"}
`), Options{})
	if err == nil || !strings.Contains(err.Error(), "username") || !strings.Contains(err.Error(), "2^53") {
		t.Errorf("enum constants: %v", err)
	}
}
