package conformance

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/userbridge/userbridge/mapping"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// Check runs the case against a dialect's compiled rules, as the server
// would run its request, and returns what differs from what the case
// expects, one problem each (a problem may span lines: a diff); none when
// the case passes. It is the one implementation of a golden case: `go
// test` (RunGolden) and `userbridge test` both call it.
func (c *Case) Check(p *mapping.Program) []string {
	var probs []string
	fail := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	in := Input(p, c.Path, c.RequestBody())
	if in.Params == nil {
		fail("path %q does not match the route %s %s", c.Path, p.Route().Method, p.Route().Path)
		return probs
	}
	if c.Method != "" && !strings.EqualFold(c.Method, p.Route().Method) {
		// The server answers 405 before any rule runs, in the dialect's
		// envelope or the generic one depending on the other dialects
		// served and the request's headers (internal/server/unmatched.go):
		// nothing a rule file decides.
		fail("method %s: dialect %s is served on %s %s; a request with another method never reaches its rules",
			strings.ToUpper(c.Method), p.Name(), p.Route().Method, p.Route().Path)
		return probs
	}
	if refused := c.refusedContentType(p); refused != nil {
		if c.Error == nil {
			fail("refused, want it translated: %s", refused.Message)
			return probs
		}
		return append(probs, checkReply("error", p.RenderError(in, refused), c.Error)...)
	}
	var update []byte
	res, cerr := p.Translate(in)
	if cerr == nil {
		needed := false
		update, cerr = res.Update(func() ([]byte, *canonical.Error) {
			if c.Stored == nil {
				needed = true
				return nil, canonical.Errorf(canonical.Internal, "no stored user")
			}
			return mustJSON(c.Stored), nil
		})
		if needed {
			fail("the password rule needs the stored user: give the case stored: {username: …}")
			return probs
		}
	}
	if c.Error != nil {
		if cerr == nil {
			fail("translated, want a refusal; update: %s", update)
			return probs
		}
		return append(probs, checkReply("error", p.RenderError(in, cerr), c.Error)...)
	}
	if cerr != nil {
		fail("refused, want it translated: %s (field %q); the dialect answers %s", cerr.Message, cerr.Field, replyLine(p.RenderError(in, cerr)))
		return probs
	}
	if err := canonical.ValidateUpdate(update); err != nil {
		fail("the update is not valid per canonical.md: %v\n%s", err, update)
	}
	if c.Update != nil {
		if d := jsonDiff(update, c.Update); d != nil {
			fail("update differs (- want, + got):\n%s", strings.Join(d, "\n"))
		}
	}
	if c.Target != "" && res.Target.String() != c.Target {
		fail("target = %s, want %s", res.Target, c.Target)
	}
	if c.Value != "" && res.Value != c.Value {
		fail("value = %q, want %q", res.Value, c.Value)
	}
	if res.Tenant != c.Tenant {
		fail("tenant = %q, want %q", res.Tenant, c.Tenant)
	}
	if c.Upstream == nil {
		if c.Response != nil {
			fail("a response needs an upstream answer (upstream: {user: …} or {error: …})")
		}
		return probs
	}
	if c.Response == nil {
		fail("an upstream answer needs an expected response")
		return probs
	}
	var rep *mapping.Reply
	if c.Upstream.Error != nil {
		rep = p.RenderError(in, p.UpstreamError(in, c.Upstream.CanonicalError())) // as the server names it
	} else {
		var user []byte
		if c.Upstream.User != nil {
			user = mustJSON(c.Upstream.User)
		}
		rep = p.RenderSuccess(in, res, user)
	}
	return append(probs, checkReply("response", rep, c.Response)...)
}

// refusedContentType is the server's refusal of a Content-Type the
// dialect does not accept (request.contentTypes), from the case's headers.
func (c *Case) refusedContentType(p *mapping.Program) *canonical.Error {
	for name, v := range c.Headers {
		if strings.EqualFold(name, "Content-Type") && v != "" && !p.AcceptsContentType(v) {
			return canonical.Errorf(canonical.UnsupportedMediaType, "Content-Type must be one of "+strings.Join(p.ContentTypes(), ", "))
		}
	}
	return nil
}

func replyLine(r *mapping.Reply) string {
	return fmt.Sprintf("%d %s", r.Status, r.Body)
}

func checkReply(what string, got *mapping.Reply, want *Reply) []string {
	var probs []string
	fail := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	if got.Status != want.Status {
		fail("%s status = %d, want %d (body %s)", what, got.Status, want.Status, got.Body)
	}
	if want.ContentType != "" && got.ContentType != want.ContentType {
		fail("%s content type = %q, want %q", what, got.ContentType, want.ContentType)
	}
	for _, name := range slices.Sorted(maps.Keys(want.Headers)) {
		v := want.Headers[name]
		found := false
		for _, h := range got.Headers {
			if strings.EqualFold(h.Name, name) {
				found = true
				if h.Value != v {
					fail("%s header %s = %q, want %q", what, name, h.Value, v)
				}
			}
		}
		if !found {
			fail("%s header %s missing; have %v", what, name, got.Headers)
		}
	}
	switch {
	case want.NoBody:
		if got.Body != nil {
			fail("%s has a body, want none: %s", what, got.Body)
		}
	case want.Body != nil:
		if d := jsonDiff(got.Body, want.Body); d != nil {
			fail("%s body differs (- want, + got):\n%s", what, strings.Join(d, "\n"))
		}
	}
	if want.BodyHas != nil {
		if d := jsonSubset(got.Body, want.BodyHas); d != nil {
			fail("%s body differs from bodyHas (- want, + got):\n%s", what, strings.Join(d, "\n"))
		}
	}
	return probs
}
