package upstream

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/userbridge/userbridge/mapping/canonical"
)

// Do sends one request of another upstream protocol (the scim and rules
// profiles) through the client: its connection pool, deadline, retry policy
// and breaker, exactly as Patch and Get. path is appended to the base URL:
// an escaped path starting with '/', optionally with a query; the caller
// escapes every value it puts there. body is sent when non-nil. header is
// sent as is; an Accept or Content-Type in it is kept (default
// application/json).
//
// Every reply is handed back as it came: Result.Status is the upstream's
// status, Result.Body its body (any status, nil when empty) and
// Result.Header its headers; mapping an error status is the caller's
// business. The *canonical.Error is for exchanges without a usable reply:
// unreachable, too slow, cut short, over MaxReplyBytes, breaker open. A
// GET is retried like Get, any other method like Patch; a 5xx reply counts
// as a failure for the breaker.
//
// Do's request is for no user: the breaker takes any failure of it as
// evidence about the upstream. A request made for a user goes through
// DoFor.
func (c *Client) Do(ctx context.Context, method, path string, body []byte, header http.Header) (*Result, *canonical.Error) {
	return c.DoFor(ctx, UserRef{}, method, path, body, header)
}

// DoFor is Do for a request made on behalf of user (the call's User(), for
// every request of the call: a lookup of the username as much as the
// update). A failure that may be the user's record's (a 500, a timeout)
// then counts for that user only, and one user's failures alone never
// open the breaker.
func (c *Client) DoFor(ctx context.Context, user UserRef, method, path string, body []byte, header http.Header) (*Result, *canonical.Error) {
	if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "# \t\r\n") {
		return &Result{}, canonical.Errorf(canonical.Internal, "the upstream path is not an escaped absolute path")
	}
	return c.guarded(ctx, &request{method: method, target: c.base + path, body: body, header: header, raw: true, user: user})
}

// rawReply reads any reply into res for Do. verdict is what the breaker
// counts: a 5xx reply (statusVerdict) or a reply cut short is a failure.
func (c *Client) rawReply(ctx context.Context, res *Result, resp *http.Response, update bool) (cerr *canonical.Error, verdict error) {
	res.Status, res.Header = resp.StatusCode, resp.Header
	if resp.StatusCode >= 500 {
		verdict = statusVerdict(resp.StatusCode)
	}
	body, err := readBody(resp, c.maxReply)
	switch {
	case errors.Is(err, errTooLarge):
		return canonical.Errorf(canonical.BadGateway, "upstream reply too large"), verdict
	case err != nil:
		res.Cause = causeOf(err)
		e := appliedError("the upstream's reply was cut short", update && resp.StatusCode < 300)
		if ctx.Err() != nil {
			e.Code = canonical.GatewayTimeout
		}
		return e, ErrUpstreamFailed
	}
	if len(body) > 0 {
		res.Body = body
	}
	return nil, verdict
}

// Tally adds up the exchanges of one call that takes several (a username
// lookup, then the update) so that the call reports them as one Result.
type Tally struct {
	// Attempts counts every HTTP attempt so far.
	Attempts int
	// Last is the most recent exchange's result.
	Last *Result
}

// Note counts an exchange's attempts, keeps it as the last one and passes
// it through.
func (t *Tally) Note(res *Result, cerr *canonical.Error) (*Result, *canonical.Error) {
	if res != nil {
		t.Attempts += res.Attempts
		t.Last = res
	}
	return res, cerr
}

// Result is what the call reports: res's (or else the last exchange's)
// status and headers, with the attempts of all of them.
func (t *Tally) Result(res *Result) *Result {
	out := &Result{Attempts: t.Attempts}
	if res == nil {
		res = t.Last
	}
	if res != nil {
		out.Status, out.Header, out.Cause = res.Status, res.Header, res.Cause
	}
	return out
}
