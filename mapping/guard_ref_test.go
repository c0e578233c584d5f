package mapping

// The guard's scanner as it was before the translate work (commit
// 157e8ce), kept as the reference FuzzGuardDiff compares the current one
// with: the same verdicts, the same errors (offset, reason, kind) and the
// same top-level members. hex4 and unescapeKey are shared: unchanged.

import (
	"strconv"
	"unicode/utf8"

	"github.com/userbridge/userbridge/internal/lex"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// refTopMember is topMember as it was: offsets and the key's escape flag.
type refTopMember struct {
	keyAt, keyEnd, valAt, valEnd int
	esc                          bool
}

func (g Guard) refScan(b []byte, dst []refTopMember, rec bool) ([]refTopMember, *GuardError) {
	max := g.MaxDepth
	if max <= 0 {
		max = 32
	}
	s := refScanner{b: b, max: max, top: dst, rec: rec}
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

type refScanner struct {
	b   []byte
	i   int
	max int
	top []refTopMember // the top-level object's members, when rec
	rec bool
}

func (s *refScanner) fail(reason string) *GuardError { return &GuardError{Offset: s.i, Reason: reason} }

func (s *refScanner) ws() { s.i = lex.SkipSpace(s.b, s.i) }

func (s *refScanner) value(depth int) *GuardError {
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

func (s *refScanner) lit(w string) *GuardError {
	if len(s.b)-s.i < len(w) || string(s.b[s.i:s.i+len(w)]) != w {
		return s.fail("invalid JSON literal")
	}
	s.i += len(w)
	return nil
}

func (s *refScanner) number() *GuardError {
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
func (s *refScanner) str() (raw []byte, esc bool, err *GuardError) {
	s.i++ // opening quote
	start := s.i
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

func (s *refScanner) object(depth int) *GuardError {
	var small [16][]byte
	keys := small[:0]
	var big map[string]struct{}
	if s.open('}') {
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
			for _, k := range keys {
				if string(k) == string(key) {
					dup = true
					break
				}
			}
			if len(keys) < len(small) {
				keys = append(keys, key)
			} else {
				big = make(map[string]struct{}, 32)
				for _, k := range keys {
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
		if depth == 1 && s.rec {
			s.top = append(s.top, refTopMember{at, keyEnd, valAt, s.i, esc})
		}
		if end, err := s.next('}', "expected ',' or '}' in object"); end || err != nil {
			return err
		}
	}
}

func (s *refScanner) array(depth int) *GuardError {
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
func (s *refScanner) open(closing byte) bool {
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
func (s *refScanner) next(closing byte, msg string) (end bool, err *GuardError) {
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
