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
	if !s.user() {
		return false
	}
	s.ws()
	return s.i == len(s.doc) // else more than one JSON value
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
	i   int
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

// The walk of the top level and of roles, the bulk of a user, keeps its
// place in a local i, handed from step to step, rather than in s.i, which
// it would store and load again at every step; the rest (address,
// attributes, extensions) goes through the methods below, s.i set first.

// user walks the top-level object (depth 1).
func (s *answerScan) user() bool {
	doc := s.doc
	i := lex.SkipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return false
	}
	i++
	var seen uint32
	for first := true; ; first = false {
		var more, ok bool
		if i, more, ok = next(doc, i, first, '}'); !ok || !more {
			s.i = i
			return ok
		}
		if doc[i] != '"' {
			return false
		}
		idx, n := memberAt(doc, i+1)
		if idx < 0 || seen&(1<<idx) != 0 {
			return false
		}
		seen |= 1 << idx
		if i = colon(doc, i+n+2); i < 0 {
			return false
		}
		start := i
		if i = s.userValue(i, idx); i < 0 {
			return false
		}
		s.span[idx] = struct{ from, to int32 }{int32(start), int32(i)}
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

// userValue walks the value at doc[i] of the top-level member of index
// idx, and returns the index past it, or -1.
func (s *answerScan) userValue(i, idx int) int {
	doc, c := s.doc, s.doc[i]
	switch memberKind[idx] {
	case kindString:
		if c != '"' {
			return -1
		}
		end, plain, ok := scanString(doc, i+1, false)
		switch {
		case !ok:
			return -1
		case idx == memberUsername:
			if !plain {
				return -1
			}
			s.username = doc[i+1 : end-1]
		}
		return end
	case kindBool:
		if c == 't' && hasAt(doc, i, "true") {
			return i + len("true")
		}
		if c == 'f' && hasAt(doc, i, "false") {
			return i + len("false")
		}
		return -1
	case kindObject:
		s.i = i
		if c != '{' || !s.value(2, false) {
			return -1
		}
		return s.i
	case kindRoles:
		return s.roles(i)
	case kindExt:
		s.i = i
		if !s.extensions() {
			return -1
		}
		return s.i
	}
	// A read-only member: a string or null.
	if c == 'n' && hasAt(doc, i, "null") {
		return i + len("null")
	}
	if c != '"' {
		return -1
	}
	if memberKind[idx] == kindTime {
		// Read in place: what rfc3339 accepts holds no quote, backslash
		// or control character, so its end is the string's.
		if n := rfc3339Len(doc[i+1:]); n >= 0 && i+1+n < len(doc) && doc[i+1+n] == '"' {
			return i + n + 2
		}
		return -1
	}
	end, plain, ok := scanString(doc, i+1, false)
	switch {
	case !ok || !plain:
		return -1
	case idx == memberID:
		s.id = doc[i+1 : end-1]
	case idx == memberTenant:
		s.tenant = doc[i+1 : end-1]
	}
	return end
}

// hasAt reports whether doc holds lit at i.
func hasAt(doc []byte, i int, lit string) bool {
	return len(doc)-i >= len(lit) && string(doc[i:i+len(lit)]) == lit
}

// roles walks, from i, an array of {id?, name?, description?} with string
// values and a non-empty id or name (checkRoles), and returns the index
// past it, or -1.
func (s *answerScan) roles(i int) int {
	doc := s.doc
	if doc[i] != '[' {
		return -1
	}
	i++
	for first := true; ; first = false {
		var more, ok bool
		if i, more, ok = next(doc, i, first, ']'); !ok {
			return -1
		} else if !more {
			return i
		}
		if doc[i] != '{' {
			return -1
		}
		i++
		var seen uint8 // 1 id, 2 name, 4 description
		for first := true; ; first = false {
			if i, more, ok = next(doc, i, first, '}'); !ok {
				return -1
			} else if !more {
				break
			}
			if doc[i] != '"' {
				return -1
			}
			// Each name with its closing quote, as memberAt reads them.
			var bit uint8
			var n int
			switch k := doc[i+1:]; {
			case len(k) >= 3 && string(k[:3]) == `id"`:
				bit, n = 1, len("id")
			case len(k) >= 5 && string(k[:5]) == `name"`:
				bit, n = 2, len("name")
			case len(k) >= 12 && string(k[:12]) == `description"`:
				bit, n = 4, len("description")
			}
			if bit == 0 || seen&bit != 0 {
				return -1
			}
			seen |= bit
			if i = colon(doc, i+n+2); i < 0 || doc[i] != '"' {
				return -1
			}
			end, plain, ok := scanString(doc, i+1, false)
			// id and name: plain and not empty (end past more than the quotes).
			if !ok || bit != 4 && (!plain || end-i == 2) {
				return -1
			}
			i = end
		}
		if seen&3 == 0 {
			return -1
		}
	}
}

// extensions walks {dialect: {name: value}} (fieldSet.validateExtensions):
// valid names, unique keys everywhere, values not null and holdable
// (checkHoldable).
func (s *answerScan) extensions() bool {
	if !s.open('{') {
		return false
	}
	base := s.nkeys
	for first := true; ; first = false {
		from, to, more, ok := s.member(first)
		if !ok {
			return false
		}
		if !more {
			s.nkeys = base
			return true
		}
		if !validDialectName(s.doc[from:to]) || !s.newKey(base, from, to) || !s.open('{') {
			return false
		}
		inner := s.nkeys
		for first := true; ; first = false {
			from, to, more, ok := s.member(first)
			if !ok {
				return false
			}
			if !more {
				break
			}
			if !validMemberName(s.doc[from:to]) || !s.newKey(inner, from, to) || s.peek('n') || !s.value(4, true) {
				return false
			}
		}
		s.nkeys = inner
	}
}

// value walks any JSON value at s.i; depth is the depth an object or an
// array there has. hold refuses what checkHoldable refuses, and more.
func (s *answerScan) value(depth int, hold bool) bool {
	if s.i >= len(s.doc) {
		return false
	}
	switch c := s.doc[s.i]; {
	case c == '"':
		_, _, ok := s.str(hold)
		return ok
	case c == '-' || c >= '0' && c <= '9':
		return s.number(hold)
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case depth > MaxDepth:
		return false
	case c == '[':
		s.i++
		for first := true; ; first = false {
			more, ok := s.element(first)
			if !ok || !more {
				return ok
			}
			if !s.value(depth+1, hold) {
				return false
			}
		}
	case c == '{':
		s.i++
		base := s.nkeys
		for first := true; ; first = false {
			from, to, more, ok := s.member(first)
			if !ok {
				return false
			}
			if !more {
				s.nkeys = base
				return true
			}
			if !s.newKey(base, from, to) || !s.value(depth+1, hold) {
				return false
			}
		}
	}
	return false
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

// member moves to the next member of the object being walked (the first
// one when first): past its key and colon, to its value. It returns the
// key's span in doc, or more false past the closing brace. A key with an
// escape is a doubt: ok false.
func (s *answerScan) member(first bool) (from, to int, more, ok bool) {
	s.ws()
	if s.i >= len(s.doc) {
		return 0, 0, false, false
	}
	if c := s.doc[s.i]; c == '}' {
		s.i++
		return 0, 0, false, true
	} else if !first {
		if c != ',' {
			return 0, 0, false, false
		}
		s.i++
		s.ws()
	}
	if !s.peek('"') {
		return 0, 0, false, false
	}
	from = s.i + 1
	key, plain, ok := s.str(false)
	if !ok || !plain || !s.open(':') {
		return 0, 0, false, false
	}
	s.ws()
	return from, from + len(key), true, true
}

// element moves to the next element of the array being walked (the first
// one when first), or reports more false past the closing bracket.
func (s *answerScan) element(first bool) (more, ok bool) {
	s.ws()
	if s.i >= len(s.doc) {
		return false, false
	}
	if c := s.doc[s.i]; c == ']' {
		s.i++
		return false, true
	} else if !first {
		if c != ',' {
			return false, false
		}
		s.i++
		s.ws()
	}
	return true, true
}

// str walks the string at s.i (its opening quote) and returns its
// contents, raw, and whether they hold no escape. hold refuses \u0000.
func (s *answerScan) str(hold bool) (v []byte, plain, ok bool) {
	start := s.i + 1
	end, plain, ok := scanString(s.doc, start, hold)
	if !ok {
		return nil, false, false
	}
	s.i = end
	return s.doc[start : end-1], plain, true
}

// scanString walks the contents of the string that start at doc[i], past
// its opening quote, and returns the index past its closing quote and
// whether it holds no escape, or ok false. hold refuses \u0000.
func scanString(doc []byte, i int, hold bool) (end int, plain, ok bool) {
	// The common string, without an escape, ends in the first word or
	// two: the loop of lex.TextRun, here so that it is not a call.
	for ; i+8 <= len(doc); i += 8 {
		if m := lex.TextStops(binary.LittleEndian.Uint64(doc[i:])); m != 0 {
			i += bits.TrailingZeros64(m) / 8
			if doc[i] == '"' {
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

// number walks the number at s.i. hold refuses what NumberProblem might:
// an exponent, or 16 characters or more.
func (s *answerScan) number(hold bool) bool {
	start := s.i
	if s.doc[s.i] == '-' {
		s.i++
	}
	if !s.digit() {
		return false
	}
	if s.doc[s.i] == '0' {
		s.i++
	} else {
		s.digits()
	}
	if s.i < len(s.doc) && s.doc[s.i] == '.' {
		if s.i++; !s.digit() {
			return false
		}
		s.digits()
	}
	exp := s.i < len(s.doc) && (s.doc[s.i] == 'e' || s.doc[s.i] == 'E')
	if exp {
		if s.i++; s.i < len(s.doc) && (s.doc[s.i] == '+' || s.doc[s.i] == '-') {
			s.i++
		}
		if !s.digit() {
			return false
		}
		s.digits()
	}
	return !hold || !exp && s.i-start < len(maxSafeDigits)
}

func (s *answerScan) digit() bool {
	return s.i < len(s.doc) && s.doc[s.i] >= '0' && s.doc[s.i] <= '9'
}

func (s *answerScan) digits() {
	for s.digit() {
		s.i++
	}
}

// ws skips JSON whitespace.
func (s *answerScan) ws() { s.i = lex.SkipSpace(s.doc, s.i) }

// peek skips whitespace and reports whether the next byte is c.
func (s *answerScan) peek(c byte) bool {
	s.ws()
	return s.i < len(s.doc) && s.doc[s.i] == c
}

// open skips whitespace and c, the next byte, or reports false.
func (s *answerScan) open(c byte) bool {
	if !s.peek(c) {
		return false
	}
	s.i++
	return true
}

// literal skips whitespace and lit (true, false, null), or reports false
// and moves past the whitespace only.
func (s *answerScan) literal(lit string) bool {
	s.ws()
	if len(s.doc)-s.i < len(lit) || string(s.doc[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}
