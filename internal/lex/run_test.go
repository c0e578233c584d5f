package lex

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// PlainRun must stop at the first byte that is not PlainByte, wherever it
// sits in or across its eight-byte steps, for every byte value.
func TestPlainRun(t *testing.T) {
	for c := 0; c < 256; c++ {
		for p := 0; p < 24; p++ {
			for start := 0; start <= p; start += 3 {
				b := []byte(strings.Repeat("a", 24))
				b[p] = byte(c)
				want := p
				if PlainByte[c] {
					want = 24
				}
				if got := PlainRun(b, start); got != want {
					t.Fatalf("byte %#x at %d from %d: PlainRun = %d, want %d", c, p, start, got, want)
				}
			}
		}
	}
}

// PlainRun must also find the first stop when a word holds several, any
// mix of them, where a borrow from one could mark the bytes above it.
func TestPlainRunMixed(t *testing.T) {
	stops := []byte{0, 0x1f, '"', '\\', 0x80, 0xff, 0x7f, 0x20, 'a', '!', '#', '[', ']', 0x21, 0x5d}
	mixedRuns(t, "PlainRun", stops, 1, 19, PlainRun[[]byte], func(c byte) bool { return !PlainByte[c] })
}

// QuoteRun must stop at the first quote or backslash wherever it sits in
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
					want := runRef(b, start, isQuoteStop)
					if got := QuoteRun(string(b), start); got != want {
						t.Fatalf("%q from %d: QuoteRun = %d, want %d", b, start, got, want)
					}
				}
			}
		}
	}
}

// QuoteRun must also find the first stop when a word holds several, mixed
// with bytes one away from them, where a borrow could mark the bytes above.
func TestQuoteRunMixed(t *testing.T) {
	bytes := []byte{'"', '\\', '"' - 1, '"' + 1, '\\' - 1, '\\' + 1, 0, 0xff, 0x80, 'a', 0x22 ^ 0x80}
	mixedRuns(t, "QuoteRun", bytes, 3, 19, func(b []byte, i int) int { return QuoteRun(string(b), i) }, isQuoteStop)
}

// PlainRun of a string must stop where PlainRun of its bytes does (the first byte a JSON string
// escapes or that is not ASCII), for any mix of bytes.
func TestPlainLen(t *testing.T) {
	stops := []byte{0, 0x1f, 0x20, '"', '\\', '!', '#', '[', ']', 0x7f, 0x80, 0xa2, 0xdc, 0xff, 'a'}
	rng := rand.New(rand.NewPCG(5, 6))
	for n := 0; n < 200000; n++ {
		b := make([]byte, rng.IntN(27))
		for i := range b {
			b[i] = stops[rng.IntN(len(stops))]
		}
		if got, want := PlainRun(string(b), 0), PlainRun(b, 0); got != want {
			t.Fatalf("%q: PlainRun of the string = %d, of the bytes %d", b, got, want)
		}
	}
}

// TextRun must stop at the first quote, backslash or control character,
// and nowhere else (bytes that are not ASCII included), wherever it sits
// in or across its eight-byte steps, for every byte value, alone and among
// others.
func TestTextRun(t *testing.T) {
	stop := func(c byte) bool { return c < 0x20 || c == '"' || c == '\\' }
	for c := 0; c < 256; c++ {
		for p := 0; p < 24; p++ {
			for start := 0; start <= p; start += 3 {
				b := []byte(strings.Repeat("\xe9", 24))
				b[p] = byte(c)
				want := 24
				if stop(byte(c)) {
					want = p
				}
				if got := TextRun(b, start); got != want {
					t.Fatalf("byte %#x at %d from %d: TextRun = %d, want %d", c, p, start, got, want)
				}
				if got := TextRun(string(b), start); got != want {
					t.Fatalf("byte %#x at %d from %d: TextRun of the string = %d, want %d", c, p, start, got, want)
				}
			}
		}
	}
	stops := []byte{0, 0x1f, 0x20, 0x21, '"', '\\', '"' + 1, '\\' - 1, 0x7f, 0x80, 0x9f, 0xa0, 0xa2, 0xdc, 0xff, 'a'}
	mixedRuns(t, "TextRun", stops, 7, 21, TextRun[[]byte], stop)
}

// runRef is what a run scan must return, a byte at a time: the index of the
// first byte from start that stop holds, or len(b).
func runRef(b []byte, start int, stop func(byte) bool) int {
	for start < len(b) && !stop(b[start]) {
		start++
	}
	return start
}

// isQuoteStop is QuoteRun's stop: a quote or a backslash.
func isQuoteStop(c byte) bool { return c == '"' || c == '\\' }

// mixedRuns checks scan against runRef on 200,000 random texts of size
// bytes drawn from alphabet (seeded with seed), each from a random start:
// several stops in one word, mixed with bytes one away from them, where a
// borrow could mark the bytes above.
func mixedRuns(t *testing.T, name string, alphabet []byte, seed uint64, size int, scan func([]byte, int) int, stop func(byte) bool) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, size)
	for n := 0; n < 200000; n++ {
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		start := rng.IntN(len(b))
		if got, want := scan(b, start), runRef(b, start, stop); got != want {
			t.Fatalf("%q from %d: %s = %d, want %d", b, start, name, got, want)
		}
	}
}
