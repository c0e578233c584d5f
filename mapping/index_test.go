package mapping

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// indexTop must find exactly the members gjson's ForEach finds, in order,
// with the same raw values, on every valid JSON object it accepts. The user
// it reads was validated before (the upstream client refuses a reply that is
// not one JSON object): on other text it need only not fail.
func checkIndexTop(t *testing.T, s string) {
	t.Helper()
	var c userIndex
	if !c.indexTop(s) || !gjson.Valid(s) {
		return // refused: lookups fall back to gjson; or not JSON
	}
	type kv struct{ k, v string }
	var want []kv
	gjson.Parse(s).ForEach(func(k, v gjson.Result) bool {
		want = append(want, kv{k.Raw[1 : len(k.Raw)-1], v.Raw})
		return true
	})
	if len(want) != c.ntop {
		t.Fatalf("%q: %d members indexed, gjson finds %d", s, c.ntop, len(want))
	}
	for i, w := range want {
		if c.top[i].key != w.k || c.top[i].raw != w.v {
			t.Fatalf("%q: member %d is %q=%q, gjson says %q=%q", s, i, c.top[i].key, c.top[i].raw, w.k, w.v)
		}
	}
}

var indexSeeds = []string{
	`{}`, ` { } `, `{"a":1}`, `{"a":1,"b":"x","c":null,"d":true,"e":false}`,
	`{"id":"U1","roles":[{"name":"R"}],"attributes":{"k":"v","n":[1,2,{"x":"}"}]},"s":"a\"b\\"}`,
	"{\n\t\"a\" : -1.5e3 ,\r\n \"b\" : [ ] }", `{"a":"\u00e9","b":"]}"}`, `{"a":{"b":{"c":{}}}}`,
	`{"a":1,"a":2}`, `{"a\"b":1}`, `[1,2]`, `"x"`, `{"a":}`, `{"a":1,}`, `{"a" 1}`, `{"a":1`, `{"a":[1,2}`,
	`{"a":tru}`, `{"a":"x`, `{"a":1}x`, `{"a":01}`, `{a:1}`,
}

func TestIndexTop(t *testing.T) {
	for _, s := range indexSeeds {
		checkIndexTop(t, s)
	}
	var c userIndex
	if !c.indexTop(`{"id":"U1","roles":[{"name":"R"}],"active":false}`) || c.ntop != 3 || c.top[1].raw != `[{"name":"R"}]` {
		t.Fatalf("indexTop: %d members %+v", c.ntop, c.top[:max(c.ntop, 0)])
	}
}

func FuzzIndexTop(f *testing.F) {
	for _, s := range indexSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkIndexTop(t, s) })
}

// checkTop's members must be exactly what gjson's ForEach finds, in order,
// and valueAt each value exactly the Result gjson gives for it: Translate
// reads the body through them and rules written against gjson must see no
// difference.
func checkTopMembers(t *testing.T, s string) {
	t.Helper()
	body := []byte(s)
	members, err := Guard{}.checkTop(body, nil)
	if err != nil {
		return
	}
	doc := gjson.ParseBytes(body)
	if !doc.IsObject() {
		if len(members) != 0 {
			t.Fatalf("%q: %d members recorded for a non-object", s, len(members))
		}
		return
	}
	i := 0
	doc.ForEach(func(k, v gjson.Result) bool {
		if i >= len(members) {
			t.Fatalf("%q: gjson finds more than the %d members recorded", s, len(members))
		}
		m := &members[i]
		if got := m.key(body); got != k.Str {
			t.Fatalf("%q: member %d key %q, gjson %q", s, i, got, k.Str)
		}
		if raw := string(body[m.keyAt:m.keyEnd]); raw != k.Raw {
			t.Fatalf("%q: member %d raw key %q, gjson %q", s, i, raw, k.Raw)
		}
		got := valueAt(body, m.valAt, m.valEnd)
		if got.Type != v.Type || got.Raw != v.Raw || got.Str != v.Str || got.Index != v.Index ||
			(got.Num != v.Num && !(got.Num != got.Num && v.Num != v.Num)) {
			t.Fatalf("%q: member %d value %#v, gjson %#v", s, i, got, v)
		}
		i++
		return true
	})
	if i != len(members) {
		t.Fatalf("%q: %d members recorded, gjson finds %d", s, len(members), i)
	}
}

func TestCheckTopMembers(t *testing.T) {
	for _, s := range append(indexSeeds, `{"a\"b":"c\nd","\u00e9":1e400,"x":-0.0,"y":"\ud83d\ude00"}`, ` {"k" : [ {"a":1} ] , "n":null} `) {
		checkTopMembers(t, s)
	}
	members, _ := Guard{}.checkTop([]byte(`{"a":1,"b":{"c":2},"d":[3]}`), nil)
	if len(members) != 3 {
		t.Fatalf("nested members recorded: %+v", members)
	}
}

func FuzzCheckTop(f *testing.F) {
	for _, s := range indexSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkTopMembers(t, s) })
}

// keyTable must answer exactly what the map it was built from answers,
// for the keys it holds and for any other.
func TestKeyTable(t *testing.T) {
	for _, n := range []int{0, 1, 3, 4, 5, 17, 40} {
		m := map[string]*keyRules{}
		for i := 0; i < n; i++ {
			m[strings.Repeat("k", i%5)+string(rune('a'+i%26))+strings.Repeat("x", i/26)] = &keyRules{}
		}
		tab := newKeyTable(m)
		for k, kr := range m {
			if tab.get(k) != kr {
				t.Fatalf("%d keys: get(%q) is not its rules", n, k)
			}
		}
		for _, k := range []string{"", "zz", "kkkkkkkk", "a ", "userName", "\x00"} {
			if tab.get(k) != m[k] {
				t.Fatalf("%d keys: get(%q) = %v, want %v", n, k, tab.get(k), m[k])
			}
		}
	}
}
