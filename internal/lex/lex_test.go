package lex

import (
	"encoding/json"
	"testing"
)

func TestAppendJSONStringIsJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote`, `back\slash`, "nl\n\r\t", "\x00\x1f\x7f", "é€😀", "bad\xffutf8", "\xc0\xaf"} {
		out := AppendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q: %s is not a JSON string: %v", s, out, err)
		}
		want, _ := json.Marshal(s) // encoding/json replaces invalid UTF-8 too
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("%q: decoded %q, want %q", s, back, wantBack)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add("a\"b\\c\x01\xff")
	f.Fuzz(func(t *testing.T, s string) {
		var back string
		if err := json.Unmarshal(AppendJSONString(nil, s), &back); err != nil {
			t.Fatalf("%q: not JSON: %v", s, err)
		}
	})
}

func TestIsHex(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
		if IsHex(byte(c)) != want {
			t.Errorf("IsHex(%#x) = %v", c, !want)
		}
	}
}

func TestAppendObjectKey(t *testing.T) {
	out := []byte{'{'}
	out = AppendObjectKey(out, "a")
	out = append(out, '1')
	out = AppendObjectKey(out, `b"`)
	out = append(out, "2}"...)
	if string(out) != `{"a":1,"b\"":2}` {
		t.Errorf("%s", out)
	}
}

func TestOpensObject(t *testing.T) {
	for b, want := range map[string]bool{`{}`: true, " \t\r\n{": true, `{"a":`: true, ``: false, ` `: false,
		`[{}]`: false, `"{"`: false, "\v{": false, "\u00a0{": false, `x{`: false} {
		if got := OpensObject([]byte(b)); got != want {
			t.Errorf("OpensObject(%q) = %v, want %v", b, got, want)
		}
	}
}

func TestSkipSpace(t *testing.T) {
	for s, want := range map[string]int{``: 0, `x`: 0, " \t\r\nx": 4, "    ": 4, "\v x": 0, "\u00a0x": 0, " \f": 1} {
		if got := SkipSpace(s, 0); got != want {
			t.Errorf("SkipSpace(%q) = %d, want %d", s, got, want)
		}
		if got := SkipSpace([]byte(s), 0); got != want {
			t.Errorf("SkipSpace of the bytes %q = %d, want %d", s, got, want)
		}
	}
	if got := SkipSpace("ab  c", 2); got != 4 {
		t.Errorf("from 2: %d, want 4", got)
	}
}

// TestNumberEnd: RFC 8259's number grammar, as text and as bytes.
func TestNumberEnd(t *testing.T) {
	for _, c := range []struct {
		in  string
		end int
	}{
		{"0", 1}, {"-0", 2}, {"12", 2}, {"12,", 2}, {"1.5}", 3}, {"-1.5e10", 7}, {"1E+2", 4}, {"1e-2 ", 4},
		{"01", 1}, {"-", -1}, {"-a", -1}, {"+1", -1}, {".5", -1}, {"1.", -1}, {"1.e2", -1}, {"1e", -1}, {"1e+", -1}, {"", -1}, {"x", -1},
	} {
		if got := NumberEnd(c.in, 0); got != c.end {
			t.Errorf("NumberEnd(%q) = %d, want %d", c.in, got, c.end)
		}
		if got := NumberEnd([]byte(c.in), 0); got != c.end {
			t.Errorf("NumberEnd([]byte(%q)) = %d, want %d", c.in, got, c.end)
		}
	}
}
