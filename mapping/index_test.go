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
	var c renderCtx
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
	var c renderCtx
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

// plainRun must stop at the first byte that is not plainByte, wherever it
// sits in or across its eight-byte steps, for every byte value.
func TestPlainRun(t *testing.T) {
	for c := 0; c < 256; c++ {
		for p := 0; p < 24; p++ {
			for start := 0; start <= p; start += 3 {
				b := []byte(strings.Repeat("a", 24))
				b[p] = byte(c)
				want := p
				if plainByte[c] {
					want = 24
				}
				if got := plainRun(b, start); got != want {
					t.Fatalf("byte %#x at %d from %d: plainRun = %d, want %d", c, p, start, got, want)
				}
			}
		}
	}
}
