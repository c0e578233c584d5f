package mapping

import (
	"math/rand/v2"
	"testing"
)

var firstOfSeeds = []string{
	``, `null`, `[]`, ` [ ] `, `{}`, `"ROLE_ADMIN"`, `[{"name":"ROLE_ADMIN"}]`,
	// Text after the array (never from lookup, but gjson reads on).
	`[],{"name":"ROLE_ADMIN"}`, `[] {"name":"ROLE_ADMIN"}`, `[{"name":"x"}],{"name":"ROLE_ADMIN"}`, `[]["" {`, `[] `,
	`[{"id":"r","name":"ROLE_X"},{"name":"ROLE_MERCHANT"}]`, `[1,"ROLE_ADMIN",null,{"name":1},{"name":"ROLE_ADMIN"}]`,
	`[{"name":"ROLE_MERCHANT","name":"ROLE_ADMIN"}]`, `[{"name":1,"name":"ROLE_ADMIN"},{"name":"ROLE_PARTNER"}]`,
	`[{"n\u0061me":"ROLE_ADMIN"},{"name":"ROLE_PARTNER"}]`, `[{"name":"ROLE_\u0041DMIN"}]`,
	`{"a":{"name":"ROLE_ADMIN"}}`, `[[{"name":"ROLE_ADMIN"}],{"x":{"name":"ROLE_ADMIN"}}]`,
	`[{"name":"ROLE_ADMIN"}`, `[{"name":"ROLE_ADMIN"},]`, `[{"name" "ROLE_ADMIN"}]`, `[{"name":"ROLE_ADMIN"}]x`,
	`[{"name":01},{"name":"ROLE_ADMIN"}]`, `[ { "name" : "ROLE_ADMIN" } ]`, `[{"":"ROLE_ADMIN"}]`,
}

// firstOfEach must answer what gjson's walk of the same text answers, for
// any text and any item path.
func checkFirstOfEach(t *testing.T, array, item string) {
	t.Helper()
	list := []string{"ROLE_ADMIN", "ROLE_PARTNER", "ROLE_MERCHANT", ""}
	got, want := firstOfEach(array, item, list), firstOfEachGJSON(array, item, list)
	if got != want {
		t.Fatalf("firstOfEach(%q, %q) = %+v, gjson %+v", array, item, got, want)
	}
}

func TestFirstOfEach(t *testing.T) {
	for _, s := range firstOfSeeds {
		for _, item := range []string{"name", "id", "", "a.name", "n*", "0"} {
			checkFirstOfEach(t, s, item)
		}
	}
}

func FuzzFirstOfEach(f *testing.F) {
	for _, s := range firstOfSeeds {
		f.Add(s, "name")
	}
	f.Fuzz(func(t *testing.T, array, item string) { checkFirstOfEach(t, array, item) })
}

// quoteRun must stop at the first quote or backslash wherever it sits in
// or across its eight-byte steps, whatever the bytes around it.
func TestQuoteRun(t *testing.T) {
	for _, c := range []byte{'"', '\\', 0, 0x21, 0x5b, 0x5d, 0x5c ^ 0x80, 0xa2, 0xff, 0x01} {
		for _, fill := range []byte{'a', 0, 0xff, '"' + 1, '\\' - 1, 0x80} {
			for p := 0; p < 24; p++ {
				for start := 0; start <= p; start += 3 {
					b := make([]byte, 24)
					for i := range b {
						b[i] = fill
					}
					b[p] = c
					want := start
					for want < len(b) && b[want] != '"' && b[want] != '\\' {
						want++
					}
					if got := quoteRun(string(b), start); got != want {
						t.Fatalf("%q from %d: quoteRun = %d, want %d", b, start, got, want)
					}
				}
			}
		}
	}
}

// quoteRun must also find the first stop when a word holds several, mixed
// with bytes one away from them, where a borrow could mark the bytes above.
func TestQuoteRunMixed(t *testing.T) {
	bytes := []byte{'"', '\\', '"' - 1, '"' + 1, '\\' - 1, '\\' + 1, 0, 0xff, 0x80, 'a', 0x22 ^ 0x80}
	rng := rand.New(rand.NewPCG(3, 4))
	b := make([]byte, 19)
	for n := 0; n < 200000; n++ {
		for i := range b {
			b[i] = bytes[rng.IntN(len(bytes))]
		}
		start := rng.IntN(len(b))
		want := start
		for want < len(b) && b[want] != '"' && b[want] != '\\' {
			want++
		}
		if got := quoteRun(string(b), start); got != want {
			t.Fatalf("%q from %d: quoteRun = %d, want %d", b, start, got, want)
		}
	}
}

// plainRun of a string must stop where plainRun of its bytes does (the first byte a JSON string
// escapes or that is not ASCII), for any mix of bytes.
func TestPlainLen(t *testing.T) {
	stops := []byte{0, 0x1f, 0x20, '"', '\\', '!', '#', '[', ']', 0x7f, 0x80, 0xa2, 0xdc, 0xff, 'a'}
	rng := rand.New(rand.NewPCG(5, 6))
	for n := 0; n < 200000; n++ {
		b := make([]byte, rng.IntN(27))
		for i := range b {
			b[i] = stops[rng.IntN(len(stops))]
		}
		if got, want := plainRun(string(b), 0), plainRun(b, 0); got != want {
			t.Fatalf("%q: plainRun of the string = %d, of the bytes %d", b, got, want)
		}
	}
}
