package mapping

import (
	"fmt"
	"maps"
	"net/http"
	"slices"

	"golang.org/x/net/http/httpguts"
)

// notPassedBack are the reply headers no rule may pass back from the
// upstream: the connection's own (HTTP/1.1 framing, hop by hop), the body's
// (userbridge writes its own), and the upstream's cookies.
var notPassedBack = map[string]bool{"Connection": true, "Keep-Alive": true, "Transfer-Encoding": true,
	"Content-Length": true, "Content-Type": true, "Content-Encoding": true, "Te": true, "Trailer": true,
	"Upgrade": true, "Proxy-Authenticate": true, "Set-Cookie": true, "X-Request-Id": true}

// notWritten are the answer headers no rule may set: the connection's own,
// the body's (userbridge writes the body and its Content-Type from
// contentType) and userbridge's X-Request-Id; notPassedBack but Set-Cookie,
// which a dialect's rules may set.
var notWritten = func() map[string]bool {
	m := map[string]bool{"Proxy-Connection": true}
	for k := range notPassedBack {
		m[k] = k != "Set-Cookie"
	}
	return m
}()

// checkHeaderNames checks the names of a headers map of templates.
func checkHeaderNames(pr *problems, where string, hs map[string]string) {
	seen := map[string]string{}
	for _, h := range slices.Sorted(maps.Keys(hs)) {
		c := http.CanonicalHeaderKey(h)
		other, twice := seen[c]
		seen[c] = h
		switch {
		case twice:
			pr.addf(where+"."+h, "names the header %s again (as %s): header names are case-insensitive", c, other)
		case !httpguts.ValidHeaderFieldName(h):
			pr.addf(where+"."+h, "%q is not a header name", h)
		case c == "Content-Type":
			pr.addf(where+"."+h, "Content-Type is set by contentType, not headers")
		case notWritten[c]:
			pr.addf(where+"."+h, "%s cannot be set: userbridge writes it, or it is the connection's", c)
		}
	}
}

func compileUpstreamHeaders(pr *problems, names []string) []string {
	var out []string
	for i, h := range names {
		c := http.CanonicalHeaderKey(h)
		switch {
		case !httpguts.ValidHeaderFieldName(h):
			pr.addf(fmt.Sprintf("response.upstreamHeaders[%d]", i), "%q is not a header name", h)
		case notPassedBack[c]:
			pr.addf(fmt.Sprintf("response.upstreamHeaders[%d]", i), "%s is not passed back: userbridge writes it, or it is the connection's", c)
		case !slices.Contains(out, c):
			out = append(out, c)
		}
	}
	return out
}
