package mapping

import (
	"slices"
	"unsafe"

	"github.com/tidwall/gjson"
	"github.com/userbridge/userbridge/internal/lex"
)

// The user a success answer shows is read through an index of its
// top-level members, made in one pass the first time a template needs one
// (see renderCtx.lookup), and firstOf's walk of an array reads its items
// in place. Both read only JSON they can prove well formed and hand
// anything else to gjson, so that what a template renders never depends on
// which of the two read it.

// maxSkipDepth bounds the nesting skipJSON follows; deeper JSON is left to
// gjson.
const maxSkipDepth = 32

// indexTop records the top-level members of the JSON object s. The first
// of duplicate keys wins, as in gjson. It reports false, and lookups go
// through gjson, for what it does not index: not an object, a key with an
// escape, more members than top holds, or what is not well-formed JSON.
func (x *userIndex) indexTop(s string) bool {
	x.ntop = 0
	i := lex.SkipSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return false
	}
	i = lex.SkipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return true
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return false
		}
		end, esc := skipString(s, i)
		if end < 0 || esc {
			return false
		}
		key := s[i+1 : end-1]
		i = lex.SkipSpace(s, end)
		if i >= len(s) || s[i] != ':' {
			return false
		}
		i = lex.SkipSpace(s, i+1)
		start := i
		if i = skipJSON(s, i, 1); i < 0 || x.ntop == len(x.top) {
			return false
		}
		x.top[x.ntop] = userMember{key, s[start:i]}
		x.ntop++
		i = lex.SkipSpace(s, i)
		if i >= len(s) {
			return false
		}
		switch s[i] {
		case '}':
			return true
		case ',':
			i = lex.SkipSpace(s, i+1)
		default:
			return false
		}
	}
}

// guardIndexes reports whether the request guard's scanner reads the
// user: what decided, before userindex.go, whether the user was indexed.
// It matters for a path below a top-level key the user holds twice, and
// only there: gjson goes on to the next member of the name when the first
// lacks the path; the index reads the first one only. The user is read as
// it was read then, indexed when the scanner reads it, by gjson
// otherwise, so that no answer changes. A user with a duplicate key is
// rare; the scan is made for it alone, once per render.
func (c *renderCtx) guardIndexes() bool {
	if c.guard == 0 {
		c.guard = 2
		if guardReads(c.user().Raw) {
			c.guard = 1
		}
	}
	return c.guard == 1
}

// guardReads is the old indexTop's scan: the top-level object's members
// read by the guard's scanner (whose checks, on a value, go beyond JSON's
// syntax: duplicate keys in nested objects, UTF-8, NUL, numbers a backend
// cannot hold), a key with an escape refused.
func guardReads(s string) bool {
	sc := scanner{b: unsafe.Slice(unsafe.StringData(s), len(s)), max: 32} // read only, within this call
	sc.ws()
	if sc.i >= len(sc.b) || sc.b[sc.i] != '{' {
		return false
	}
	sc.i++
	sc.ws()
	if sc.i < len(sc.b) && sc.b[sc.i] == '}' {
		return true
	}
	for n := 0; ; n++ {
		if sc.i >= len(sc.b) || sc.b[sc.i] != '"' {
			return false
		}
		if _, esc, err := sc.str(); err != nil || esc {
			return false
		}
		sc.ws()
		if sc.i >= len(sc.b) || sc.b[sc.i] != ':' {
			return false
		}
		sc.i++
		sc.ws()
		if sc.value(1) != nil || n == len(userIndex{}.top) {
			return false
		}
		sc.ws()
		if sc.i >= len(sc.b) {
			return false
		}
		switch sc.b[sc.i] {
		case '}':
			return true
		case ',':
			sc.i++
			sc.ws()
		default:
			return false
		}
	}
}

// skipString returns the end (after the closing quote) of the JSON string
// that starts at s[i], a quote, and whether it holds an escape; -1 when it
// is not closed or holds an escape JSON has not. What is between the
// quotes is not otherwise checked (a control character, invalid UTF-8):
// gjson finds the string's end the same way.
func skipString(s string, i int) (int, bool) {
	esc := false
	for i++; i < len(s); i++ {
		i = lex.QuoteRun(s, i)
		if i >= len(s) {
			break
		}
		switch s[i] {
		case '"':
			return i + 1, esc
		case '\\':
			esc = true
			if i+1 >= len(s) {
				return -1, esc
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+6 > len(s) {
					return -1, esc
				}
				for _, h := range []byte(s[i+2 : i+6]) {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return -1, esc
					}
				}
				i += 5
			default:
				return -1, esc
			}
		}
	}
	return -1, esc
}

// appendStringBody is lex.AppendJSONStringBody, with text that needs no
// escape (the usual case) copied as it is.
func appendStringBody(out []byte, s string) []byte {
	if lex.PlainRun(s, 0) == len(s) {
		return append(out, s...)
	}
	return lex.AppendJSONStringBody(out, s)
}

// skipJSON returns the end of the JSON value that starts at s[i], or -1
// when there is none there (or it nests deeper than maxSkipDepth).
func skipJSON(s string, i, depth int) int {
	if i >= len(s) {
		return -1
	}
	switch c := s[i]; {
	case c == '"':
		end, _ := skipString(s, i)
		return end
	case c == '{' || c == '[':
		if depth >= maxSkipDepth {
			return -1
		}
		closing := byte(']')
		if c == '{' {
			closing = '}'
		}
		i = lex.SkipSpace(s, i+1)
		if i < len(s) && s[i] == closing {
			return i + 1
		}
		for {
			if closing == '}' {
				if i >= len(s) || s[i] != '"' {
					return -1
				}
				if i, _ = skipString(s, i); i < 0 {
					return -1
				}
				if i = lex.SkipSpace(s, i); i >= len(s) || s[i] != ':' {
					return -1
				}
				i = lex.SkipSpace(s, i+1)
			}
			if i = skipJSON(s, i, depth+1); i < 0 {
				return -1
			}
			if i = lex.SkipSpace(s, i); i >= len(s) {
				return -1
			}
			switch s[i] {
			case closing:
				return i + 1
			case ',':
				i = lex.SkipSpace(s, i+1)
			default:
				return -1
			}
		}
	case c == 't':
		return skipLit(s, i, "true")
	case c == 'f':
		return skipLit(s, i, "false")
	case c == 'n':
		return skipLit(s, i, "null")
	case c == '-' || '0' <= c && c <= '9':
		return lex.NumberEnd(s, i)
	}
	return -1
}

func skipLit(s string, i int, w string) int {
	if len(s)-i < len(w) || s[i:i+len(w)] != w {
		return -1
	}
	return i + len(w)
}

// firstOfEach is what ${user.<head>.#.<item>|firstOf:list} renders, from
// the array's JSON text: the first item's <item> that is a string in list.
// An item is read in place when <item> is one plain key and the item an
// object whose keys and value hold no escape; anything else is read by
// gjson, as all of it was before.
func firstOfEach(array string, item string, list []string) value {
	plainItem := isPlainName(item)
	i := lex.SkipSpace(array, 0)
	if !plainItem || i >= len(array) || array[i] != '[' {
		return firstOfEachGJSON(array, item, list)
	}
	i = lex.SkipSpace(array, i+1)
	if i < len(array) && array[i] == ']' {
		return endOfEach(array, i, item, list)
	}
	for {
		start := i
		end, s, ok := eachItem(array, i, item)
		if end < 0 {
			return firstOfEachGJSON(array, item, list)
		}
		if !ok {
			if r := gjson.Get(array[start:end], item); r.Type == gjson.String && slices.Contains(list, r.Str) {
				return value{ok: true, isStr: true, str: r.Str}
			}
		} else if s != "" && slices.Contains(list, s[1:len(s)-1]) {
			return value{ok: true, isStr: true, str: s[1 : len(s)-1]}
		}
		if i = lex.SkipSpace(array, end); i >= len(array) {
			return firstOfEachGJSON(array, item, list)
		}
		switch array[i] {
		case ']':
			return endOfEach(array, i, item, list)
		case ',':
			i = lex.SkipSpace(array, i+1)
		default:
			return firstOfEachGJSON(array, item, list)
		}
	}
}

// endOfEach is firstOfEach's answer at the ']' at i that ends the array
// with no item found: none, when nothing but blanks follows; else what
// gjson makes of the whole text, which reads on past the bracket.
func endOfEach(array string, i int, item string, list []string) value {
	if lex.SkipSpace(array, i+1) != len(array) {
		return firstOfEachGJSON(array, item, list)
	}
	return value{}
}

// eachItem walks the item of firstOfEach's array at s[i] once, where
// skipJSON, then a scan of its members, then one of the string found read
// it three times. It returns the item's end, as skipJSON(s, i, 1) does (-1
// when it is not well-formed JSON), and, when it is, its member key: its
// value's JSON text when it is a string without escapes, "" when the first
// member key holds something else or there is none. ok is false, and the
// caller asks gjson, when the item is no object, or a key before the one
// found, or the string found, holds an escape.
func eachItem(s string, i int, key string) (end int, raw string, ok bool) {
	if i >= len(s) || s[i] != '{' {
		return skipJSON(s, i, 1), "", false
	}
	if i = lex.SkipSpace(s, i+1); i < len(s) && s[i] == '}' {
		return i + 1, "", true
	}
	// found: raw and ok are the answer (the member was found, or a key
	// with an escape came first); members after it are only skipped.
	found, ok := false, true
	for {
		if i >= len(s) || s[i] != '"' {
			return -1, "", false
		}
		kend, esc := skipString(s, i)
		if kend < 0 {
			return -1, "", false
		}
		match := !found && !esc && s[i+1:kend-1] == key
		if !found && esc {
			found, ok = true, false
		}
		if i = lex.SkipSpace(s, kend); i >= len(s) || s[i] != ':' {
			return -1, "", false
		}
		i = lex.SkipSpace(s, i+1)
		var vend int
		if match && i < len(s) && s[i] == '"' {
			var vesc bool
			if vend, vesc = skipString(s, i); vend >= 0 {
				ok = !vesc
				if ok {
					raw = s[i:vend]
				}
			}
		} else {
			vend = skipJSON(s, i, 2) // the depth of a member of the item
		}
		found = found || match
		if i = vend; i < 0 {
			return -1, "", false
		}
		if i = lex.SkipSpace(s, i); i >= len(s) {
			return -1, "", false
		}
		switch s[i] {
		case '}':
			return i + 1, raw, ok
		case ',':
			i = lex.SkipSpace(s, i+1)
		default:
			return -1, "", false
		}
	}
}

// isPlainName reports whether s is a non-empty name of letters, digits,
// '_' and '-': a gjson path that is one key, read as it is written.
func isPlainName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return s != ""
}

// firstOfEachGJSON is firstOfEach read entirely by gjson.
func firstOfEachGJSON(array string, item string, list []string) value {
	var out value
	gjson.Parse(array).ForEach(func(_, it gjson.Result) bool {
		if r := it.Get(item); r.Type == gjson.String && slices.Contains(list, r.Str) {
			out = value{ok: true, isStr: true, str: r.Str}
			return false
		}
		return true
	})
	return out
}
