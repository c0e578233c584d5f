package server

import (
	"net/http"
	"slices"
	"strings"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/mapping"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// The checks of a request's edge, each run before anything is sent
// upstream: path values (route parameters, and the user reference and
// tenant wherever a dialect carries them), the headers that must say one
// thing, and the headers that say how to read the body.

// checkParams refuses route parameters that could not name one path
// segment upstream (badPathValue). The tenant parameter is held to the
// tenant rule, which includes that one (badTenant): a value that would leave
// its segment is named a bad path value, any other it refuses a bad tenant.
func (h *handler) checkParams(x *exchange) *canonical.Error {
	tenant := ""
	if h.p.HasTenant() {
		tenant = h.p.TenantParam()
	}
	for _, name := range h.params {
		v := x.c.Param(name)
		if leavesSegment(v) || name != tenant && badPathValue(v) {
			return canonical.FieldError(name, name+" is not a valid path value")
		}
		if name == tenant && badTenant(v) {
			return canonical.FieldError(name, name+" is not a valid tenant")
		}
	}
	return nil
}

// checkTarget applies the same rule to the user reference and tenant
// wherever the request carried them (Crafter's username is in the body):
// each fills a path segment upstream.
func (h *handler) checkTarget(res *mapping.Result) *canonical.Error {
	if badPathValue(res.Value) {
		name := res.Target.String()
		if f := h.p.SourceField(name); f != "" {
			name = f
		}
		return canonical.FieldError(name, name+" is not a valid path value")
	}
	if h.p.HasTenant() && badTenant(res.Tenant) {
		name := h.p.TenantParam()
		return canonical.FieldError(name, name+" is not a valid tenant")
	}
	return nil
}

// badTenant reports a tenant that is not a valid path value, or that an
// HTTP header would not carry as it is: X-Userbridge-Tenant's value loses
// leading and trailing blanks on the way, and one that is empty, or only
// blanks, names no tenant (the upstream then finds users of any tenant).
func badTenant(t string) bool {
	return strings.TrimSpace(t) != t || t == "" || badPathValue(t)
}

// badPathValue reports a value that cannot name its user in a path
// segment upstream: the contract's one rule for path values
// (canonical.PathValueProblem: empty or blank, a dot segment, '/', '?', '#',
// '\', a control character, invalid UTF-8 such as an overlong %C0%AF). Every
// path value of every dialect is held to it, a route parameter (decoded
// from its %-escapes) as a value from the body, and so is a rename.
func badPathValue(v string) bool {
	return canonical.PathValueProblem(v) != ""
}

// leavesSegment reports a value that could leave its path segment, or be
// read as another one (the part of badPathValue a tenant is named a bad
// path value for, rather than a bad tenant).
func leavesSegment(v string) bool {
	return v == "." || v == ".." || strings.ContainsAny(v, "/?#\\") || canonical.HasControl(v)
}

// onceHeaders are the request headers of a mount that must come at most
// once, in canonical form: every header its handler passes upstream (the
// rule file's forwardHeaders and credentialHeaders, the latter forwarded in
// passthrough), Authorization, and the API key headers userbridge reads in
// verify mode (auth.apiKeys, with the dialect's defaults). Sent twice, which
// one counts would depend on who reads them: userbridge's auth reads the
// first, a proxy or the upstream may read the last, or both. The list is
// the same in both auth modes, so a duplicated credential is refused alike.
func onceHeaders(p *mapping.Program, a config.Auth) []string {
	names := []string{"Authorization"}
	names = append(names, p.ForwardHeaders()...)
	names = append(names, p.CredentialHeaders()...)
	if k := a.APIKeys; k != nil {
		names = append(names, k.Header, k.IDHeader)
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		if n == "" {
			continue
		}
		if n = http.CanonicalHeaderKey(n); !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// checkOnce refuses a request that sends one of the mount's onceHeaders
// more than once (Cookie: see cookieTwice). It runs first, before the
// caller is checked. The message names the header, never its values.
func (h *handler) checkOnce(x *exchange) *canonical.Error {
	hd := x.c.Request.Header
	for _, name := range h.once {
		vs := hd[name]
		if len(vs) < 2 {
			continue
		}
		if name == "Cookie" {
			if cookieTwice(vs) {
				return canonical.Errorf(canonical.BadRequest, "a cookie appears in more than one Cookie header")
			}
			continue
		}
		return canonical.Errorf(canonical.BadRequest, name+" appears more than once")
	}
	return nil
}

// cookieTwice reports Cookie header lines that send one cookie name in more
// than one line. A client sends one Cookie line (RFC 6265 §5.4); lines that
// split distinct cookies between them (as an HTTP/2 hop may) say one thing
// and pass, but the same name on two lines is two values of one credential
// (a session, an XSRF token), of which userbridge and the upstream might
// read different ones. One line naming a cookie twice passes: RFC 6265
// lets a browser send same-named cookies of different paths that way.
func cookieTwice(lines []string) bool {
	seen := map[string]int{}
	for i, line := range lines {
		for _, c := range strings.Split(line, ";") {
			name, _, _ := strings.Cut(c, "=")
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if at, ok := seen[name]; ok && at != i {
				return true
			}
			seen[name] = i
		}
	}
	return false
}

// checkBodyHeaders checks the headers that say how to read the body, and
// the Idempotency-Key.
func (h *handler) checkBodyHeaders(x *exchange) *canonical.Error {
	hd := x.c.Request.Header
	// Headers that must say one thing: with two, which one counts would
	// depend on who reads them (userbridge reads the first, a proxy or the
	// upstream may read the last).
	// (Content-Type is not among them: the client's never goes upstream.)
	for _, name := range [...]string{HeaderIdempotency, "Content-Encoding"} {
		if len(hd[name]) > 1 {
			return canonical.Errorf(canonical.BadRequest, name+" appears more than once")
		}
	}
	// A body is read as sent: one encoded (gzip, br, …) is not JSON, and
	// passing it on decoded or not would be a guess.
	if ce := strings.TrimSpace(first(hd, "Content-Encoding")); ce != "" && !strings.EqualFold(ce, "identity") {
		return canonical.Errorf(canonical.UnsupportedMediaType, "a Content-Encoding other than identity is not accepted; send the body unencoded")
	}
	ct := first(hd, "Content-Type")
	if ct == "" || h.p.AcceptsContentType(ct) {
		return nil
	}
	return canonical.Errorf(canonical.UnsupportedMediaType, "Content-Type must be one of "+strings.Join(h.p.ContentTypes(), ", "))
}

// first is h.Get(name) for a name in canonical form, as every constant
// name here is: Get would canonicalise it again on every request.
func first(h http.Header, name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}
