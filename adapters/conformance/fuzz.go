package conformance

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/adapters"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// hostile are bodies every dialect's fuzz corpus starts from, besides its
// golden requests: the attacks of the hostile-input policy.
var hostile = []string{
	``, `null`, `[]`, `{}`, `{"a":`, `{"a":1,"a":2}`, "{\"a\":\"\xff\xfe\"}",
	strings.Repeat(`[`, 100) + strings.Repeat(`]`, 100),
	`{"a":"\u0000"}`, `{"\u0061":1,"a":2}`, `{"a":1e999}`, `{"a":-0.0e-0}`,
	`{"password":"Aa1!aaaa","userName":"../x"}`, `{"extensions":{"x":{"y":1}}}`,
	`{"set":{"password":"x"},"unset":["password"]}`,
}

// Fuzz drives a dialect's translation with arbitrary bodies and paths: it
// must never panic, and every update it lets through must be valid per the
// canonical contract. pathTemplate holds "{}" where a fuzzed segment goes.
func Fuzz(f *testing.F, b adapters.Builtin, pathTemplate string) {
	p := Dialect(f, b)
	cases, err := LoadCases(filepath.Join("testdata"))
	if err != nil {
		f.Fatal(err)
	}
	for _, c := range cases {
		f.Add(c.RequestBody(), "x1")
	}
	for _, h := range hostile {
		f.Add([]byte(h), "..")
		f.Add([]byte(h), "a%2Fb")
	}
	f.Fuzz(func(t *testing.T, body []byte, seg string) {
		if strings.ContainsAny(seg, "/") {
			return // gin never matches a route with an extra segment
		}
		in := Input(p, strings.Replace(pathTemplate, "{}", seg, 1), body)
		res, cerr := p.Translate(in)
		if cerr != nil {
			rep := p.RenderError(in, cerr)
			if rep.Status < 400 || len(rep.Body) == 0 {
				t.Fatalf("refusal rendered badly: %d %s", rep.Status, rep.Body)
			}
			return
		}
		update, cerr := res.Update(AnyStoredUser)
		if cerr != nil {
			t.Fatalf("a stored user without a username refused: %v", cerr)
		}
		if err := canonical.ValidateUpdate(update); err != nil {
			t.Fatalf("invalid update let through: %v\nbody: %q\nupdate: %s", err, body, update)
		}
		if res.Value == "" || res.Value == "." || res.Value == ".." {
			t.Fatalf("bad target %q", res.Value)
		}
	})
}

// BenchTranslate measures one request translation.
func BenchTranslate(bm *testing.B, b adapters.Builtin, path string, body []byte) {
	p := Dialect(bm, b)
	in := Input(p, path, body)
	if _, err := p.Translate(in); err != nil {
		bm.Fatal(err)
	}
	bm.ReportAllocs()
	bm.SetBytes(int64(len(body)))
	bm.ResetTimer()
	for i := 0; i < bm.N; i++ {
		if _, err := p.Translate(in); err != nil {
			bm.Fatal(err)
		}
	}
}

// BenchRender measures one success answer from a canonical user: rendered
// alone (RenderSuccess), and as the server makes it from an upstream's
// answer, checked then rendered: "checked+render" as two passes
// (CheckAnswer, RenderSuccess), "fused" as the server does it, the render
// reading the members the check found (CheckAnswerMembers, RenderChecked).
func BenchRender(bm *testing.B, b adapters.Builtin, path string, body, user []byte) {
	p := Dialect(bm, b)
	in := Input(p, path, body)
	res, err := p.Translate(in)
	if err != nil {
		bm.Fatal(err)
	}
	want := canonical.Addressed{Target: canonical.ByID, Value: gjson.GetBytes(user, "id").Str}
	var m canonical.Members
	if canonical.CheckAnswerMembers(user, want, &m) != nil || !m.Valid {
		bm.Fatalf("the bench user is not one CheckAnswerMembers vouches for: %s", user)
	}
	bm.Run("alone", func(bm *testing.B) {
		bm.ReportAllocs()
		for bm.Loop() {
			p.RenderSuccess(in, res, user)
		}
	})
	bm.Run("checked+render", func(bm *testing.B) {
		bm.ReportAllocs()
		for bm.Loop() {
			if canonical.CheckAnswer(user, want) != nil {
				bm.Fatal("refused")
			}
			p.RenderSuccess(in, res, user)
		}
	})
	bm.Run("fused", func(bm *testing.B) {
		bm.ReportAllocs()
		for bm.Loop() {
			var m canonical.Members
			if canonical.CheckAnswerMembers(user, want, &m) != nil {
				bm.Fatal("refused")
			}
			p.RenderChecked(in, res, user, &m)
		}
	})
}
