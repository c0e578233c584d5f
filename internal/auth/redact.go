package auth

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Redacted replaces a secret header value.
const Redacted = "[redacted]"

// secretHeaders are redacted by name (canonical form).
var secretHeaders = map[string]bool{
	"Authorization":        true,
	"Proxy-Authorization":  true,
	"Cookie":               true,
	"Set-Cookie":           true,
	"X-Key":                true, // Shift's API key
	"X-Secret":             true,
	"X-Xsrf-Token":         true,
	"Mediasilosessionkey":  true,
	"Mediasiloapikey":      true,
	"Mediasilohostcontext": true,
	"X-Api-Key":            true,
	"Api-Key":              true,
	"X-Auth-Token":         true,
	"X-Amz-Security-Token": true,
}

// secretWords redact any header whose lower-case name holds one of them.
var secretWords = []string{"auth", "token", "secret", "password", "passwd", "cookie", "session", "apikey", "api-key", "credential", "signature"}

// IsSecretHeader reports whether Redact hides the header's values.
func IsSecretHeader(name string) bool {
	if secretHeaders[http.CanonicalHeaderKey(name)] {
		return true
	}
	lower := strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}

// Redact returns a copy of h, for logs, whose secret-bearing headers
// (IsSecretHeader) hold "[redacted]" once per value.
func Redact(h http.Header) http.Header {
	return redact(h, nil)
}

// Redact is the package Redact that also hides the dialect's credential
// and API key headers.
func (a *Authenticator) Redact(h http.Header) http.Header {
	if a == nil {
		return redact(h, nil)
	}
	return redact(h, a.strip)
}

func redact(h http.Header, extra []string) http.Header {
	out := make(http.Header, len(h))
	for name, vals := range h {
		if IsSecretHeader(name) || slices.Contains(extra, http.CanonicalHeaderKey(name)) {
			r := make([]string, len(vals))
			for i := range r {
				r[i] = Redacted
			}
			out[name] = r
			continue
		}
		out[name] = append([]string(nil), vals...)
	}
	return out
}

// redactURL is a URL for logs: scheme, host and path, without user
// information, query or fragment.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparsable URL]"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}
