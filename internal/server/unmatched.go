package server

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/userbridge/userbridge/internal/migrate"
	"github.com/userbridge/userbridge/mapping"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// unmatchedAnswer answers the requests no route of one engine matches (gin's
// NoRoute, 404, and NoMethod, 405). A legacy client may understand no
// error body but its vendor's (Finix's SDK crashes on any other), so such
// a request is answered in a dialect's error envelope when it is plainly
// meant for that dialect, and in the generic envelope (writeCanonical)
// otherwise. The rule, over the dialect routes of the engine:
//
//  1. the routes whose path template the request's path fits, a parameter
//     segment fitting any segment, an empty one included, and one trailing
//     slash ignored: PUT /users/ and PUT /users/x/ fit /users/:user_id;
//  2. of those, the ones whose method is the request's: when exactly one,
//     its dialect answers;
//  3. else, when the routes of step 1 are all one dialect's and the
//     request carries no header distinctive of another dialect (step 4's
//     headers), it answers: GET /v1/{apiKey}/users/{username} is Baasic's,
//     but not with Finix-Version, which says a Finix client is lost;
//  4. else, of those of step 1 whatever their method, the ones whose
//     dialect the request names by a header distinctive of it: one its
//     rules forward or read credentials from (forwardHeaders,
//     credentialHeaders) and no other dialect of the engine does
//     (Finix-Version, Shift's x-key, Crafter's X-XSRF-TOKEN; never
//     Authorization, which several read): when exactly one, its dialect
//     answers;
//  5. else, when no route fits the path at all, the one dialect a header
//     distinctive of it names, when the path is its (any path for a
//     dialect at the root, one under its prefix otherwise): a Finix client's
//     GET /identities is Finix's;
//  6. else, for a 404, the dialect the path belongs to by its place: the
//     one under whose prefix it is, or the engine's only dialect at its
//     root (relay.go's rules 2 and 3);
//  7. else the generic envelope.
//
// So a path picks a dialect only when it is that dialect's alone: Finix's
// PUT and Trusted Twin's PATCH /users/{id} share one, and a GET there is
// Finix's only with a Finix-Version header. The dialect answers its
// not_found error (404), or userbridge's method_not_allowed (405, with an
// Allow header). It leaves an access line and is
// counted under the dialect with route "unmatched"; the generic answer is
// counted under dialect "none", without a line.
//
// A request that belongs to a dialect in shadow mode is not answered but
// relayed to its legacy vendor (relay.go), by a rule that starts from this
// one.
type unmatchedAnswer struct {
	obs    Observer
	routes []mountedRoute
	// distinct maps each distinctive header (canonical form) to the one
	// dialect of the engine that declares it.
	distinct map[string]string
	// own are the path templates of the routes userbridge serves itself
	// (probes, metrics): never relayed.
	own [][]string
	// sole is the engine's only dialect when it has one, mounted at the
	// root; nil otherwise.
	sole *handler
}

// mountedRoute is one dialect route of an engine.
type mountedRoute struct {
	method string
	segs   []string // the path template's segments: literals, or ":name"/"*name"
	prefix string   // the dialect's prefix, "" at the root
	h      *handler
}

// add records a dialect route of the engine; at build time only (the
// answer reads routes and distinct from any goroutine, unsynchronized).
func (u *unmatchedAnswer) add(method, path, prefix string, h *handler) {
	u.routes = append(u.routes, mountedRoute{method: method, segs: strings.Split(path, "/"), prefix: prefix, h: h})
}

// seal finds the distinctive headers and the sole dialect once every
// route is added, and keeps own, the paths userbridge serves itself.
func (u *unmatchedAnswer) seal(own [][]string) {
	u.own = own
	u.sole = nil
	if len(u.routes) > 0 && u.routes[0].prefix == "" {
		u.sole = u.routes[0].h
		for _, r := range u.routes[1:] {
			if r.h != u.sole {
				u.sole = nil
				break
			}
		}
	}
	owners := map[string]map[string]bool{}
	for _, r := range u.routes {
		for _, names := range [][]string{r.h.p.ForwardHeaders(), r.h.p.CredentialHeaders()} {
			for _, n := range names {
				n = http.CanonicalHeaderKey(n)
				if owners[n] == nil {
					owners[n] = map[string]bool{}
				}
				owners[n][r.h.name] = true
			}
		}
	}
	u.distinct = map[string]string{}
	for n, by := range owners {
		if len(by) == 1 {
			for name := range by {
				u.distinct[n] = name
			}
		}
	}
}

// fits reports whether a request path fits a route template (step 1).
func fits(segs []string, path string) bool {
	ps := strings.Split(path, "/")
	if len(ps) == len(segs)+1 && ps[len(ps)-1] == "" { // one trailing slash
		ps = ps[:len(ps)-1]
	}
	for i, s := range segs {
		if strings.HasPrefix(s, "*") {
			return i < len(ps)
		}
		if i >= len(ps) {
			return false
		}
		if !strings.HasPrefix(s, ":") && s != ps[i] {
			return false
		}
	}
	return len(ps) == len(segs)
}

// route picks the route whose dialect answers r, or nil (the rule above).
func (u *unmatchedAnswer) route(r *http.Request) *mountedRoute {
	path := r.URL.EscapedPath()
	named := u.headerNamed(r)
	var fit []*mountedRoute
	for i := range u.routes {
		if fits(u.routes[i].segs, path) {
			fit = append(fit, &u.routes[i])
		}
	}
	if len(fit) == 0 { // step 5: the dialect a header names, where the path is its
		var its []*mountedRoute
		for i := range u.routes {
			if m := &u.routes[i]; m.prefix == "" || migrate.Under(path, m.prefix) {
				its = append(its, m)
			}
		}
		return oneNamed(its, named)
	}
	var byMethod []*mountedRoute
	for _, m := range fit {
		if m.method == r.Method {
			byMethod = append(byMethod, m)
		}
	}
	if len(byMethod) == 1 {
		return byMethod[0]
	}
	if oneDialect(fit) && (len(named) == 0 || len(named) == 1 && named[0] == fit[0].h.name) { // step 3
		return fit[0]
	}
	return oneNamed(fit, named) // step 4
}

// headerNamed lists the dialects r names by a header distinctive of each
// (u.distinct), each once.
func (u *unmatchedAnswer) headerNamed(r *http.Request) []string {
	var out []string
	for n, name := range u.distinct {
		if len(r.Header.Values(n)) > 0 && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// oneNamed is the first of routes whose dialect is named, when those are
// all one dialect's; nil when none is, or two dialects are.
func oneNamed(routes []*mountedRoute, named []string) *mountedRoute {
	var pick *mountedRoute
	for _, m := range routes {
		switch {
		case !slices.Contains(named, m.h.name):
		case pick == nil:
			pick = m
		case pick.h != m.h:
			return nil // two dialects named
		}
	}
	return pick
}

// oneDialect reports whether the routes are all one dialect's (step 3).
func oneDialect(fit []*mountedRoute) bool {
	for _, m := range fit[1:] {
		if m.h != fit[0].h {
			return false
		}
	}
	return true
}

func (u *unmatchedAnswer) noRoute(c *gin.Context) {
	u.answer(c, http.StatusNotFound, "not_found", "no dialect serves "+c.Request.Method+" "+c.Request.URL.Path)
}

func (u *unmatchedAnswer) noMethod(c *gin.Context) {
	u.answer(c, http.StatusMethodNotAllowed, "method_not_allowed", c.Request.Method+" is not served on "+c.Request.URL.Path)
}

func (u *unmatchedAnswer) answer(c *gin.Context, status int, code, msg string) {
	start := time.Now()
	owner := u.relayOwner(c.Request)
	if owner != nil && owner.shadows() {
		owner.serveRelayed(c) // the vendor answers, with an access line
		return
	}
	if m := u.route(c.Request); m != nil {
		m.h.unmatched(c, status, m.method) // counted with its access line
		return
	}
	if owner != nil && status == http.StatusNotFound {
		owner.unmatched(c, status, "") // a path of its own: under its prefix, or it is alone
		return
	}
	writeCanonical(c, status, code, msg)
	u.obs.Request(noDialect, unmatched, status, time.Since(start))
}

// unmatched answers, in the dialect's error envelope, a request meant for
// it that its route does not match (see unmatchedAnswer): not_found (404),
// or method_not_allowed (405, allow in Allow), each at the status the
// dialect's errors.status gives its code, as every other answer of the
// code (and its ${error.status}, and its OpenAPI document).
func (h *handler) unmatched(c *gin.Context, status int, allow string) {
	x := &exchange{c: c, start: time.Now(), route: unmatched}
	x.in = mapping.Input{Params: &c.Params, Path: c.Request.URL.EscapedPath(), RequestID: requestID(c.Request.Header.Get(HeaderRequestID))}
	x.in.URL = requestURL(c.Request, h.trustForwarded, x.in.Path)
	e := canonical.Errorf(canonical.NotFound, "no user is served at this path")
	if status == http.StatusMethodNotAllowed {
		e = canonical.Errorf(canonical.MethodNotAllowed, c.Request.Method+" is not served here; "+allow+" is")
		c.Header("Allow", allow)
	}
	rep := h.p.RenderError(&x.in, e) // at the status the rules give the code, as ${error.status} says
	x.code = e.Code
	sent := h.write(x, rep)
	h.finish(x, sent) // an access line and the metrics, as every dialect answer
	if x.cut {
		// Cut off at shutdown: nothing is written, and gin must not write
		// its own plain-text 404/405 in its place; the connection drops.
		panic(http.ErrAbortHandler)
	}
}
