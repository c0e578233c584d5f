package mapping

import (
	"strconv"
	"unicode/utf8"

	"github.com/userbridge/userbridge/internal/lex"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// Guard limits what a request body may be before any rule reads it. gjson
// reads the first of two equal keys while many upstreams read the last; a
// body with a duplicate key is refused so that the two can never disagree.
type Guard struct {
	// MaxDepth is the deepest nesting of objects and arrays allowed
	// (default 32).
	MaxDepth int
}

// GuardError says why a body was refused and where.
type GuardError struct {
	Offset int
	Reason string
	// Duplicate says the reason is a key given twice in one object: Key,
	// which may be "".
	Duplicate bool
	// Key is the duplicated key, when that is the reason.
	Key string
	// Unholdable says the JSON is valid but a value the update would carry
	// is one a backend cannot hold as sent (canonical.NumberProblem, NUL in
	// a string or a key): Offset is where the number or the string starts,
	// and Reason says what is wrong in words that follow the field's name.
	Unholdable bool
}

func (e *GuardError) Error() string {
	return "mapping: body refused at byte " + strconv.Itoa(e.Offset) + ": " + e.Reason
}

// Check scans the body once: strict JSON syntax, valid UTF-8, depth,
// duplicate keys, and values a backend cannot hold (numbers beyond float64,
// integers beyond 2^53, NUL in strings). It allocates only for objects with more than 16 keys or
// escaped keys.
func (g Guard) Check(b []byte) *GuardError {
	_, err := g.scan(b, nil, false)
	return err
}

// topMember is one top-level member of the body, as the guard found it:
// where the key's JSON string starts and ends (quotes included), where its
// value starts and ends, and whether the key holds escapes. Offsets only,
// so that a pooled list of them holds no pointer into an old body.
type topMember struct {
	keyAt, keyEnd, valAt, valEnd int
	esc                          bool
	// sum describes the value when it is an object.
	sum objectSum
}

// objectSum is what the guard learns of an object, a top-level member's
// value, while it checks it: enough to tell that no member can fail the
// map validators (validators.fits) without walking the object again.
// Lengths are in bytes as written, which no decoding makes longer.
type objectSum struct {
	pairs  int // members
	keyLen int // the longest key's contents (between the quotes)
	valLen int // the longest value: a string's contents, another value's text
	types  uint8
}

// add counts a member whose key's contents are keyLen bytes long and whose
// value's text is val (valid JSON).
func (o *objectSum) add(keyLen int, val []byte) {
	o.pairs++
	o.keyLen = max(o.keyLen, keyLen)
	n := len(val)
	if val[0] == '"' {
		n -= 2
	}
	o.valLen = max(o.valLen, n)
	o.types |= 1 << textType(str(val))
}

// key is the member's decoded name.
func (m *topMember) key(body []byte) string {
	raw := body[m.keyAt+1 : m.keyEnd-1]
	if m.esc {
		return string(unescapeKey(raw))
	}
	return str(raw)
}

// checkTop is Check that also records the members of a top-level object in
// dst (appended; the keys of a body point into it). It is how Translate
// reads the body: the scan that validates it also finds every member, so
// that nothing parses the body a second time.
func (g Guard) checkTop(b []byte, dst []topMember) ([]topMember, *GuardError) {
	return g.scan(b, dst, true)
}

func (g Guard) scan(b []byte, dst []topMember, rec bool) ([]topMember, *GuardError) {
	max := g.MaxDepth
	if max <= 0 {
		max = 32
	}
	s := scanner{b: b, max: max, top: dst, rec: rec}
	s.ws()
	if err := s.value(0); err != nil {
		return s.top, err
	}
	s.ws()
	if s.i != len(s.b) {
		return s.top, s.fail("data after the JSON value")
	}
	return s.top, nil
}

type scanner struct {
	b   []byte
	i   int
	max int
	top []topMember // the top-level object's members, when rec
	rec bool
	sum objectSum // the last object at depth 2 to close, when rec
}

func (s *scanner) fail(reason string) *GuardError { return &GuardError{Offset: s.i, Reason: reason} }

// ws steps over JSON whitespace; most bodies have none between tokens.
func (s *scanner) ws() {
	if s.i < len(s.b) && s.b[s.i] > ' ' {
		return
	}
	s.i = lex.SkipSpace(s.b, s.i)
}

func (s *scanner) value(depth int) *GuardError {
	if s.i >= len(s.b) {
		return s.fail("unexpected end of JSON")
	}
	switch c := s.b[s.i]; {
	case c == '{':
		if depth >= s.max {
			return s.fail("JSON nested deeper than " + strconv.Itoa(s.max))
		}
		return s.object(depth + 1)
	case c == '[':
		if depth >= s.max {
			return s.fail("JSON nested deeper than " + strconv.Itoa(s.max))
		}
		return s.array(depth + 1)
	case c == '"':
		_, _, err := s.str()
		return err
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	}
	return s.fail("invalid JSON")
}

func (s *scanner) lit(w string) *GuardError {
	if len(s.b)-s.i < len(w) || string(s.b[s.i:s.i+len(w)]) != w {
		return s.fail("invalid JSON literal")
	}
	s.i += len(w)
	return nil
}

func (s *scanner) number() *GuardError {
	start := s.i
	if s.b[s.i] == '-' {
		s.i++
	}
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.i < len(s.b) && s.b[s.i] == '0' {
		s.i++
	} else if digits() == 0 {
		return s.fail("invalid JSON number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return s.fail("invalid JSON number")
		}
	}
	exp := s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E')
	if exp {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return s.fail("invalid JSON number")
		}
	}
	if s.i == start {
		return s.fail("invalid JSON number")
	}
	// Most numbers are short: a literal of fewer than 16 characters can
	// be neither an integer beyond 2^53 nor beyond a float64.
	if s.i-start >= 16 || exp {
		if p := canonical.NumberProblem(str(s.b[start:s.i])); p != "" {
			return &GuardError{Offset: start, Reason: p, Unholdable: true}
		}
	}
	return nil
}

// str scans a string and returns its raw contents (between the quotes) and
// whether it held escapes (an escaped key is compared after decoding).
func (s *scanner) str() (raw []byte, esc bool, err *GuardError) {
	start := s.i + 1 // after the opening quote
	// Most strings are printable ASCII up to their closing quote; the
	// loop goes on from the first byte that is not.
	i := lex.PlainRun(s.b, start)
	if i < len(s.b) && s.b[i] == '"' {
		s.i = i + 1
		return s.b[start:i], false, nil
	}
	s.i = i
	for s.i < len(s.b) {
		s.i = lex.PlainRun(s.b, s.i)
		if s.i == len(s.b) {
			break
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, esc, nil
		case c == '\\':
			esc = true
			if s.i+1 >= len(s.b) {
				return nil, esc, s.fail("unterminated string")
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) {
					return nil, esc, s.fail("invalid \\u escape")
				}
				r, ok := hex4(s.b[s.i+2 : s.i+6])
				if !ok {
					return nil, esc, s.fail("invalid \\u escape")
				}
				switch {
				case r == 0:
					return nil, esc, &GuardError{Offset: start - 1, Reason: canonical.NULProblem, Unholdable: true}
				case r >= 0xDC00 && r <= 0xDFFF:
					return nil, esc, s.fail("lone UTF-16 surrogate in string")
				case r >= 0xD800 && r <= 0xDBFF:
					// a high surrogate must be followed by a low one
					if s.i+12 > len(s.b) || s.b[s.i+6] != '\\' || s.b[s.i+7] != 'u' {
						return nil, esc, s.fail("lone UTF-16 surrogate in string")
					}
					lo, ok := hex4(s.b[s.i+8 : s.i+12])
					if !ok || lo < 0xDC00 || lo > 0xDFFF {
						return nil, esc, s.fail("lone UTF-16 surrogate in string")
					}
					s.i += 6
				}
				s.i += 6
			default:
				return nil, esc, s.fail("invalid escape in string")
			}
		case c < 0x20:
			return nil, esc, s.fail("control character in string")
		case c < utf8.RuneSelf:
			s.i++
		default:
			r, size := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && size <= 1 {
				return nil, esc, s.fail("invalid UTF-8 in string")
			}
			s.i += size
		}
	}
	return nil, esc, s.fail("unterminated string")
}

// hex4 decodes four hexadecimal digits.
func hex4(b []byte) (rune, bool) {
	var r rune
	for _, h := range b {
		var d byte
		switch {
		case h >= '0' && h <= '9':
			d = h - '0'
		case h >= 'a' && h <= 'f':
			d = h - 'a' + 10
		case h >= 'A' && h <= 'F':
			d = h - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

func (s *scanner) object(depth int) *GuardError {
	// The keys so far: the first 16 in small (stored by index, which needs
	// no write barrier on the stack), all of them in big after that.
	var small [16][]byte
	n := 0
	var big map[string]struct{}
	summing := depth == 2 && s.rec // a top-level member's value, which topMember describes
	var o objectSum
	if s.open('}') {
		if summing {
			s.sum = o
		}
		return nil
	}
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return s.fail("expected an object key")
		}
		at := s.i
		raw, esc, err := s.str()
		if err != nil {
			return err
		}
		key := raw
		if esc {
			key = unescapeKey(raw)
		}
		keyEnd := s.i
		dup := false
		if big != nil {
			_, dup = big[string(key)]
			big[string(key)] = struct{}{}
		} else {
			for _, k := range small[:n] {
				if string(k) == string(key) {
					dup = true
					break
				}
			}
			if n < len(small) {
				small[n] = key
				n++
			} else {
				big = make(map[string]struct{}, 32)
				for _, k := range small {
					big[string(k)] = struct{}{}
				}
				big[string(key)] = struct{}{}
			}
		}
		if dup {
			return &GuardError{Offset: at, Reason: "duplicate object key " + strconv.Quote(string(key)), Duplicate: true, Key: string(key)}
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.fail("expected ':' after an object key")
		}
		s.i++
		s.ws()
		valAt := s.i
		if err := s.value(depth); err != nil {
			return err
		}
		if summing {
			o.add(keyEnd-at-2, s.b[valAt:s.i])
		}
		if depth == 1 && s.rec {
			m := topMember{keyAt: at, keyEnd: keyEnd, valAt: valAt, valEnd: s.i, esc: esc}
			if s.b[valAt] == '{' {
				m.sum = s.sum
			}
			s.top = append(s.top, m)
		}
		if end, err := s.next('}', "expected ',' or '}' in object"); end || err != nil {
			if summing {
				s.sum = o
			}
			return err
		}
	}
}

func (s *scanner) array(depth int) *GuardError {
	if s.open(']') {
		return nil
	}
	for {
		s.ws()
		if err := s.value(depth); err != nil {
			return err
		}
		if end, err := s.next(']', "expected ',' or ']' in array"); end || err != nil {
			return err
		}
	}
}

// open steps over the opening bracket at s.i and reports whether closing
// follows it (an empty object or array, which it steps over too).
func (s *scanner) open(closing byte) bool {
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == closing {
		s.i++
		return true
	}
	return false
}

// next reads what follows a member or an item: a ',' (more follow) or
// closing, which ends the object or array (end); anything else is refused
// with msg.
func (s *scanner) next(closing byte, msg string) (end bool, err *GuardError) {
	s.ws()
	if s.i >= len(s.b) {
		return false, s.fail("unexpected end of JSON")
	}
	switch s.b[s.i] {
	case ',':
		s.i++
		return false, nil
	case closing:
		s.i++
		return true, nil
	}
	return false, s.fail(msg)
}

// unescapeKey decodes a JSON string's contents (already validated).
func unescapeKey(raw []byte) []byte {
	q := make([]byte, 0, len(raw)+2)
	q = append(q, '"')
	q = append(q, raw...)
	q = append(q, '"')
	s, err := strconv.Unquote(string(q))
	if err != nil {
		// strconv does not know \/ ; fall back to a byte-wise decode of it.
		out := make([]byte, 0, len(raw))
		for i := 0; i < len(raw); i++ {
			if raw[i] == '\\' && i+1 < len(raw) && raw[i+1] == '/' {
				out = append(out, '/')
				i++
				continue
			}
			out = append(out, raw[i])
		}
		if s2, err2 := strconv.Unquote(`"` + string(out) + `"`); err2 == nil {
			return []byte(s2)
		}
		return raw
	}
	return []byte(s)
}
