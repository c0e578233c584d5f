package mapping

import (
	"unicode/utf8"

	"github.com/userbridge/userbridge/internal/lex"
)

// objectWalk steps through the members of an object's JSON text that is
// known to be valid (a value of a body the guard accepted): the map
// validators read every member of an object, and gjson's generic parser
// (ForEach) costs several times what a walk that need not check anything
// does. On text that is not valid JSON it stops early; it never reads out
// of bounds. The strings it returns are views of the text.
type objectWalk struct {
	s string
	i int
}

// walkObject starts a walk of obj, the text of a JSON object ('{' first).
func walkObject(obj string) objectWalk { return objectWalk{s: obj, i: 1} }

// next reads the next member: its key's JSON string (quotes included, as
// written) and whether it holds an escape, and its value's text. ok is
// false after the last member.
func (w *objectWalk) next() (key string, kesc bool, val string, ok bool) {
	s := w.s
	i := lex.SkipSpace(s, w.i)
	if i >= len(s) || s[i] != '"' {
		return "", false, "", false
	}
	end, kesc := skipString(s, i)
	if end < 0 {
		return "", false, "", false
	}
	key = s[i:end]
	i = lex.SkipSpace(s, end)
	if i >= len(s) || s[i] != ':' {
		return "", false, "", false
	}
	at := lex.SkipSpace(s, i+1)
	i = passValue(s, at)
	if i > len(s) || i <= at {
		return "", false, "", false
	}
	val = s[at:i]
	i = lex.SkipSpace(s, i)
	if i < len(s) && s[i] == ',' {
		i++
	}
	w.i = i
	return key, kesc, val, true
}

// passValue returns the index just past the JSON value that starts at s[i]
// (valid JSON: no whitespace before it); past len(s) when it is not closed.
// Strings are skipped as skipString skips them; objects and arrays to any
// depth (the guard bounded it), unlike skipJSON.
func passValue(s string, i int) int {
	if i >= len(s) {
		return len(s) + 1
	}
	switch s[i] {
	case '"':
		if end, _ := skipString(s, i); end >= 0 {
			return end
		}
		return len(s) + 1
	case '{', '[':
		depth := 0
		for i < len(s) {
			switch s[i] {
			case '"':
				if i, _ = skipString(s, i); i < 0 {
					return len(s) + 1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(s) + 1
	case 't', 'n':
		return i + 4
	case 'f':
		return i + 5
	}
	// A number: its digits, sign, point and exponent.
	for i < len(s) && numberByte(s[i]) {
		i++
	}
	return i
}

// numberByte reports whether c may be part of a JSON number.
func numberByte(c byte) bool {
	return '0' <= c && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// decodedAbove reports whether the JSON string contents raw (between the
// quotes) have more than n characters once decoded, counting them only
// when raw's length cannot tell (no character is shorter decoded than
// written).
func decodedAbove(raw string, n int) bool {
	return len(raw) > n && decodedRunes(raw) > n
}

// decodedRunes is utf8.RuneCountInString of the JSON string contents raw
// decoded as gjson decodes them, without decoding: an escape is one
// character, a \u escape of a UTF-16 surrogate pair too (gjson joins a
// high surrogate with a low one that follows, and writes anything else as
// one character); the bytes between escapes count as RuneCountInString
// counts them (an escape's decoding is whole characters, so it never joins
// with the bytes around it).
func decodedRunes(raw string) int {
	n := 0
	for i := 0; i < len(raw); {
		j := lex.PlainRun(raw, i)
		n += j - i
		if i = j; i >= len(raw) {
			break
		}
		n++
		switch c := raw[i]; {
		case c == '\\' && i+1 < len(raw) && raw[i+1] == 'u':
			i += 6
			if i <= len(raw) && highSurrogate(raw[i-4:]) && i+6 <= len(raw) &&
				raw[i] == '\\' && raw[i+1] == 'u' && lowSurrogate(raw[i+2:]) {
				i += 6
			}
		case c == '\\':
			i += 2
		case c < utf8.RuneSelf:
			i++
		default:
			_, size := utf8.DecodeRuneInString(raw[i:])
			i += size
		}
	}
	return n
}

// highSurrogate reports whether the four hexadecimal digits h starts with
// are a UTF-16 high surrogate (D800-DBFF).
func highSurrogate(h string) bool {
	return (h[0] == 'd' || h[0] == 'D') && ('8' <= h[1] && h[1] <= '9' || h[1] == 'a' || h[1] == 'A' || h[1] == 'b' || h[1] == 'B') &&
		lex.IsHex(h[2]) && lex.IsHex(h[3])
}

// lowSurrogate reports whether the four hexadecimal digits h starts with
// are a UTF-16 low surrogate (DC00-DFFF).
func lowSurrogate(h string) bool {
	return len(h) >= 4 && (h[0] == 'd' || h[0] == 'D') && ('c' <= h[1] && h[1] <= 'f' || 'C' <= h[1] && h[1] <= 'F') &&
		lex.IsHex(h[2]) && lex.IsHex(h[3])
}
