package conformance

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
	"github.com/userbridge/userbridge/adapters"
	"github.com/userbridge/userbridge/mapping"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// Dialect compiles a built-in dialect from its embedded rules.
func Dialect(tb testing.TB, b adapters.Builtin) *mapping.Program {
	tb.Helper()
	d, err := b.Load("", nil, mapping.Options{})
	if err != nil {
		tb.Fatalf("%s: %v", b.Name, err)
	}
	return d.Program()
}

// RunGolden runs every golden case of dir against the program, each a
// subtest failing with every problem Check finds.
func RunGolden(t *testing.T, p *mapping.Program, dir string) {
	cases, err := LoadCases(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatalf("%s: no golden cases", dir)
	}
	for _, c := range cases {
		t.Run(c.File+"/"+c.Name, func(t *testing.T) {
			if c.Dialect != p.Name() {
				t.Fatalf("%s:%d: the case is for dialect %q, run against %q", c.Source, c.Line, c.Dialect, p.Name())
			}
			for _, prob := range c.Check(p) {
				t.Errorf("%s:%d: %s", c.Source, c.Line, prob)
			}
		})
	}
}

// RunSuite runs the checks every dialect passes, whatever its rules. base is
// a request path and body the dialect accepts.
func RunSuite(t *testing.T, p *mapping.Program, path string, body []byte) {
	in := func(b []byte) *mapping.Input { return Input(p, path, b) }
	if p.Description() == "" {
		t.Error("the rule file has no description")
	}
	res, err := p.Translate(in(body))
	if err != nil {
		t.Fatalf("the base request is refused: %v", err)
	}
	update, err := res.Update(AnyStoredUser)
	if err != nil {
		t.Fatalf("the base request is refused: %v", err)
	}
	if verr := canonical.ValidateUpdate(update); verr != nil {
		t.Fatalf("base update invalid: %v", verr)
	}
	refuse := map[string][]byte{
		"empty body":          nil,
		"not JSON":            []byte(`{"a":`),
		"not an object":       []byte(`[1,2]`),
		"duplicate key":       dupFirstKey(body),
		"invalid UTF-8":       []byte("{\"zz\":\"\xff\"}"),
		"too deep":            []byte(strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)),
		"trailing data":       append(append([]byte{}, body...), []byte(` {}`)...),
		"control char":        []byte("{\"zz\":\"a\x01\"}"),
		"lone surrogate junk": []byte(`{"zz":"\u12"}`),
	}
	for name, b := range refuse {
		t.Run("refuses "+name, func(t *testing.T) {
			_, err := p.Translate(in(b))
			if err == nil {
				t.Fatalf("accepted %q", b)
			}
			checkErrorReply(t, p, in(b), err)
		})
	}
	for _, code := range canonical.Codes {
		t.Run("renders "+string(code), func(t *testing.T) {
			checkErrorReply(t, p, in(body), &canonical.Error{Code: code, Message: "something went wrong", Field: "email"})
			checkErrorReply(t, p, in(body), &canonical.Error{Code: code, Message: "something went wrong"})
		})
	}
	t.Run("keeps or refuses an unknown field", func(t *testing.T) {
		b, _ := sjson.SetBytes(append([]byte{}, body...), "zzUnknown", map[string]any{"x": 1})
		res, err := p.Translate(in(b))
		if err != nil {
			if err.Field != "zzUnknown" {
				t.Fatalf("refused, but not naming the field: %v", err)
			}
			return
		}
		update, err := res.Update(AnyStoredUser)
		if err != nil {
			t.Fatalf("refused by the stored-user check: %v", err)
		}
		got := gjson.GetBytes(update, "set.extensions."+p.Name()+".zzUnknown.x")
		if got.Int() != 1 {
			t.Fatalf("unknown field dropped: %s", update)
		}
	})
	t.Run("success answer", func(t *testing.T) {
		user := []byte(`{"id":"0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a","username":"jane.doe","email":"jane@example.com",` +
			`"active":true,"createdAt":"2024-01-15T09:30:00.000Z","updatedAt":"2024-02-01T10:00:00.500Z",` +
			`"roles":[{"id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","name":"ROLE_MERCHANT"}],"attributes":{"a":"b"}}`)
		rep := p.RenderSuccess(in(body), res, user)
		if rep.Status < 200 || rep.Status > 299 {
			t.Fatalf("status %d", rep.Status)
		}
		if rep.Status == http.StatusNoContent && rep.Body != nil {
			t.Fatalf("204 with a body")
		}
		if rep.Body != nil && !json.Valid(rep.Body) {
			t.Fatalf("body is not JSON: %s", rep.Body)
		}
		if strings.Contains(string(rep.Body), "password\":\"") {
			t.Fatalf("a password is shown: %s", rep.Body)
		}
	})
}

// AnyStoredUser is a stored user no stored-user check refuses: it has no
// username. For checks of the update's shape, not of the check itself.
func AnyStoredUser() ([]byte, *canonical.Error) { return []byte(`{}`), nil }

func checkErrorReply(t *testing.T, p *mapping.Program, in *mapping.Input, e *canonical.Error) {
	t.Helper()
	rep := p.RenderError(in, e)
	if rep.Status < 400 || rep.Status > 599 {
		t.Errorf("%s: status %d", e.Code, rep.Status)
	}
	if !json.Valid(rep.Body) || !gjson.ParseBytes(rep.Body).IsObject() {
		t.Errorf("%s: error body is not a JSON object: %s", e.Code, rep.Body)
	}
	if rep.ContentType == "" {
		t.Errorf("%s: no content type", e.Code)
	}
	if strings.Contains(string(rep.Body), "goroutine") || strings.Contains(string(rep.Body), "runtime error") {
		t.Errorf("%s: Go internals leak: %s", e.Code, rep.Body)
	}
}

func dupFirstKey(body []byte) []byte {
	var k string
	gjson.ParseBytes(body).ForEach(func(key, _ gjson.Result) bool { k = key.Raw; return false })
	if k == "" {
		return []byte(`{"a":1,"a":2}`)
	}
	return []byte("{" + k + `:1,` + strings.TrimPrefix(string(body), "{"))
}
