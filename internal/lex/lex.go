// Package lex holds the byte-level helpers every part of userbridge shares:
// JSON string escaping, hex digits and the rule that says a name holds a
// secret (SecretName). One copy of each, so that the
// answers userbridge writes by hand escape alike wherever they are built.
package lex

import "unicode/utf8"

// AppendJSONString appends s to dst as a JSON string, quotes included.
// Bytes that are not valid UTF-8 become U+FFFD, as encoding/json writes
// them, so the result is always valid JSON.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = AppendJSONStringBody(dst, s)
	return append(dst, '"')
}

// AppendJSONStringBody appends s escaped for the inside of a JSON string:
// the quote, the backslash and control characters escaped, invalid UTF-8
// replaced by U+FFFD.
func AppendJSONStringBody(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, "\ufffd"...)
				i += size
				start = i
				continue
			}
			i += size
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	return append(dst, s[start:]...)
}

// JSONString is s as a JSON string, quotes included.
func JSONString(s string) string {
	return string(AppendJSONString(make([]byte, 0, len(s)+2), s))
}

// IsHex reports whether c is a hexadecimal digit.
func IsHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// AppendObjectKey appends a JSON object member's key and its colon to dst,
// an object being written: after a comma unless dst has no member yet
// (ends with '{').
func AppendObjectKey(dst []byte, name string) []byte {
	if len(dst) > 0 && dst[len(dst)-1] != '{' {
		dst = append(dst, ',')
	}
	return append(AppendJSONString(dst, name), ':')
}

// OpensObject reports whether the first byte of b that is not JSON
// whitespace opens an object: all a valid JSON document needs to be told
// an object, and the first of what an answer must be to be one.
func OpensObject(b []byte) bool {
	i := SkipSpace(b, 0)
	return i < len(b) && b[i] == '{'
}

// SkipSpace returns the index of the first byte of b from i on that is not
// JSON whitespace (space, tab, line feed, carriage return), or len(b).
func SkipSpace[T ~string | ~[]byte](b T, i int) int {
	// b[i] <= ' ' first: every blank is, and most bytes a scan meets
	// (a quote, a brace, a letter) are not, so they cost one comparison.
	for i < len(b) && b[i] <= ' ' && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// NumberEnd returns the index just past the JSON number that starts at
// b[i] (RFC 8259 §6: an optional minus, an integer without leading zeros,
// an optional fraction and exponent), or -1 when what is there is not
// written as JSON writes a number.
func NumberEnd[T ~string | ~[]byte](b T, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digitsEnd(b, i)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := digitsEnd(b, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digitsEnd(b, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

// digitsEnd is the index past the ASCII digits from b[i] on.
func digitsEnd[T ~string | ~[]byte](b T, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}
