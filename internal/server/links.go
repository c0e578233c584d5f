package server

import (
	"net/http"
	"strings"

	"github.com/userbridge/userbridge/internal/lex"
)

// requestURL is scheme://host/path of the request as the client addressed
// it; with trust, as the proxy in front says it was addressed.
func requestURL(r *http.Request, trust bool, path string) string {
	scheme, host := origin(r, trust)
	return scheme + "://" + host + path
}

// origin is the scheme and host (linkHost) of userbridge as the client
// reached it: the connection's, or with trust what the proxy before it
// says (X-Forwarded-Proto, X-Forwarded-Host).
func origin(r *http.Request, trust bool) (scheme, host string) {
	scheme, host = "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if trust {
		// Each proxy on the way appends its own: the first is the
		// client's.
		if p := strings.ToLower(firstListed(r.Header.Get("X-Forwarded-Proto"))); p == "https" || p == "http" {
			scheme = p
		}
		if h := firstListed(r.Header.Get("X-Forwarded-Host")); h != "" {
			host = h
		}
	}
	return scheme, linkHost(host)
}

// firstListed is the first item of a comma-separated header value, trimmed.
func firstListed(v string) string {
	v, _, _ = strings.Cut(v, ",")
	return strings.TrimSpace(v)
}

// linkHost is a Host (or X-Forwarded-Host) value as the authority of a link
// userbridge renders: every byte a host[:port] (a name, an IPv4 or a
// bracketed IPv6 address) is not made of is %-escaped, so that a value such
// as "evil.com@x", "x/#", `"><img>` or invalid UTF-8 can neither change
// what the link points at nor make the answer invalid JSON.
func linkHost(h string) string {
	for i := 0; i < len(h); i++ {
		if !hostByte(h, i) {
			return escapeHost(h)
		}
	}
	return h
}

func escapeHost(h string) string {
	const hexDigits = "0123456789ABCDEF"
	b := make([]byte, 0, len(h)+16)
	for i := 0; i < len(h); i++ {
		if c := h[i]; hostByte(h, i) {
			b = append(b, c)
		} else {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return string(b)
}

// hostByte reports whether h[i] may stand in a link's host as it is: a
// letter, a digit, one of ".-_~:[]", or a '%' that begins an escape.
func hostByte(h string, i int) bool {
	switch c := h[i]; {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '.' || c == '-' || c == '_' || c == '~' || c == ':' || c == '[' || c == ']':
		return true
	case c == '%':
		return i+2 < len(h) && lex.IsHex(h[i+1]) && lex.IsHex(h[i+2])
	}
	return false
}
