package upstream

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/userbridge/userbridge/mapping/canonical"
)

// Call is one request to the upstream.
type Call struct {
	// Target says whether Value is the user's id or username.
	Target canonical.Target
	// Value is the user's id or username. It fills {id} or {username}
	// path-escaped; "", "." and ".." are refused.
	Value string
	// Tenant fills {tenant}, path-escaped, where the template uses it.
	Tenant string
	// Body is the canonical update document. Patch requires it; Get sends
	// no body.
	Body []byte
	// Header is sent as is on every attempt: credentials, Idempotency-Key,
	// X-Request-ID, X-Userbridge-Dialect, X-Userbridge-Tenant, traceparent.
	// The client adds Accept (and Content-Type on Patch) and never modifies
	// the map; it must not change during the call.
	Header http.Header
}

// Result is what a call came to. Patch and Get return one on failure too,
// for the caller's logs and metrics.
type Result struct {
	// Status is 200 or 204 on success (any other 2xx is reported as 200).
	// On failure it is the upstream's last status, 0 if it never answered.
	Status int
	// Body is the upstream's answer on 200: what opens a JSON object, not
	// yet checked further. Whoever reads it as a user first checks it
	// whole with canonical.CheckAnswer (syntax, types, the user addressed),
	// as the server does with every answer, in one pass; the client does
	// not parse it a second time. nil on 204 and on failure.
	Body []byte
	// Header holds the upstream's last reply headers; nil without a reply.
	Header http.Header
	// Attempts is how many HTTP requests the call made; 0 when it was
	// refused before sending (a bad value, the breaker open).
	Attempts int
	// Cause is the underlying error of a failure the upstream did not
	// answer, for logs only (never shown to clients, never holding the
	// URL); nil otherwise.
	Cause error
	// Waited is true when the call waited for the upstream before it
	// could send anything (a SCIM provider's discovery): its time is the
	// upstream's even when it was refused before sending.
	Waited bool
}

// Patch sends the canonical update document call.Body to the user's path.
// It retries only what cannot apply the update twice: an attempt that never
// got a connection, a 502, 503 or 504 reply, and a 429, each within the
// call's deadline and with the same headers (hence the same
// Idempotency-Key).
func (c *Client) Patch(ctx context.Context, call *Call) (*Result, *canonical.Error) {
	if call.Body == nil {
		return &Result{}, canonical.Errorf(canonical.Internal, "no update document to send")
	}
	return c.do(ctx, http.MethodPatch, call)
}

// Get fetches the stored user. It retries like Patch and, being safe to
// repeat, also after a connection failed mid-request.
func (c *Client) Get(ctx context.Context, call *Call) (*Result, *canonical.Error) {
	return c.do(ctx, http.MethodGet, call)
}

func (c *Client) do(ctx context.Context, method string, call *Call) (*Result, *canonical.Error) {
	u, cerr := c.url(call)
	if cerr != nil {
		return &Result{}, cerr
	}
	var body []byte
	if method != http.MethodGet {
		body = call.Body
	}
	return c.guarded(ctx, &request{method: method, url: u, body: body, header: call.Header, user: call.User()})
}

// request is one exchange, as do (the canonical profile) and Do (raw) make it.
type request struct {
	method string
	url    *url.URL // the canonical calls': built, not parsed
	target string   // Do's: a URL to parse
	body   []byte   // nil: no body
	header http.Header
	raw    bool    // Do: hand back any reply as it came, keep the caller's Accept and Content-Type
	user   UserRef // whom the breaker counts a failure that may be one record's against
}

// send makes the attempts of one call under one deadline. verdict is what
// the breaker counts: nil, ErrUpstreamFailed, ErrUpstreamDown, ErrCallerGone
// or ErrNotSent.
func (c *Client) send(ctx context.Context, rq *request) (res *Result, cerr *canonical.Error, verdict error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	x := c.newExchange(rq.method == http.MethodGet, deadline)
	defer c.release(x)
	ctx = httptrace.WithClientTrace(ctx, &x.trace)

	var body any // untyped nil: no body
	if rq.body != nil {
		// go-retryablehttp opens a new reader over the body for every
		// attempt (and once to learn its length) through x.open, bound
		// when the exchange was made: no closure or boxed slice per call.
		// Each reader is its own and reads the caller's bytes, never the
		// exchange's; x.open is called only inside x.rc.Do (GetBody is
		// dropped below).
		x.body = rq.body
		body = x.open
	}
	var req *retryablehttp.Request
	var err error
	if rq.url != nil {
		// Built, not parsed: the URL is ready and the header is set below.
		hr := (&http.Request{Method: rq.method, URL: rq.url, Host: rq.url.Host,
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}).WithContext(ctx)
		if req, err = retryablehttp.FromRequest(hr); err == nil {
			err = req.SetBody(body)
		}
	} else {
		req, err = retryablehttp.NewRequestWithContext(ctx, rq.method, rq.target, body)
	}
	if err != nil {
		return &Result{Cause: causeOf(err)}, canonical.Errorf(canonical.Internal, "could not build the upstream request"), nil
	}
	// Without GetBody net/http never resends the update by itself. With it,
	// and an Idempotency-Key header, it would replay the update on a reused
	// connection that broke after the request was written. Retries are
	// x.checkRetry's alone.
	req.GetBody = nil
	req.Header = requestHeader(rq.header, body != nil, rq.raw)

	resp, err := x.rc.Do(req)
	res = &Result{Attempts: x.attempts}
	if err != nil {
		if resp != nil { // not expected from the passthrough handler
			resp.Body.Close()
		}
		res.Cause = causeOf(err)
		cerr, verdict = x.failure(ctx, err)
		return res, cerr, verdict
	}
	if rq.raw {
		cerr, verdict = c.rawReply(ctx, res, resp, !x.idempotent)
	} else {
		cerr, verdict = c.reply(ctx, res, resp, !x.idempotent)
	}
	return res, cerr, verdict
}

var (
	jsonValue      = []string{"application/json"}
	userAgentValue = []string{"userbridge"}
)

// SetJSONHeaders sets the headers every canonical call carries: Accept and
// Content-Type application/json, and User-Agent userbridge unless h has
// one. A caller that builds its header with them saves Patch a copy of it.
// The values are shared: nothing may modify them.
func SetJSONHeaders(h http.Header) {
	h["Accept"] = jsonValue
	h["Content-Type"] = jsonValue
	SetUserAgent(h)
}

// SetUserAgent sets User-Agent userbridge unless h has one. A header given
// to Do with Accept, User-Agent and (with a body) Content-Type is sent as
// it is, not copied. The value is shared: nothing may modify it.
func SetUserAgent(h http.Header) {
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = userAgentValue
	}
}

// requestHeader is the header of an attempt: the caller's with the JSON
// headers (with keep, an Accept or Content-Type the caller set stays), and
// without Content-Type when there is no body. It is the caller's own map
// when that already holds what would be built (see SetJSONHeaders and
// SetUserAgent), else a copy sharing the caller's value slices, which
// nothing modifies.
func requestHeader(from http.Header, hasBody, keep bool) http.Header {
	if from["User-Agent"] != nil {
		switch {
		case keep && from["Accept"] != nil && (!hasBody || from["Content-Type"] != nil):
			return from
		case !keep && hasBody && isJSONValue(from["Accept"]) && isJSONValue(from["Content-Type"]):
			return from
		}
	}
	h := make(http.Header, len(from)+3)
	for k, v := range from {
		h[k] = v
	}
	if _, ok := h["Accept"]; !ok || !keep {
		h["Accept"] = jsonValue
	}
	if _, ok := h["Content-Type"]; hasBody && (!ok || !keep) {
		h["Content-Type"] = jsonValue
	} else if !hasBody && !keep {
		delete(h, "Content-Type")
	}
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = userAgentValue
	}
	return h
}

func isJSONValue(v []string) bool { return len(v) == 1 && v[0] == "application/json" }

// exchange is the state of one call's attempts, seen by the
// go-retryablehttp hooks.
type exchange struct {
	rc         retryablehttp.Client
	trace      httptrace.ClientTrace
	c          *Client
	deadline   time.Time
	idempotent bool // GET: may be resent after reaching the upstream
	attempts   int
	wait       time.Duration            // before the next attempt, set by checkRetry
	body       []byte                   // the call's body, which open reads; nil between calls
	open       retryablehttp.ReaderFunc // x.openBody, bound once
	connected  atomic.Bool              // the running attempt got a connection
	reached    bool                     // the last finished attempt got a connection
	refused    bool                     // an earlier attempt could not connect at all
}

// newExchange takes an exchange from the client's pool, its hooks already
// bound, and resets it for one call. Nothing holds an exchange once send
// returns: the hooks run only inside go-retryablehttp's Do.
func (c *Client) newExchange(idempotent bool, deadline time.Time) *exchange {
	x, _ := c.exchanges.Get().(*exchange)
	if x == nil {
		x = &exchange{c: c}
		x.trace.GotConn = x.gotConn
		x.rc.HTTPClient = c.http
		x.rc.Logger = nil // the library would log URLs, which hold usernames
		x.rc.RetryMax = c.maxAttempts - 1
		x.rc.CheckRetry = x.checkRetry
		x.rc.Backoff = x.backoff
		x.rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
		x.open = x.openBody
	}
	x.deadline, x.idempotent = deadline, idempotent
	x.attempts, x.wait, x.reached, x.refused = 0, 0, false, false
	x.connected.Store(false)
	return x
}

// release hands x back to the pool, holding none of the call's memory.
func (c *Client) release(x *exchange) {
	x.body = nil
	c.exchanges.Put(x)
}

// openBody is a new reader over the call's body: go-retryablehttp's
// ReaderFunc, called for each attempt. A *bytes.Reader, which
// go-retryablehttp wraps in io.NopCloser as it wraps its own: net/http
// then knows the body is in memory and writes it with the headers.
func (x *exchange) openBody() (io.Reader, error) { return bytes.NewReader(x.body), nil }

// minAttempt is the least time worth starting another attempt with: a retry
// that would begin closer to the deadline is not made, and the last answer
// is reported instead of a timeout.
const minAttempt = 50 * time.Millisecond

func (x *exchange) gotConn(httptrace.GotConnInfo) { x.connected.Store(true) }

// checkRetry is the retry policy, go-retryablehttp's CheckRetry hook,
// called once after every attempt. It also picks the wait before the next
// attempt (backoff returns it) and refuses any retry that could not start
// before the deadline. It never returns an error: the last reply or
// transport error is what the call reports.
func (x *exchange) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if errors.Is(err, errPoolBusy) {
		return false, nil // not sent, and the deadline is gone: not an attempt
	}
	x.attempts++
	x.reached = x.connected.Swap(false)
	if err != nil && !x.reached {
		x.refused = true
	}
	if ctx.Err() != nil || x.attempts >= x.c.maxAttempts {
		return false, nil
	}
	var wait time.Duration
	switch {
	case err != nil:
		if !x.resendable(err) {
			return false, nil
		}
		wait = x.c.jitter(x.attempts)
	case resp.StatusCode == http.StatusBadGateway, resp.StatusCode == http.StatusGatewayTimeout:
		wait = x.c.jitter(x.attempts)
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusServiceUnavailable:
		var ok bool
		if wait, ok = retryAfter(resp.Header.Get("Retry-After"), time.Now()); !ok {
			wait = x.c.jitter(x.attempts)
		}
	default:
		return false, nil
	}
	if wait+minAttempt >= time.Until(x.deadline) {
		return false, nil // report this reply now rather than time out waiting
	}
	x.wait = wait
	return true, nil
}

// backoff is go-retryablehttp's Backoff hook: the wait checkRetry chose.
func (x *exchange) backoff(_, _ time.Duration, _ int, _ *http.Response) time.Duration {
	return x.wait
}

// resendable reports whether an attempt that failed without a reply may be
// made again. An update may only when its request provably never reached the
// upstream: no connection was obtained (refused, unreachable, DNS, dial or
// TLS handshake failure). Once connected, a reset or EOF may follow a
// request the upstream applied. A certificate not trusted now will not be
// trusted on the next attempt.
func (x *exchange) resendable(err error) bool {
	if untrusted(err) {
		return false
	}
	return !x.reached || x.idempotent
}

// jitter is the exponential backoff with full jitter before retry n (1 for
// the first retry): uniform in [0, min(BackoffMax, BackoffMin·2ⁿ⁻¹)].
func (c *Client) jitter(n int) time.Duration {
	ceil := c.backoffMax
	if shift := n - 1; shift >= 0 && shift < 32 {
		if d := c.backoffMin << shift; d > 0 && d < ceil {
			ceil = d
		}
	}
	return rand.N(ceil + 1)
}

// retryAfter parses a Retry-After value: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// failure maps a call that ended without a reply. For the breaker, an
// attempt that never got a connection is evidence about the upstream
// (ErrUpstreamDown); one that did, then timed out or was cut, may be about
// the user's record (ErrUpstreamFailed).
func (x *exchange) failure(ctx context.Context, err error) (*canonical.Error, error) {
	switch {
	case errors.Is(err, errPoolBusy) && !x.reached:
		// Waiting for a place under upstream.maxConns, until the deadline:
		// nothing was sent, and the upstream did not fail.
		return canonical.Errorf(canonical.Unavailable, "every connection to the upstream (upstream.maxConns) stayed busy until the deadline; the request was not sent, retry later"), ErrNotSent
	case (errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded)) && x.refused && !x.reached:
		// the deadline ran out while retrying an upstream that refuses
		// connections: it is unreachable, not slow.
		return canonical.Errorf(canonical.BadGateway, "upstream unreachable"), ErrUpstreamDown
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		verdict := ErrUpstreamFailed
		if !x.reached {
			verdict = ErrUpstreamDown // no connection came in time
		}
		return canonical.Errorf(canonical.GatewayTimeout, x.maybeApplied("the upstream did not answer in time")), verdict
	case ctx.Err() != nil:
		return canonical.Errorf(canonical.BadGateway, x.maybeApplied("the request was cancelled before the upstream answered")), ErrCallerGone
	case untrusted(err):
		return canonical.Errorf(canonical.BadGateway, "the upstream's TLS certificate is not trusted"), ErrUpstreamDown
	case !x.reached:
		return canonical.Errorf(canonical.BadGateway, "upstream unreachable"), ErrUpstreamDown
	case tlsRefused(err):
		return canonical.Errorf(canonical.BadGateway, "the upstream refused the TLS connection"), ErrUpstreamDown
	}
	return canonical.Errorf(canonical.BadGateway, x.maybeApplied("the upstream closed the connection without answering")), ErrUpstreamFailed
}

// maybeApplied warns, for an update that reached the upstream, that its
// fate is unknown.
func (x *exchange) maybeApplied(msg string) string {
	if x.idempotent || !x.reached {
		return msg
	}
	return msg + "; the update may have been applied"
}

// untrusted reports a failed verification of the upstream's certificate.
func untrusted(err error) bool {
	var v *tls.CertificateVerificationError
	return errors.As(err, &v)
}

// tlsRefused reports a TLS alert from the upstream, such as a client
// certificate it does not accept.
func tlsRefused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}

// causeOf strips the URL (which may hold a username) from a transport error.
func causeOf(err error) error {
	var u *url.Error
	if errors.As(err, &u) {
		err = u.Err
	}
	return fmt.Errorf("upstream: %w", err)
}
