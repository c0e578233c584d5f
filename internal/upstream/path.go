package upstream

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/userbridge/userbridge/internal/lex"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// placeholder is a {name} in a path template.
type placeholder uint8

const (
	phNone placeholder = iota // literal text
	phID
	phUsername
	phTenant
)

var placeholderNames = [...]string{phID: "id", phUsername: "username", phTenant: "tenant"}

func (p placeholder) String() string { return placeholderNames[p] }

// part is one piece of a compiled template: literal text or a placeholder.
type part struct {
	lit string // as written: a valid escaped path
	dec string // lit decoded
	ph  placeholder
}

// template is a compiled path template such as "/t/{tenant}/users/{id}".
type template struct {
	parts  []part
	tenant bool // uses {tenant}
	// plain: every literal part reads the same escaped and decoded (no %XX
	// escape), so that with values that need no escaping the path is one
	// string, escaped and decoded alike.
	plain bool
	// sentAsWritten: a literal part holds a character RFC 3986 allows
	// unescaped that Go's default path encoding escapes (! ' ( ) *): the
	// URL's RawPath must then say how the path is sent.
	sentAsWritten bool
	lits          int // the literal parts' length, escaped
	uses          int // how many times the user's placeholder appears
	// tenants is how many times {tenant} appears.
	tenants int
}

// compileTemplate parses a path template that must use the placeholder
// need and may use {tenant}. Literal text must already be a valid path: it
// is sent as written.
func compileTemplate(tpl string, need placeholder) (template, error) {
	var t template
	if !strings.HasPrefix(tpl, "/") {
		return t, fmt.Errorf("%q must start with /", tpl)
	}
	used := false
	for rest := tpl; rest != ""; {
		i := strings.IndexAny(rest, "{}")
		if i < 0 {
			i = len(rest)
		}
		if i > 0 {
			if err := checkLiteral(rest[:i]); err != nil {
				return template{}, fmt.Errorf("%q: %w", tpl, err)
			}
			dec, err := url.PathUnescape(rest[:i])
			if err != nil { // checkLiteral accepted only valid escapes
				return template{}, fmt.Errorf("%q: %w", tpl, err)
			}
			t.parts = append(t.parts, part{lit: rest[:i], dec: dec})
		}
		if rest = rest[i:]; rest == "" {
			break
		}
		if rest[0] == '}' {
			return template{}, fmt.Errorf("%q: } without {", tpl)
		}
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return template{}, fmt.Errorf("%q: { without }", tpl)
		}
		name := rest[1:end]
		var ph placeholder
		switch name {
		case need.String():
			ph, used = need, true
		case phTenant.String():
			ph, t.tenant = phTenant, true
		default:
			return template{}, fmt.Errorf("%q: placeholder {%s} not allowed here; use {%s} and optionally {tenant}", tpl, name, need)
		}
		t.parts = append(t.parts, part{ph: ph})
		rest = rest[end+1:]
	}
	if !used {
		return template{}, fmt.Errorf("%q must use {%s}", tpl, need)
	}
	t.plain = true
	for _, p := range t.parts {
		switch p.ph {
		case phNone:
			t.lits += len(p.lit)
			t.plain = t.plain && p.lit == p.dec
			t.sentAsWritten = t.sentAsWritten || !defaultEncoded(p.lit)
		case phTenant:
			t.tenants++
		default:
			t.uses++
		}
	}
	return t, nil
}

// defaultEncoded reports whether the path s, written as it is sent, is
// what Go's URL encodes its decoded form to (url.URL.EscapedPath without a
// RawPath): no %XX escape, and none of ! ' ( ) *, which RFC 3986 allows
// unescaped but Go escapes.
func defaultEncoded(s string) bool {
	return !strings.Contains(s, "%") && (&url.URL{Path: s}).EscapedPath() == s
}

// checkLiteral accepts the characters RFC 3986 allows unescaped in a path,
// and %XX escapes.
func checkLiteral(s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("-._~!$&'()*+,;=:@/", c) >= 0:
		case c == '%':
			if i+2 >= len(s) || !lex.IsHex(s[i+1]) || !lex.IsHex(s[i+2]) {
				return errors.New("% must start a %XX escape")
			}
			i += 2
		case c == '?' || c == '#':
			return errors.New("a path template has no query or fragment")
		default:
			return fmt.Errorf("character %q must be %%-escaped", c)
		}
	}
	return nil
}

// url builds the upstream URL of a call. Every value is path-escaped, so it
// stays one path segment (or part of one): it cannot add a segment, a query
// or a fragment. "" and the dot segments "." and ".." are refused: servers
// and proxies resolve them to another resource. The URL is built, not
// parsed, and reads as url.Parse would leave it: Path is the path decoded,
// RawPath the path as sent where that is not Path's default encoding (an
// escape, or one of ! ' ( ) * that Go would escape), "" where it is
// (net/http's RequestURI then takes Path in one pass rather than checking a
// RawPath against it on every attempt). A value needs no RawPath of its
// own: url.PathEscape leaves none of those characters unescaped.
func (c *Client) url(call *Call) (*url.URL, *canonical.Error) {
	if call.Target != canonical.ByID && call.Target != canonical.ByUsername {
		return nil, canonical.Errorf(canonical.Internal, "the update names its user neither by id nor by username")
	}
	t := &c.paths[call.Target]
	if err := CheckValue(call.Target.String(), call.Value); err != nil {
		return nil, err
	}
	value := url.PathEscape(call.Value)
	var tenant string
	if t.tenant {
		if err := CheckValue("tenant", call.Tenant); err != nil {
			return nil, err
		}
		tenant = url.PathEscape(call.Tenant)
	}

	// The common case: nothing escaped anywhere (url.PathEscape hands a
	// value that needs no escaping back as it is). The path as sent and
	// decoded are then one string: one pass, half the bytes.
	asIs := len(value) == len(call.Value) && (!t.tenant || len(tenant) == len(call.Tenant))
	if asIs && t.plain && c.basePath == c.baseDecoded {
		var b strings.Builder
		b.Grow(len(c.basePath) + t.lits + t.uses*len(value) + t.tenants*len(tenant))
		b.WriteString(c.basePath)
		for _, p := range t.parts {
			b.WriteString(p.fill(value, tenant))
		}
		u := &url.URL{Scheme: c.scheme, Host: c.host, Path: b.String()}
		if t.sentAsWritten || c.baseSentAsWritten {
			u.RawPath = u.Path // what Go would escape is sent as written
		}
		return u, nil
	}

	n, nd := len(c.basePath), len(c.baseDecoded)
	for _, p := range t.parts {
		n += len(p.fill(value, tenant))
		nd += len(p.fillDecoded(call.Value, call.Tenant))
	}
	var b strings.Builder
	b.Grow(n + nd)
	b.WriteString(c.basePath)
	for _, p := range t.parts {
		b.WriteString(p.fill(value, tenant))
	}
	b.WriteString(c.baseDecoded)
	for _, p := range t.parts {
		b.WriteString(p.fillDecoded(call.Value, call.Tenant))
	}
	both := b.String() // one allocation for the two
	return &url.URL{Scheme: c.scheme, Host: c.host, RawPath: both[:n], Path: both[n:]}, nil
}

func (p part) fill(value, tenant string) string {
	switch p.ph {
	case phNone:
		return p.lit
	case phTenant:
		return tenant
	}
	return value
}

func (p part) fillDecoded(value, tenant string) string {
	if p.ph == phNone {
		return p.dec
	}
	return p.fill(value, tenant)
}

// CheckValue refuses a value that cannot name a resource of its own in a
// path segment: "" and the dot segments, which servers and proxies resolve
// to another resource. Every profile checks its path values with it.
func CheckValue(name, v string) *canonical.Error {
	switch v {
	case "":
		return &canonical.Error{Code: canonical.InvalidField, Field: name, Message: "the " + name + " is empty"}
	case ".", "..":
		return &canonical.Error{Code: canonical.InvalidField, Field: name,
			Message: `the ` + name + ` cannot be "." or ".."`}
	}
	return nil
}
