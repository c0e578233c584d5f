package mapping

import (
	"testing"

	"github.com/tidwall/gjson"
)

// FuzzGuardDiff compares the guard with its scanner as it was (refScan,
// guard_ref_test.go) on any body: the same error (offset, reason, kind,
// key) or none, and the same top-level members. It also checks each
// object member's objectSum against one counted from the members gjson
// finds (sumOf).
func FuzzGuardDiff(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":"b"}`, `{"a":"\u00e9\ud83d\ude00","b":[1,2.5e3,true,null]}`,
		`{"a":1,"a":2}`, `"\ud800"`, "{\"k\":\"\xff\"}", `[[[[]]]]`, `{"x":"tab\there"}`, `{"é":"ü"}`,
		`{"tags":{"order_number":"25","item_type":"produce","department":"sales"},"e":false}`,
		`{"t":{"a\"b":"c\\d","e":{"f":[1,{"g":"h"}]},"i":null,"j":-1.5e3}, "u":{}}`, `{"a":"b\u0000"}`,
		`{"a":"x` + "\x01" + `"}`, `{"a":"\q"}`, `{"a":"\u12G4"}`, `{"a":"\udc00"}`, `{"a":"\ud800\u0041"}`,
		`{"a" "b"}`, `{"a":1,}`, `{"a":[1 2]}`, `{"a":01}`, `{"a":1.}`, `{"a":tru}`, `{"a":"b"} x`, `{"a":"`} {
		f.Add([]byte(s), uint8(8))
	}
	f.Fuzz(func(t *testing.T, b []byte, depth uint8) {
		g := Guard{MaxDepth: int(depth % 12)}
		got, gerr := g.checkTop(b, nil)
		want, werr := g.refScan(b, nil, true)
		if (gerr == nil) != (werr == nil) || gerr != nil && *gerr != *werr {
			t.Fatalf("%q: got %+v, want %+v", b, gerr, werr)
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d members, want %d", b, len(got), len(want))
		}
		for i := range got {
			m, w := got[i], want[i]
			if m.keyAt != w.keyAt || m.keyEnd != w.keyEnd || m.valAt != w.valAt || m.valEnd != w.valEnd || m.esc != w.esc {
				t.Fatalf("%q: member %d %+v, want %+v", b, i, m, w)
			}
			if gerr == nil && b[m.valAt] == '{' {
				if s := sumOf(string(b[m.valAt:m.valEnd])); m.sum != s {
					t.Fatalf("%q: member %d sum %+v, want %+v", b, i, m.sum, s)
				}
			}
		}
	})
}

// sumOf is the objectSum of obj, a valid JSON object, counted from the
// members gjson finds.
func sumOf(obj string) objectSum {
	var o objectSum
	gjson.Parse(obj).ForEach(func(k, v gjson.Result) bool {
		o.pairs++
		o.keyLen = max(o.keyLen, len(k.Raw)-2)
		n := len(v.Raw)
		if v.Type == gjson.String {
			n -= 2
		}
		o.valLen = max(o.valLen, n)
		o.types |= 1 << typeOf(v)
		return true
	})
	return o
}
