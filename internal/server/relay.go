package server

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/migrate"
)

// In shadow mode the legacy vendor is the truth for all of a dialect's
// API, not only for the update route userbridge translates: a legacy
// client pointed at userbridge also reads users, lists them, creates and
// deletes them, logs in. A request no route of an engine matches (gin's
// NoRoute or NoMethod, unmatchedAnswer) that belongs to a dialect in
// shadow mode is therefore relayed to that dialect's vendor through the
// same hop as the update (migrate.Vendor.Call: method, path without the
// prefix, query, body byte for byte, end-to-end headers, X-Forwarded-*,
// legacy.tls and legacy.timeout), and the vendor's answer is relayed to the
// client unchanged. There is nothing to compare, so no comparison is
// recorded; the access line and the request metric name the route
// "relayed". In primary mode (userbridge is the truth) and with mode off,
// such a request gets userbridge's own 404 or 405, as any dialect's.
//
// Which dialect a request belongs to (relayOwner):
//
//  1. never one, when its path fits a route userbridge serves itself on
//     any engine or on the admin listener (the probes and the metrics,
//     whatever the method): those are userbridge's, not a vendor's;
//  2. a dialect mounted under a prefix owns every path under it: the
//     prefix itself and whatever follows it after a '/' (the longest
//     prefix when prefixes nest; when several dialects share it, the
//     rule of unmatchedAnswer chooses among them, or none);
//  3. outside every prefix, when the engine serves a single dialect, at
//     its root, every request is that dialect's;
//  4. else the dialect that the rule of unmatchedAnswer picks (the path
//     fits its route template and the method, or its route alone fits the
//     path and no other dialect's header is there, or a header distinctive
//     of it names it), if it is mounted at the root; else none.
//
// A request of no dialect, or of one not in shadow mode, is answered by
// userbridge (unmatchedAnswer).

// relayedRoute is the route label of a request relayed to a vendor: one
// value for all of them, never the request's path, so that the metric's
// label values stay bounded.
const relayedRoute = "relayed"

// ownRoutes lists the path templates of the routes userbridge serves
// itself, other than the dialects': those of every engine that are no
// dialect route, and those of the admin handler when it is an engine.
func ownRoutes(engines []*gin.Engine, dialects []*unmatchedAnswer, admin http.Handler) [][]string {
	isDialect := map[string]bool{}
	for _, u := range dialects {
		for _, r := range u.routes {
			isDialect[r.method+" "+strings.Join(r.segs, "/")] = true
		}
	}
	var paths []string
	add := func(routes gin.RoutesInfo) {
		for _, r := range routes {
			if !isDialect[r.Method+" "+r.Path] && !slices.Contains(paths, r.Path) {
				paths = append(paths, r.Path)
			}
		}
	}
	for _, e := range engines {
		add(e.Routes())
	}
	if e, ok := admin.(interface{ Routes() gin.RoutesInfo }); ok {
		add(e.Routes())
	}
	out := make([][]string, 0, len(paths))
	for _, p := range paths {
		out = append(out, strings.Split(p, "/"))
	}
	return out
}

// relayOwner picks the dialect a request no route matched belongs to (the
// rule above), or nil.
func (u *unmatchedAnswer) relayOwner(r *http.Request) *handler {
	path := r.URL.EscapedPath()
	for _, segs := range u.own {
		if fits(segs, path) {
			return nil
		}
	}
	var within []*mountedRoute // the routes of the longest prefix path is under
	for i := range u.routes {
		m := &u.routes[i]
		switch {
		case m.prefix == "" || !migrate.Under(path, m.prefix):
		case len(within) == 0 || len(m.prefix) > len(within[0].prefix):
			within = []*mountedRoute{m}
		case len(m.prefix) == len(within[0].prefix):
			within = append(within, m)
		}
	}
	if len(within) > 0 {
		if len(within) == 1 {
			return within[0].h
		}
		if m := u.route(r); m != nil && slices.Contains(within, m) {
			return m.h
		}
		return nil
	}
	if u.sole != nil {
		return u.sole
	}
	if m := u.route(r); m != nil && m.prefix == "" {
		return m.h
	}
	return nil
}

// shadows reports whether h's dialect is in shadow mode.
func (h *handler) shadows() bool {
	return h.mig != nil && h.mig.vendor.Mode == config.LegacyShadow
}

// serveRelayed relays a request of h's dialect, in shadow mode, that no
// route matched to the dialect's vendor (the rule above).
func (h *handler) serveRelayed(c *gin.Context) { h.serveOne(c, relayedRoute, (*handler).relayToVendor) }

// relayToVendor sends the request to the vendor and relays its answer
// unchanged. What the vendor never answered is told in the dialect's own
// error, as on the update route: 502, or 504 when it was too slow; a body
// over server.maxBodyBytes, which could not be passed on byte for byte,
// is refused in it (413) and never sent.
// A path with a dot segment the hop refuses (migrate.ErrUnsafePath) is
// the dialect's 400, never sent (vendorError).
func (h *handler) relayToVendor(x *exchange) int {
	var buf []byte
	body, e := h.readBody(x, &buf)
	if e != nil {
		return h.fail(x, e)
	}
	r := x.c.Request
	a, err := h.mig.vendor.Call(h.flight.callContext(r.Context()), r, h.hop(x), body)
	if err != nil {
		return h.fail(x, vendorError(err))
	}
	return h.relay(x, a)
}
