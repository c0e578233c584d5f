package canonical

import (
	"bytes"
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

// The kinds of the top-level members of a canonical user.
const (
	memberString   = iota // a writable string field
	memberBool            // a writable boolean field
	memberObject          // address, attributes
	memberRoles           // roles
	memberExt             // extensions
	memberReadOnly        // id, tenant, createdBy: a string or null
	memberTime            // createdAt, updatedAt, lastLoginAt
)

// userMember is the bit and the kind of top-level member name, or ok false
// for a name the fast path refuses (password, an unknown field).
func userMember(name []byte) (bit uint32, kind int, ok bool) {
	switch string(name) {
	case "id":
		return 1 << 0, memberReadOnly, true
	case "username":
		return 1 << 1, memberString, true
	case "tenant":
		return 1 << 2, memberReadOnly, true
	case "email":
		return 1 << 3, memberString, true
	case "givenName":
		return 1 << 4, memberString, true
	case "familyName":
		return 1 << 5, memberString, true
	case "displayName":
		return 1 << 6, memberString, true
	case "phone":
		return 1 << 7, memberString, true
	case "mobile":
		return 1 << 8, memberString, true
	case "organization":
		return 1 << 9, memberString, true
	case "active":
		return 1 << 10, memberBool, true
	case "locked":
		return 1 << 11, memberBool, true
	case "deleted":
		return 1 << 12, memberBool, true
	case "address":
		return 1 << 13, memberObject, true
	case "attributes":
		return 1 << 14, memberObject, true
	case "roles":
		return 1 << 15, memberRoles, true
	case "extensions":
		return 1 << 16, memberExt, true
	case "createdBy":
		return 1 << 17, memberReadOnly, true
	case "createdAt":
		return 1 << 18, memberTime, true
	case "updatedAt":
		return 1 << 19, memberTime, true
	case "lastLoginAt":
		return 1 << 20, memberTime, true
	}
	return 0, 0, false
}

// user walks the top-level object (depth 1).
func (s *answerScan) user() bool {
	if !s.open('{') {
		return false
	}
	var seen uint32
	for first := true; ; first = false {
		from, to, more, ok := s.member(first)
		if !ok || !more {
			return ok
		}
		name := s.doc[from:to]
		bit, kind, ok := userMember(name)
		start := s.i
		if !ok || seen&bit != 0 || !s.userValue(name, kind) {
			return false
		}
		seen |= bit
		s.span[bits.TrailingZeros32(bit)] = struct{ from, to int32 }{int32(start), int32(s.i)}
	}
}

// userValue walks the value of top-level member name, of the given kind.
func (s *answerScan) userValue(name []byte, kind int) bool {
	switch kind {
	case memberString:
		if !s.peek('"') {
			return false
		}
		v, plain, ok := s.str(false)
		if ok && string(name) == "username" {
			s.username = v
			return plain
		}
		return ok
	case memberBool:
		return s.literal("true") || s.literal("false")
	case memberObject:
		return s.peek('{') && s.value(2, false)
	case memberRoles:
		return s.roles()
	case memberExt:
		return s.extensions()
	}
	// A read-only member: a string or null.
	if s.literal("null") {
		return true
	}
	if !s.peek('"') {
		return false
	}
	v, plain, ok := s.str(false)
	switch {
	case !ok || !plain:
		return false
	case kind == memberTime:
		return rfc3339(v)
	case string(name) == "id":
		s.id = v
	case string(name) == "tenant":
		s.tenant = v
	}
	return true
}

// roles walks an array of {id?, name?, description?} with string values
// and a non-empty id or name (checkRoles).
func (s *answerScan) roles() bool {
	if !s.open('[') {
		return false
	}
	for first := true; ; first = false {
		more, ok := s.element(first)
		if !ok || !more {
			return ok
		}
		if !s.open('{') {
			return false
		}
		var seen uint8 // 1 id, 2 name, 4 description
		for first := true; ; first = false {
			from, to, more, ok := s.member(first)
			if !ok {
				return false
			}
			if !more {
				break
			}
			var bit uint8
			switch string(s.doc[from:to]) {
			case "id":
				bit = 1
			case "name":
				bit = 2
			case "description":
				bit = 4
			default:
				return false
			}
			if seen&bit != 0 || !s.peek('"') {
				return false
			}
			seen |= bit
			v, plain, ok := s.str(false)
			if !ok || bit != 4 && (!plain || len(v) == 0) {
				return false
			}
		}
		if seen&3 == 0 {
			return false
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
	s.i++
	start, plain := s.i, true
	for {
		// Past what the string holds as it is (UTF-8 checked before the
		// walk), to its end, an escape or a control character.
		if s.i = lex.TextRun(s.doc, s.i); s.i >= len(s.doc) {
			break
		}
		switch s.doc[s.i] {
		case '"':
			s.i++
			return s.doc[start : s.i-1], plain, true
		case '\\':
		default: // a control character
			return nil, false, false
		}
		plain = false
		if s.i++; s.i >= len(s.doc) {
			return nil, false, false
		}
		switch s.doc[s.i] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			s.i++
		case 'u':
			if len(s.doc)-s.i < 5 {
				return nil, false, false
			}
			hex := s.doc[s.i+1 : s.i+5]
			for _, h := range hex {
				if !lex.IsHex(h) {
					return nil, false, false
				}
			}
			if hold && string(hex) == "0000" {
				return nil, false, false
			}
			s.i += 5
		default:
			return nil, false, false
		}
	}
	return nil, false, false
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
