package canonical

import (
	"strings"
	"testing"
)

// TestValidateUpdateRefusesUnholdableValues: the contract refuses, naming
// the field, a number beyond float64, an integer literal beyond ±2^53 and
// NUL in a string or a key, wherever they are in set; and a username that
// could not name its user in a path.
func TestValidateUpdateRefusesUnholdableValues(t *testing.T) {
	for doc, field := range map[string]string{
		`{"set":{"attributes":{"n":1e400}}}`:                       "attributes",
		`{"set":{"address":{"street":["a","\u0000"]}}}`:            "address",
		`{"set":{"attributes":{"k\u0000":"v"}}}`:                   "attributes",
		`{"set":{"email":"a\u0000@b.c"}}`:                          "email",
		`{"set":{"roles":[{"name":"a\u0000"}]}}`:                   "roles",
		`{"set":{"extensions":{"d":{"n":9007199254740993}}}}`:      "extensions.d.n",
		`{"set":{"extensions":{"d":{"n":{"x":[-1e-400]}}}}}`:       "extensions.d.n",
		`{"set":{"extensions":{"d":{"n":-12345678901234567890}}}}`: "extensions.d.n",
		`{"set":{"username":"../admin"}}`:                          "username",
		`{"set":{"username":"a/b?c#d"}}`:                           "username",
		`{"set":{"username":" "}}`:                                 "username",
		`{"set":{"username":""}}`:                                  "username",
		`{"set":{"username":".."}}`:                                "username",
		`{"set":{"username":"a\u0007"}}`:                           "username",
	} {
		err := validateUpdate([]byte(doc))
		if err == nil || err.Code != InvalidField || err.Field != field {
			t.Errorf("%s: got %v, want invalid_field %s", doc, err, field)
		}
	}
	for _, doc := range []string{
		`{"set":{"attributes":{"n":9007199254740992,"m":-9007199254740992,"f":1e300,"g":5e-324,"z":0e-999}}}`,
		`{"set":{"attributes":{"s":"\\u0000 is how NUL is written"}}}`,
		`{"set":{"username":"jane.doe"}}`, `{"set":{"username":"a..b"}}`,
	} {
		if err := validateUpdate([]byte(doc)); err != nil {
			t.Errorf("%s: %v", doc, err)
		}
	}
}

func TestNumberProblem(t *testing.T) {
	for lit, bad := range map[string]bool{
		"0": false, "-0": false, "9007199254740992": false, "9007199254740993": true, "-9007199254740993": true,
		"10000000000000000": true, "1e400": true, "1E+400": true, "1e-400": true, "0.0e-400": false, "1.5": false,
		"1e308": false, "2e308": true, "9007199254740993.0": false, "0." + strings.Repeat("0", 400) + "1": true,
	} {
		if got := NumberProblem(lit) != ""; got != bad {
			t.Errorf("%.30s: refused %v, want %v", lit, got, bad)
		}
	}
}

func TestPathValueProblem(t *testing.T) {
	for v, bad := range map[string]bool{
		"jane": false, "a b": false, "zoë": false, "..a": false, "": true, " \t": true, ".": true, "..": true,
		"a/b": true, "a?b": true, "a#b": true, `a\b`: true, "a\x00": true, "a\x7f": true, "\xc0\xaf": true, "\xff": true,
	} {
		if got := PathValueProblem(v) != ""; got != bad {
			t.Errorf("%q: refused %v, want %v", v, got, bad)
		}
	}
}

// pathValueProblemRef is PathValueProblem as first written, case by case
// (pathValueProblem, which PathValueProblem takes for a value that is not
// all ASCII, with the empty case before): the oracle of
// FuzzPathValueProblem.
func pathValueProblemRef(v string) string {
	if v == "" {
		return "must not be empty"
	}
	return pathValueProblem(v)
}

// FuzzPathValueProblem: the one-pass PathValueProblem says what the
// case-by-case rule says, for every value (the ASCII ones are those it
// judges in one pass).
func FuzzPathValueProblem(f *testing.F) {
	for _, s := range []string{"", " ", "\t\n", "\u00a0", "\u0085 ", ".", "..", " . ", "a/b", "a?b", "#", `a\b`, "a\x00b", "a\x7f",
		"\xc0\xaf", "jane.doe", "USsRhsHYZGBPnQw8CFHjD7Un", "ü", " \x7f", "\v\f\r", "a b", "\t/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if got, want := PathValueProblem(v), pathValueProblemRef(v); got != want {
			t.Errorf("PathValueProblem(%q) = %q, want %q", v, got, want)
		}
	})
}
