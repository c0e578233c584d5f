package canonical

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
	"strings"
	"unicode/utf8"

	"github.com/userbridge/userbridge/internal/lex"
)

// walk is CheckAnswer's fast path: one walk over user that reports true
// only when user is certainly a valid canonical user (ValidateUser would
// return nil), keeping its id, username and tenant for addressed. On any
// doubt (a fault, an escape in a key or in the id, username or tenant, more
// keys than it tracks, a timestamp of a form it does not read, a text its
// int32 offsets cannot address) it reports
// false and CheckAnswer asks checkAnswer, which says what is wrong, if
// anything. It allocates nothing; s, which holds parts of user, is the
// caller's for this call only.
func (s *answerScan) walk(user []byte) bool {
	if len(user) > math.MaxInt32 || !utf8.Valid(user) { // offsets are int32
		return false
	}
	s.doc = user
	i := s.user()
	return i >= 0 && lex.SkipSpace(user, i) == len(user) // else more than one JSON value
}

// addressed is checkAnswer's verdict on the user s walked: whether it is
// the one want addresses.
func (s *answerScan) addressed(want Addressed) *AnswerError {
	got := s.id
	if want.Target == ByUsername {
		got = s.username
	}
	switch {
	case len(got) == 0:
		return &AnswerError{Fault: FaultUnidentified}
	case want.Target == ByUsername:
		if string(got) != want.Value && !strings.EqualFold(string(got), want.Value) {
			return &AnswerError{Fault: FaultOtherUser}
		}
	case string(got) != want.Value:
		return &AnswerError{Fault: FaultOtherUser}
	}
	if want.Tenant != "" && len(s.tenant) != 0 && string(s.tenant) != want.Tenant {
		return &AnswerError{Fault: FaultOtherUser}
	}
	return nil
}

// answerScan walks a JSON text, validating it as gjson.ValidBytes does
// (a subset of what it accepts: RFC 8259) and counting its depth as
// WithinDepth does.
type answerScan struct {
	doc []byte
	// keys holds the keys of the objects being walked below the top
	// level, innermost last, to find a duplicate; nkeys is how many.
	// Offsets are int32 (walk refuses a longer text) to halve what a
	// walk zeroes.
	keys  [64]struct{ from, to int32 }
	nkeys int
	// The top-level id, username and tenant when they are strings without
	// escapes (sub-slices of doc, for this walk only).
	id, username, tenant []byte
	// span is each top-level member's value's span (members.go).
	span [numMembers]struct{ from, to int32 }
}

// The kinds of the top-level members of a canonical user (memberKind).
const (
	kindString   = iota // a writable string field
	kindBool            // a writable boolean field
	kindObject          // address, attributes
	kindRoles           // roles
	kindExt             // extensions
	kindReadOnly        // id, tenant, createdBy: a string or null
	kindTime            // createdAt, updatedAt, lastLoginAt
)

// Each step of the walk takes the index of where it starts in doc and
// returns the index past what it read, or -1: its place is a local,
// handed from step to step, where a field of s would be stored and loaded
// again at every step.

// user walks the top-level object (depth 1).
//
// It and roles, the bulk of a user, step over blanks, colons and commas
// themselves (lex.SkipSpace is inlined), where the other objects and
// arrays call next and colon: a call per step was a tenth of the walk.
func (s *answerScan) user() int {
	doc := s.doc
	i := lex.SkipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return -1
	}
	if i = lex.SkipSpace(doc, i+1); i < len(doc) && doc[i] == '}' {
		return i + 1
	}
	var seen uint32
	for {
		if i >= len(doc) || doc[i] != '"' {
			return -1
		}
		idx, n := memberAt(doc, i+1)
		if idx < 0 || seen&(1<<idx) != 0 {
			return -1
		}
		seen |= 1 << idx
		if i = lex.SkipSpace(doc, i+n+2); i >= len(doc) || doc[i] != ':' {
			return -1
		}
		if i = lex.SkipSpace(doc, i+1); i >= len(doc) {
			return -1
		}
		start := i
		if i = s.userValue(i, idx); i < 0 {
			return -1
		}
		s.span[idx] = struct{ from, to int32 }{int32(start), int32(i)}
		if i = lex.SkipSpace(doc, i); i >= len(doc) {
			return -1
		}
		if doc[i] == '}' {
			return i + 1
		}
		if doc[i] != ',' {
			return -1
		}
		i = lex.SkipSpace(doc, i+1)
	}
}

// next steps over whitespace from i, just past the opening of an object
// or an array (first) or past one of its items, to its next item: it
// returns the index of the item's first byte and more true (ok false when
// there is none), or the index past close, the closing brace or bracket,
// and more false.
func next(doc []byte, i int, first bool, close byte) (j int, more, ok bool) {
	i = lex.SkipSpace(doc, i)
	if i < len(doc) && doc[i] == close {
		return i + 1, false, true
	}
	if !first {
		if i >= len(doc) || doc[i] != ',' {
			return i, false, false
		}
		i = lex.SkipSpace(doc, i+1)
	}
	return i, true, i < len(doc)
}

// colon steps from i, just past a key, over whitespace, the colon and
// whitespace, to the member's value: its index, or -1 if it is not there.
func colon(doc []byte, i int) int {
	if i = lex.SkipSpace(doc, i); i >= len(doc) || doc[i] != ':' {
		return -1
	}
	if i = lex.SkipSpace(doc, i+1); i >= len(doc) {
		return -1
	}
	return i
}

// extensions walks, from i, {dialect: {name: value}}
// (fieldSet.validateExtensions): valid names, unique keys everywhere,
// values not null and holdable (checkHoldable).
func (s *answerScan) extensions(i int) int {
	doc := s.doc
	if doc[i] != '{' {
		return -1
	}
	i++
	base := s.nkeys
	for first := true; ; first = false {
		var more, ok bool
		if i, more, ok = next(doc, i, first, '}'); !ok {
			return -1
		} else if !more {
			s.nkeys = base
			return i
		}
		end := key(doc, i)
		if end < 0 || !validDialectName(doc[i+1:end-1]) || !s.newKey(base, i+1, end-1) {
			return -1
		}
		if i = colon(doc, end); i < 0 || doc[i] != '{' {
			return -1
		}
		i++
		inner := s.nkeys
		for first := true; ; first = false {
			if i, more, ok = next(doc, i, first, '}'); !ok {
				return -1
			} else if !more {
				break
			}
			end := key(doc, i)
			if end < 0 || !validMemberName(doc[i+1:end-1]) || !s.newKey(inner, i+1, end-1) {
				return -1
			}
			if i = colon(doc, end); i < 0 || doc[i] == 'n' { // null, or not JSON
				return -1
			}
			if i = s.value(i, 4, true); i < 0 {
				return -1
			}
		}
		s.nkeys = inner
	}
}

// value walks any JSON value at doc[i]; depth is the depth an object or an
// array there has. hold refuses what checkHoldable refuses, and more.
func (s *answerScan) value(i, depth int, hold bool) int {
	doc := s.doc
	if i >= len(doc) {
		return -1
	}
	switch c := doc[i]; {
	case c == '"':
		end, _, ok := scanString(doc, i+1, hold)
		if !ok {
			return -1
		}
		return end
	case c == '-' || c >= '0' && c <= '9':
		return number(doc, i, hold)
	case c == 't':
		return literal(doc, i, "true")
	case c == 'f':
		return literal(doc, i, "false")
	case c == 'n':
		return literal(doc, i, "null")
	case depth > MaxDepth:
		return -1
	case c == '[':
		i++
		for first := true; ; first = false {
			var more, ok bool
			if i, more, ok = next(doc, i, first, ']'); !ok {
				return -1
			} else if !more {
				return i
			}
			if i = s.value(i, depth+1, hold); i < 0 {
				return -1
			}
		}
	case c == '{':
		// Its steps written out, as user's are: address and attributes
		// take this way.
		base := s.nkeys
		if i = lex.SkipSpace(doc, i+1); i < len(doc) && doc[i] == '}' {
			return i + 1
		}
		for {
			if i >= len(doc) {
				return -1
			}
			end := key(doc, i)
			if end < 0 || !s.newKey(base, i+1, end-1) {
				return -1
			}
			if i = lex.SkipSpace(doc, end); i >= len(doc) || doc[i] != ':' {
				return -1
			}
			if i = s.value(lex.SkipSpace(doc, i+1), depth+1, hold); i < 0 {
				return -1
			}
			if i = lex.SkipSpace(doc, i); i >= len(doc) {
				return -1
			}
			if doc[i] == '}' {
				s.nkeys = base
				return i + 1
			}
			if doc[i] != ',' {
				return -1
			}
			i = lex.SkipSpace(doc, i+1)
		}
	}
	return -1
}

// newKey records the key doc[from:to] of the object whose keys start at
// base, and reports whether it is new there (and there was room for it).
func (s *answerScan) newKey(base, from, to int) bool {
	key := s.doc[from:to]
	for _, k := range s.keys[base:s.nkeys] {
		if bytes.Equal(s.doc[k.from:k.to], key) {
			return false
		}
	}
	if s.nkeys == len(s.keys) {
		return false
	}
	s.keys[s.nkeys].from, s.keys[s.nkeys].to = int32(from), int32(to)
	s.nkeys++
	return true
}

// key walks the key at doc[i] (where next stopped) and returns the index
// past its closing quote, or -1. A key with an escape is a doubt: -1.
func key(doc []byte, i int) int {
	if doc[i] != '"' {
		return -1
	}
	end, plain, ok := scanString(doc, i+1, false)
	if !ok || !plain {
		return -1
	}
	return end
}

// scanString walks the contents of the string that start at doc[i], past
// its opening quote, and returns the index past its closing quote and
// whether it holds no escape, or ok false. hold refuses \u0000.
func scanString(doc []byte, i int, hold bool) (end int, plain, ok bool) {
	// The common string, without an escape, ends in the first word or
	// two: the loop of lex.TextRun, here so that it is not a call.
	for ; i+8 <= len(doc); i += 8 {
		x := binary.LittleEndian.Uint64(doc[i:])
		if m := lex.TextStops(x); m != 0 {
			// m's lowest bit is the high bit of the stop's byte: the
			// byte is x shifted by the seven bits below it, read from
			// the word rather than from doc again.
			stop := bits.TrailingZeros64(m)
			if i += stop / 8; byte(x>>(stop-7)) == '"' {
				return i + 1, true, true
			}
			return scanEscaped(doc, i, hold)
		}
	}
	return scanEscaped(doc, i, hold)
}

// scanEscaped is scanString from doc[i] on, where an escape may be.
func scanEscaped(doc []byte, i int, hold bool) (end int, plain, ok bool) {
	plain = true
	for {
		// Past what the string holds as it is (UTF-8 checked before the
		// walk), to its end, an escape or a control character.
		if i = lex.TextRun(doc, i); i >= len(doc) {
			return 0, false, false
		}
		switch doc[i] {
		case '"':
			return i + 1, plain, true
		case '\\':
		default: // a control character
			return 0, false, false
		}
		plain = false
		if i++; i >= len(doc) {
			return 0, false, false
		}
		switch doc[i] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i++
		case 'u':
			if len(doc)-i < 5 {
				return 0, false, false
			}
			hex := doc[i+1 : i+5]
			for _, h := range hex {
				if !lex.IsHex(h) {
					return 0, false, false
				}
			}
			if hold && string(hex) == "0000" {
				return 0, false, false
			}
			i += 5
		default:
			return 0, false, false
		}
	}
}

// number walks the number at doc[i] and returns the index past it, or -1.
// hold refuses what NumberProblem might: an exponent, or 16 characters or
// more.
func number(doc []byte, i int, hold bool) int {
	end := lex.NumberEnd(doc, i)
	if end < 0 || hold && (end-i >= len(maxSafeDigits) || bytes.ContainsAny(doc[i:end], "eE")) {
		return -1
	}
	return end
}

// hasAt reports whether doc holds lit at i.
func hasAt(doc []byte, i int, lit string) bool {
	return len(doc)-i >= len(lit) && string(doc[i:i+len(lit)]) == lit
}

// literal walks lit (true, false, null) at doc[i], or returns -1.
func literal(doc []byte, i int, lit string) int {
	if !hasAt(doc, i, lit) {
		return -1
	}
	return i + len(lit)
}
