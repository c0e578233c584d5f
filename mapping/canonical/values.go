package canonical

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// MaxSafeInteger is the largest integer magnitude a number in an update may
// have when it is written as an integer (no fraction, no exponent): 2^53,
// beyond which a float64, what most backends read JSON numbers into, no
// longer holds every integer, and 2^53+1 would silently become 2^53.
const MaxSafeInteger = 1 << 53

// maxSafeDigits is MaxSafeInteger in decimal.
const maxSafeDigits = "9007199254740992"

// NumberProblem says why the JSON number literal lit (valid JSON syntax) is
// one a backend cannot hold as written, or "" when it can:
//   - an integer literal (no fraction, no exponent) beyond ±2^53;
//   - any literal beyond float64: one that overflows it (1e400) or is not
//     zero but would become zero (1e-400).
//
// A literal with a fraction or an exponent is a floating-point value: within
// float64's range it is accepted, its last digits rounding as float64's do.
func NumberProblem(lit string) string {
	digits, point, exp := 0, false, false
	for i := 0; i < len(lit); i++ {
		c := lit[i]
		switch {
		case c >= '0' && c <= '9':
			if !point && !exp {
				digits++
			}
		case c == '.':
			point = true
		case c == 'e' || c == 'E':
			exp = true
		}
	}
	if !point && !exp {
		if digits < len(maxSafeDigits) {
			return ""
		}
		mag := lit
		if mag[0] == '-' {
			mag = mag[1:]
		}
		if len(mag) > len(maxSafeDigits) || mag > maxSafeDigits {
			return "is an integer beyond ±2^53 (9007199254740992), which a backend reading JSON numbers as float64 would change; send it as a string"
		}
		return ""
	}
	// Without an exponent, a literal this short can neither overflow nor
	// underflow a float64.
	if !exp && len(lit) < 300 {
		return ""
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return "is a number beyond the range of a float64 (±1.8e308); send it as a string"
	}
	if f == 0 && nonZeroMantissa(lit) {
		return "is a number too small for a float64 (it would become 0); send it as a string"
	}
	return ""
}

// nonZeroMantissa reports whether the number literal's digits before its
// exponent are not all zero.
func nonZeroMantissa(lit string) bool {
	for i := 0; i < len(lit); i++ {
		c := lit[i]
		switch {
		case c == 'e' || c == 'E':
			return false
		case c >= '1' && c <= '9':
			return true
		}
	}
	return false
}

// PathValueProblem says why v cannot name a user (or a tenant) in a path
// segment of the upstream's URL, or "" when it can. It is the one rule for
// every value userbridge puts into a path, whether it comes from the
// request's path, its body, or an update that renames a user (the new
// username must be one userbridge could address afterwards):
//   - empty, or only blanks;
//   - "." or "..", which servers and proxies resolve to another resource;
//   - '/', '?', '#' or '\', which end the segment on the upstream or on a
//     proxy before it (which may decode %2F or read '\' as '/');
//   - a control character (NUL, CR, LF, DEL, …);
//   - invalid UTF-8 (overlong forms included), which upstreams decode
//     differently, if at all.
func PathValueProblem(v string) string {
	if v == "" {
		return "must not be empty"
	}
	// One pass over an ASCII value (every id and username in practice),
	// judged in the order of the cases below; any other byte takes them
	// one by one (pathValueProblem).
	var sep, ctl bool
	blank := true
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= utf8.RuneSelf:
			return pathValueProblem(v)
		case c == '/' || c == '?' || c == '#' || c == '\\':
			sep, blank = true, false
		case c == ' ' || c >= '\t' && c <= '\r': // unicode.IsSpace's ASCII
			ctl = ctl || c != ' '
		case c < 0x20 || c == 0x7f:
			ctl, blank = true, false
		default:
			blank = false
		}
	}
	switch {
	case blank:
		return "must not be blank"
	case v == "." || v == "..":
		return `must not be "." or ".."`
	case sep:
		return `must not contain '/', '?', '#' or '\'`
	case ctl:
		return "must not contain a control character"
	}
	return ""
}

// pathValueProblem is PathValueProblem for a value that is not all ASCII,
// case by case.
func pathValueProblem(v string) string {
	switch {
	case strings.TrimFunc(v, unicode.IsSpace) == "":
		return "must not be blank"
	case v == "." || v == "..":
		return `must not be "." or ".."`
	case strings.ContainsAny(v, `/?#\`):
		return `must not contain '/', '?', '#' or '\'`
	case !utf8.ValidString(v):
		return "must be valid UTF-8"
	case HasControl(v):
		return "must not contain a control character"
	}
	return ""
}

// HasControl reports whether s holds a C0 control character or DEL.
func HasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// checkValue refuses a value of canonical field name that the backend
// could not hold as sent (checkHoldable), and a username that could not
// name its user in a path afterwards (PathValueProblem).
func checkValue(name string, v gjson.Result) *Error {
	if name == "username" && v.Type == gjson.String {
		if p := PathValueProblem(v.Str); p != "" {
			return FieldError(name, p)
		}
	}
	return checkHoldable(name, v.Raw)
}

// checkHoldable refuses, naming field, the valid JSON text raw when it
// holds a string with NUL (\u0000: many stores cannot hold it) or a number
// NumberProblem refuses, anywhere inside it, keys included.
func checkHoldable(field, raw string) *Error {
	for i := 0; i < len(raw); {
		switch c := raw[i]; {
		case c == '"':
			for i++; i < len(raw) && raw[i] != '"'; i++ {
				if raw[i] == '\\' {
					if strings.HasPrefix(raw[i+1:], `u0000`) {
						return FieldError(field, NULProblem)
					}
					i++
				}
			}
			i++
		case c == '-' || c >= '0' && c <= '9':
			j := i
			for j < len(raw) && strings.IndexByte("+-.eE0123456789", raw[j]) >= 0 {
				j++
			}
			if p := NumberProblem(raw[i:j]); p != "" {
				return FieldError(field, p)
			}
			i = j
		default:
			i++
		}
	}
	return nil
}

// NULProblem is why a string holding NUL is refused.
const NULProblem = "must not contain the NUL character (\\u0000), which many backends cannot store"
