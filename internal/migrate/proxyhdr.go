package migrate

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// UnsafePath reports whether an escaped request path has a segment that a
// server or proxy on the vendor's side could resolve as "." or ".." (RFC
// 3986 section 5.2.4), taking the path outside legacy.url's, or outside the
// prefix that made it a dialect's: once %-decoded (as many as three times,
// for a server that decodes again), with '\' a separator too and a
// segment's ";parameters" left out (Tomcat reads "..;x" as "..").
func UnsafePath(escaped string) bool {
	p := escaped
	for range 3 {
		if !strings.Contains(p, "%") {
			break
		}
		d, err := url.PathUnescape(p)
		if err != nil || d == p {
			break
		}
		p = d
	}
	for rest, more := p, true; more; {
		var seg string
		if i := strings.IndexAny(rest, `/\`); i >= 0 {
			seg, rest = rest[:i], rest[i+1:]
		} else {
			seg, more = rest, false
		}
		seg, _, _ = strings.Cut(seg, ";")
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// forwarded sets the X-Forwarded-* headers of the call to the vendor, as
// httputil.ProxyRequest.SetXForwarded does, with the client's view of
// userbridge (hop.Scheme, hop.Host). What a client sent in X-Forwarded-For,
// Forwarded or X-Real-Ip is kept only with hop.TrustForwarded (the peer is
// a proxy that set them); else they are replaced, so that a client cannot
// name another address to a vendor that throttles by address.
func forwarded(h http.Header, r *http.Request, hop Hop) {
	peer, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		peer = ""
	}
	if !hop.TrustForwarded {
		for _, n := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Real-Ip"} {
			h.Del(n)
		}
	}
	switch prior := h.Values("X-Forwarded-For"); {
	case peer == "":
	case len(prior) > 0:
		h.Set("X-Forwarded-For", strings.Join(prior, ", ")+", "+peer)
	default:
		h.Set("X-Forwarded-For", peer)
	}
	h.Set("X-Forwarded-Host", hop.Host)
	h.Set("X-Forwarded-Proto", hop.Scheme)
}

// rewrite puts the vendor's own paths in its answer under the prefix the
// client reached the dialect by, as nginx's proxy_redirect default and
// proxy_cookie_path do: a Location or Content-Location on the vendor (its
// scheme and host, or an absolute path) under legacy.url's path is made
// the client's (hop.Scheme, hop.Host, the prefix); a cookie's Path under
// legacy.url's path likewise, and a Domain naming the vendor's host is
// dropped (the cookie is then userbridge's host's). Others are left as
// they are.
func (v *Vendor) rewrite(h http.Header, hop Hop) {
	base := strings.TrimSuffix(v.base.EscapedPath(), "/")
	for _, name := range []string{"Location", "Content-Location"} {
		if loc := h.Get(name); loc != "" {
			h.Set(name, v.location(loc, base, hop))
		}
	}
	if cs := h.Values("Set-Cookie"); len(cs) > 0 {
		out := make([]string, len(cs))
		for i, c := range cs {
			out[i] = v.cookie(c, base, hop.Prefix)
		}
		h["Set-Cookie"] = out
	}
}

// location is loc with the vendor's base (scheme, host, base path)
// replaced by the client's (hop.Scheme, hop.Host, prefix).
func (v *Vendor) location(loc, base string, hop Hop) string {
	u, err := url.Parse(loc)
	if err != nil {
		return loc
	}
	switch {
	case u.Scheme == "" && u.Host == "" && strings.HasPrefix(loc, "/"):
		if rest, ok := below(u.EscapedPath(), base); ok {
			return hop.Prefix + rest + tail(loc)
		}
	case strings.EqualFold(u.Scheme, v.base.Scheme) && strings.EqualFold(u.Host, v.base.Host):
		if rest, ok := below(u.EscapedPath(), base); ok {
			return hop.Scheme + "://" + hop.Host + hop.Prefix + rest + tail(loc)
		}
	}
	return loc
}

// tail is loc's query and fragment, as written.
func tail(loc string) string {
	if i := strings.IndexAny(loc, "?#"); i >= 0 {
		return loc[i:]
	}
	return ""
}

// Under reports whether path is base or below it (a path segment boundary
// after base).
func Under(path, base string) bool {
	_, ok := below(path, base)
	return ok
}

// below reports whether path is base or below it, and the rest after base
// ("/" for base itself).
func below(path, base string) (string, bool) {
	switch {
	case path == base:
		return "/", true
	case strings.HasPrefix(path, base+"/"):
		return path[len(base):], true
	}
	return "", false
}

// cookie is a Set-Cookie value with its Path under base put under prefix
// and a Domain naming the vendor's host dropped; its other attributes as
// they were.
func (v *Vendor) cookie(c, base, prefix string) string {
	attrs := strings.Split(c, ";")
	out := attrs[:1]
	for _, a := range attrs[1:] {
		k, val, _ := strings.Cut(a, "=")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "path":
			if rest, ok := below(strings.TrimSpace(val), base); ok {
				p := prefix + rest
				if prefix != "" && rest == "/" {
					p = prefix
				}
				a = " Path=" + p
			}
		case "domain":
			if strings.EqualFold(strings.TrimPrefix(strings.TrimSpace(val), "."), v.base.Hostname()) {
				continue
			}
		}
		out = append(out, a)
	}
	return strings.Join(out, ";")
}
