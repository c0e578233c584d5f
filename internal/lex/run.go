package lex

import (
	"math/bits"
	"unicode/utf8"
)

// The scans below find, eight bytes a step, where a run of bytes a JSON
// reader can pass over ends. Each tests a whole word with carry-free
// arithmetic: a borrow can mark a byte above one that stops the run, never
// one below it, so the lowest marked byte is the first stop. The last few
// bytes go one a step.

// PlainRun returns the index of the first byte of b from i on that is not
// PlainByte (a quote, a backslash, a control character or a byte that is
// not ASCII), or len(b).
func PlainRun[T ~string | ~[]byte](b T, i int) int {
	for ; i+8 <= len(b); i += 8 {
		x := word(b, i)
		// The high bit of each byte that is < 0x20 (the "has a byte less
		// than n" test), a zero of x^'"' or x^'\\' (the quote, the
		// backslash), or >= 0x80 (its own high bit).
		if m := ((x-0x20*ones)&^x | zeroBytes(x^('"'*ones)) | zeroBytes(x^('\\'*ones)) | x) & highs; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(b) && PlainByte[b[i]] {
		i++
	}
	return i
}

// TextRun returns the index of the first quote, backslash or control
// character (< 0x20) in b from i on, or len(b): the end of what a JSON
// string holds as it is, bytes that are not ASCII included (whose UTF-8 is
// the caller's to check).
func TextRun[T ~string | ~[]byte](b T, i int) int {
	for ; i+8 <= len(b); i += 8 {
		if m := TextStops(word(b, i)); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(b) && b[i] >= 0x20 && b[i] != '"' && b[i] != '\\' {
		i++
	}
	return i
}

// TextStops marks where in x, eight bytes of a JSON string (the first the
// lowest, as binary.LittleEndian reads them), TextRun would stop: its
// lowest set bit, if any, is the high bit of the first quote, backslash or
// control character (bits above it mean nothing). It is TextRun's step,
// for a scan that inlines its own loop.
func TextStops(x uint64) uint64 {
	// As PlainRun's, less a byte's own high bit: &^x keeps a byte at or
	// over 0x80 out of the "less than 0x20" test.
	return ((x-0x20*ones)&^x | zeroBytes(x^('"'*ones)) | zeroBytes(x^('\\'*ones))) & highs
}

// QuoteRun returns the index of the first quote or backslash in s from i
// on, or len(s).
func QuoteRun[T ~string | ~[]byte](s T, i int) int {
	for ; i+8 <= len(s); i += 8 {
		x := word(s, i)
		if m := (zeroBytes(x^('"'*ones)) | zeroBytes(x^('\\'*ones))) & highs; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(s) && s[i] != '"' && s[i] != '\\' {
		i++
	}
	return i
}

// The constants of the eight-bytes-a-step scans: a one, and a high bit,
// in each byte of a word.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// word is the eight bytes of b from i, the first the lowest.
func word[T ~string | ~[]byte](b T, i int) uint64 {
	w := b[i : i+8]
	return uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
		uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
}

// zeroBytes has, among others, the high bit of each zero byte of x set (a
// borrow may mark a byte above a zero, never one below it): ANDed with
// highs, its lowest bit set is x's first zero byte.
func zeroBytes(x uint64) uint64 { return (x - ones) &^ x }

// PlainByte marks the bytes a JSON string holds as they are, and that are
// ASCII: printable ASCII but the quote and the backslash.
var PlainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()
