package mapping

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzGuard checks the guard against encoding/json: whatever it accepts is
// valid JSON and valid UTF-8, and valid JSON it refuses is refused for one
// of its own reasons (depth, a duplicate key, a lone surrogate escape, a
// value no backend can hold).
func FuzzGuard(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":"b"}`, `{"a":"\u00e9\ud83d\ude00","b":[1,2.5e3,true,null]}`,
		`{"a":1,"a":2}`, `"\ud800"`, "{\"k\":\"\xff\"}", `[[[[]]]]`, `{"x":"tab\there"}`, `{"é":"ü"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := Guard{MaxDepth: 8}.Check(b)
		valid := json.Valid(b) && utf8.Valid(b)
		if err == nil && !valid {
			t.Fatalf("accepted invalid %q", b)
		}
		if err != nil && valid {
			switch {
			case err.Duplicate, err.Unholdable, strings.HasPrefix(err.Reason, "JSON nested deeper"),
				err.Reason == "lone UTF-16 surrogate in string":
			default:
				t.Fatalf("refused valid %q: %v", b, err)
			}
		}
	})
}
