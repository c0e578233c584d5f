package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/userbridge/userbridge/internal/auth"
	"github.com/userbridge/userbridge/internal/telemetry"
	"github.com/userbridge/userbridge/internal/upstream"
	"github.com/userbridge/userbridge/mapping"
	"github.com/userbridge/userbridge/mapping/canonical"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Upstream is what a dialect handler needs of the upstream client.
type Upstream interface {
	Patch(ctx context.Context, call *upstream.Call) (*upstream.Result, *canonical.Error)
	Get(ctx context.Context, call *upstream.Call) (*upstream.Result, *canonical.Error)
}

// UpdateChecker is an Upstream that can tell from an update alone that it
// cannot store it (profile rules' accepts, profile ldap's attribute map, a
// password over an unencrypted directory connection): the handler asks it
// before the stored-user GET a rule needs, so that such an update reaches
// the upstream not at all (Patch refuses it before its own first call, so
// an update without that GET is not checked twice). update is the canonical
// update with its password redacted (mapping.Result.Redacted): the answer
// may depend on which fields it sets and unsets, never on a password.
// Patch refuses the same updates.
type UpdateChecker interface {
	CheckUpdate(target canonical.Target, update []byte) *canonical.Error
}

// Headers userbridge sets on every upstream call.
const (
	HeaderRequestID   = "X-Request-Id"
	HeaderIdempotency = "Idempotency-Key"
	HeaderDialect     = "X-Userbridge-Dialect"
	HeaderTenant      = "X-Userbridge-Tenant"
)

// traceHeaders are passed on for W3C trace propagation when userbridge does
// not trace itself (with tracing on, the upstream transport injects its own
// span's context instead).
var traceHeaders = []string{"Traceparent", "Tracestate"}

// handler serves one dialect: read, translate, forward, render. Each step is
// a method below, in the order they run.
type handler struct {
	name    string
	p       *mapping.Program
	up      Upstream
	checker UpdateChecker // up, when it is one; nil otherwise
	maxBody int64
	// trustForwarded: links follow X-Forwarded-Proto and -Host.
	trustForwarded bool
	log            *slog.Logger
	forward        []string
	params         []string // route parameter names, checked for segment escapes
	once           []string // headers refused when sent twice (onceHeaders), canonical names
	obs            Observer
	known          map[string]string // field names the rules know (each its own), for metric labels
	// passTrace copies the client's traceparent and tracestate upstream.
	passTrace bool
	// auth is the dialect's inbound auth: it checks the caller (verify),
	// applies the policy and sets the upstream call's credentials. In
	// passthrough it allows everything and forward holds the dialect's
	// credential headers.
	auth *auth.Authenticator
	// flight counts the requests in flight for Shutdown, which may cut
	// them off.
	flight *inflight
	// mig is the dialect's legacy vendor (shadow.go); nil when off.
	mig *migration
}

// exchange is one inbound request on its way through the handler.
type exchange struct {
	c        *gin.Context
	in       mapping.Input
	res      *mapping.Result
	upStatus int
	attempts int           // upstream attempts, every call of the request
	upTime   time.Duration // time spent in upstream calls
	upErr    error         // why the last upstream call got no (whole) answer: upstream.Result.Cause
	upHeader http.Header   // the upstream's last reply's headers, for response.upstreamHeaders
	upCall   http.Header   // the headers of the upstream call, for redaction (userbridge's own credential)
	route    string        // the route label when no route matched (unmatched); "": the matched route's
	code     canonical.Code
	start    time.Time
	caller   *auth.Principal // the verified caller; nil in passthrough
	// admitted: the request's credentials were checked (admit), caller
	// is the one found; run does not check them again.
	admitted bool
	// ownKey is the Idempotency-Key userbridge made for a request that
	// had none; "" when the client sent one.
	ownKey string
	// cut: the request was cut off at shutdown before its answer was
	// written; nothing reached the client.
	cut bool
	// answerFault is why an upstream's answer was refused (checkAnswer);
	// "" when none was.
	answerFault canonical.AnswerFault
	// hold: the answer is kept in held instead of written (shadow.go).
	hold bool
	held *mapping.Reply
	// addressed is the kind of user reference the request names, found
	// before translation (lockUser) in a migration mode; 0 when none was.
	addressed canonical.Target
	// body is the request's body as read, whose members named like a
	// secret redaction looks for (requestSecrets); nil until read.
	body []byte
	// dry: the PATCH is not sent (the legacy vendor refused the update);
	// dryHit: the pipeline came to it.
	dry, dryHit bool
	// panicked: the held pipeline panicked (shadow.go's candidate).
	panicked bool
	// migration is the outcome of the comparison with the legacy vendor,
	// for the access line; "" when there was none.
	migration string
}

func (h *handler) serve(c *gin.Context) { h.serveOne(c, "", (*handler).pipeline) }

// serveOne serves one request of the dialect with do, which returns the
// status sent: the request is counted in flight (Shutdown waits for it), a
// panic is answered as an internal error, and its access line and metrics
// are written once answered, under route (the matched route's template
// when ""). A request cut off at shutdown drops its connection.
func (h *handler) serveOne(c *gin.Context, route string, do func(*handler, *exchange) int) {
	x := &exchange{c: c, start: time.Now(), route: route}
	x.in = mapping.Input{Params: &c.Params, Path: c.Request.URL.EscapedPath(), RequestID: requestID(first(c.Request.Header, HeaderRequestID))}
	x.in.URL = requestURL(c.Request, h.trustForwarded, x.in.Path)
	status := 0
	h.flight.enter()
	defer func() {
		h.flight.leave() // last, after the access line: Shutdown waits for it
		if x.cut {
			// Cut off at shutdown: no answer was written, and net/http
			// must not send its own (an empty 200): the connection is
			// dropped.
			panic(http.ErrAbortHandler)
		}
	}()
	defer func() {
		if v := recover(); v != nil {
			h.log.Error("panic while serving", "dialect", h.name, "request_id", x.in.RequestID, "panic", v)
			status = h.fail(x, canonical.Errorf(canonical.Internal, "internal error"))
		}
		h.finish(x, status)
	}()
	status = do(h, x)
}

// pipeline serves a request its route matched.
func (h *handler) pipeline(x *exchange) int {
	// The body is read into a buffer of this request's own, never a
	// pooled one: what translation reads from it (a username from
	// Crafter's body) is kept past the request (an upstream call, a
	// profile's cache), and must not become the next request's.
	var body []byte
	if h.mig != nil {
		return h.serveMigrating(x, &body)
	}
	return h.run(x, &body)
}

// finish writes the access line and records the request's metrics. Neither
// holds a body, a credential or a user identifier.
func (h *handler) finish(x *exchange, status int) {
	c := x.c
	elapsed := time.Since(x.start)
	ctx := c.Request.Context()
	route := c.FullPath()
	if x.route != "" {
		route = x.route
	}
	defer h.obs.Request(h.name, route, status, elapsed)
	span := trace.SpanFromContext(ctx)
	// A request cut off at shutdown got no answer: its line is a warning,
	// written at log.level warn too.
	level := slog.LevelInfo
	if x.cut {
		level = slog.LevelWarn
	}
	if !h.log.Enabled(ctx, level) && !span.SpanContext().IsValid() {
		return // nobody reads the line: don't build it
	}
	attrs := make([]slog.Attr, 0, 16)
	attrs = append(attrs,
		slog.String("request_id", x.in.RequestID), slog.String("dialect", h.name),
		slog.String("method", c.Request.Method), slog.String("route", route),
		slog.String("target", x.targetKind()), slog.Int("status", status),
		slog.Int("upstream_status", x.upStatus), slog.Int("attempts", x.attempts),
		slog.Duration("latency", elapsed), slog.Duration("upstream_latency", x.upTime),
		slog.String("auth", h.authMethod(x)))
	if x.code != "" {
		attrs = append(attrs, slog.String("code", string(x.code)))
	}
	if x.cut {
		attrs = append(attrs, slog.String("outcome", outcomeCutOff))
	}
	if x.migration != "" {
		attrs = append(attrs, slog.String("migration", x.migration))
	}
	switch {
	case x.answerFault != "":
		attrs = append(attrs, slog.String("upstream_error", answerKind(x.answerFault)))
	case x.upErr != nil:
		// Its kind, never its text: that may quote the upstream's reply
		// (which may echo the request's credentials) or name the URL.
		attrs = append(attrs, slog.String("upstream_error", telemetry.ErrorKind(x.upErr)))
	}
	if sc := span.SpanContext(); sc.IsValid() {
		attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
		span.SetAttributes(attribute.String("userbridge.dialect", h.name), attribute.String("userbridge.target", x.targetKind()),
			attribute.Int("userbridge.upstream.attempts", x.attempts), attribute.String("userbridge.request_id", x.in.RequestID))
	}
	// Straight to the handler: Logger.LogAttrs would also walk the stack
	// for a source position no format prints.
	if lh := h.log.Handler(); lh.Enabled(ctx, level) {
		rec := slog.NewRecord(time.Now(), level, "request", 0)
		rec.AddAttrs(attrs...)
		_ = lh.Handle(ctx, rec)
	}
}

// call makes one upstream call and records it. The call is not cut short
// when the client goes away (net/http then cancels the request's context):
// an update abandoned half-sent would leave its fate unknown, while one
// carried to its end is applied once, and its repetition with the same
// Idempotency-Key is answered from the upstream's record. upstream.timeout
// bounds it all the same, and the shutdown's cut ends it (callContext).
func (h *handler) call(x *exchange, method string, do func(context.Context, *upstream.Call) (*upstream.Result, *canonical.Error),
	call *upstream.Call) (*upstream.Result, *canonical.Error) {
	if x.dry && method == http.MethodPatch {
		x.dryHit = true
		return nil, errDry()
	}
	t := time.Now()
	res, e := do(h.flight.callContext(x.c.Request.Context()), call)
	d := time.Since(t)
	if e != nil && res != nil && errors.Is(res.Cause, upstream.ErrNotAUser) {
		// A 2xx with no object at all is refused as one that breaks off
		// later is (checkAnswer): logged, counted and answered alike.
		e = h.answerRefused(x, &canonical.AnswerError{Fault: canonical.FaultMalformed}, e.Applied)
	}
	status, attempts := 0, 0
	if res != nil {
		status, attempts = res.Status, res.Attempts
	}
	if attempts == 0 && e != nil && (res == nil || res.Cause == nil) {
		// Refused by the client, nothing sent (as by UpdateChecker): no
		// call; a paused one, or one whose wait for the upstream came to
		// nothing (a SCIM discovery), has a Cause. Time spent waiting for
		// the upstream before the refusal is the upstream's all the same.
		if res != nil && res.Waited {
			x.upTime += d
		}
		return res, e
	}
	if attempts > 0 {
		x.upStatus = status
	}
	if res != nil {
		x.upErr = res.Cause // the last call's: nil when it was answered
		if res.Header != nil {
			x.upHeader = res.Header
		}
	}
	x.attempts += attempts
	x.upTime += d
	h.obs.Upstream(h.name, method, status, attempts, d)
	return res, e
}

// targetKind is the access line's target: how the request named its user
// (id or username), from its translation or, without one, as found before
// it (a vendor that failed in shadow mode: the user's lock was taken); ""
// when the user was never known.
func (x *exchange) targetKind() string {
	switch {
	case x.res != nil:
		return x.res.Target.String()
	case x.addressed != 0:
		return x.addressed.String()
	}
	return ""
}

// run executes the pipeline and returns the status sent.
func (h *handler) run(x *exchange, bp *[]byte) int {
	// Before anything is read: an unverified caller learns nothing of the
	// dialect's rules and never reaches the upstream. In primary mode the
	// request was admitted before its user's lock (serveMigrating).
	if e := h.admit(x); e != nil {
		return h.fail(x, e)
	}
	if e := h.checkParams(x); e != nil {
		return h.refuse(x, e)
	}
	if e := h.checkBodyHeaders(x); e != nil {
		return h.fail(x, e)
	}
	body, e := h.readBody(x, bp)
	if e != nil {
		return h.fail(x, e)
	}
	x.in.Body = body
	res, e := h.p.Translate(&x.in)
	if e != nil {
		return h.refuse(x, e)
	}
	x.res = res
	// Before any upstream call, the stored-user GET included. The policy
	// reads which fields the update sets, which the redacted update shows;
	// in passthrough there is no policy, and nothing to redact for it.
	if h.auth.Verifies() {
		if e := h.auth.Authorize(x.caller, res.Target, res.Value, res.Redacted()); e != nil {
			return h.fail(x, e)
		}
	}
	if e := h.checkTarget(res); e != nil {
		return h.refuse(x, e)
	}
	// Patch refuses such an update before it sends anything of its own;
	// only the stored-user GET would come before it.
	if h.checker != nil && res.FetchesStoredUser() {
		if e := h.checker.CheckUpdate(res.Target, res.Redacted()); e != nil {
			return h.refuse(x, h.inDialectTerms(x, e))
		}
	}
	hdr, e := h.upstreamHeader(x)
	if e != nil {
		return h.fail(x, e)
	}
	x.upCall = hdr
	call := &upstream.Call{Target: res.Target, Value: res.Value, Tenant: res.Tenant, Header: hdr}
	// The update comes only with the stored-user check, which fetches the
	// stored user when a rule needs it. Every user the upstream answers
	// with is checked before it is used: the stored one, the PATCH's, the
	// one fetched after a 204.
	var getErr *canonical.Error
	update, e := res.Update(func() ([]byte, *canonical.Error) {
		got, e := h.call(x, http.MethodGet, h.up.Get, call)
		if e == nil {
			e = h.checkAnswer(x, got.Body, addressed(res), false, nil)
		}
		if e != nil {
			getErr = e
			return nil, e
		}
		return got.Body, nil
	})
	switch {
	case getErr != nil:
		return h.upstreamFail(x, getErr)
	case e != nil:
		return h.refuse(x, e)
	}
	call.Body = update
	out, e := h.call(x, http.MethodPatch, h.up.Patch, call)
	if e != nil {
		return h.upstreamFail(x, e)
	}
	want := updated(res, update)
	user := out.Body
	if len(user) == 0 && h.p.NeedsUser() {
		// By the name the user has now: a renamed user is no longer found
		// by the old one.
		call.Body, call.Value = nil, want.Value
		got, e := h.call(x, http.MethodGet, h.up.Get, call)
		if e != nil {
			e.Applied = true
			return h.upstreamFail(x, e)
		}
		user = got.Body
	}
	// Checked once, in one walk that also finds the members the answer is
	// rendered from.
	var members canonical.Members
	if len(user) > 0 {
		if e := h.checkAnswer(x, user, want, true, &members); e != nil {
			return h.upstreamFail(x, e)
		}
	}
	return h.write(x, h.p.RenderChecked(&x.in, res, user, &members))
}

// upstreamHeader builds the headers of the upstream call.
func (h *handler) upstreamHeader(x *exchange) (http.Header, *canonical.Error) {
	in := x.c.Request.Header
	// The client's headers passed on: the dialect's, then the trace ones.
	type passed struct {
		name   string
		values []string
	}
	var buf [8]passed
	pass := buf[:0]
	// Every name is canonical (authFor, traceHeaders): looked up as it
	// is, with none of Header.Values' canonicalising on every request.
	add := func(names []string) {
		for _, name := range names {
			if v := in[name]; len(v) > 0 {
				pass = append(pass, passed{name, v})
			}
		}
	}
	add(h.forward)
	if h.passTrace {
		add(traceHeaders)
	}
	// Sized for what is set: up to eight names fit a map's first group,
	// and a larger size would have it allocate a table up front.
	n := len(pass) + 6 // with userbridge's three and the three JSON ones
	if x.res.Tenant != "" {
		n++
	}
	out := make(http.Header, n)
	for _, p := range pass {
		out[p.name] = p.values
	}
	var key string
	if v := in[HeaderIdempotency]; len(v) > 0 { // Header.Get, the name being canonical
		key = v[0]
	}
	if key == "" {
		key = uuid.NewString()
		x.ownKey = key
	}
	// One backing array for the values userbridge sets; each is a
	// one-element slice capped at its own element.
	vals := [...]string{key, x.in.RequestID, h.name, x.res.Tenant}
	own := vals[:]
	out[HeaderIdempotency] = own[0:1:1]
	out[HeaderRequestID] = own[1:2:2]
	out[HeaderDialect] = own[2:3:3]
	if x.res.Tenant != "" {
		out[HeaderTenant] = own[3:4:4]
	}
	upstream.SetJSONHeaders(out)
	// Last: it removes X-Userbridge-Principal whatever was copied above
	// and, in verify mode, the caller's credentials, then sets userbridge's.
	if e := h.auth.UpstreamHeader(x.c.Request.Context(), out, x.caller); e != nil {
		return nil, e
	}
	return out, nil
}

// authMethod is the access line's auth: "passthrough", or how the caller
// proved who they are (apikey, basic, jwt), or "none" for a caller verify
// mode refused, or "vendor" for a request relayed to a legacy vendor,
// which judges the credentials itself. Never who the caller is.
func (h *handler) authMethod(x *exchange) string {
	switch {
	case x.route == relayedRoute:
		return "vendor"
	case !h.auth.Verifies():
		return "passthrough"
	case x.caller != nil:
		return x.caller.Method
	}
	return "none"
}

// inDialectTerms is e with the canonical field an upstream named in the
// dialect's terms, in its field and its message (mapping's UpstreamError),
// as the golden cases check.
func (h *handler) inDialectTerms(x *exchange, e *canonical.Error) *canonical.Error {
	return h.p.UpstreamError(&x.in, e)
}

// upstreamFail renders an upstream error, naming a canonical field in the
// caller's terms.
func (h *handler) upstreamFail(x *exchange, e *canonical.Error) int {
	e = h.inDialectTerms(x, e)
	// The upstream's own words, message and field alike, may echo what the
	// request carried.
	if e.Field != "" || e.Message != "" {
		secrets := h.requestSecrets(x, false) // once: it walks the body
		e.Field, e.Message = redact(e.Field, secrets), redact(e.Message, secrets)
	}
	if e.Applied {
		e.Message += "; the update was applied: repeat it with " + repeatKey(x) + " to get the answer"
	}
	return h.fail(x, e)
}

// repeatKey names the Idempotency-Key a client repeats an applied update
// with: its own, or userbridge's when it sent none (it has no "same" one).
func repeatKey(x *exchange) string {
	if x.ownKey != "" {
		return "the header Idempotency-Key: " + x.ownKey
	}
	return "the same Idempotency-Key"
}

// refuse renders a request userbridge refuses itself, counting a refused
// field by its (bounded) name.
func (h *handler) refuse(x *exchange, e *canonical.Error) int {
	if e.Field != "" {
		h.obs.Invalid(h.name, fieldLabel(h.known, e.Field))
	}
	return h.fail(x, e)
}

func (h *handler) fail(x *exchange, e *canonical.Error) int {
	x.code = e.Code
	return h.write(x, h.p.RenderError(&x.in, e))
}

// write sends the answer and returns its status: 0 when the request was
// cut off at shutdown, whose answer is not written (serve then drops the
// connection).
func (h *handler) write(x *exchange, rep *mapping.Reply) int {
	if h.flight.isCut() {
		x.cut = true
		return 0
	}
	if x.hold {
		x.keep(rep)
		return rep.Status
	}
	w := x.c.Writer
	hd := w.Header()
	// As Header.Set would, but the values share one backing array, each a
	// one-element slice capped at its own element, and with no
	// canonicalising: the rules' header names are canonical once compiled
	// (mapping's compileHeaders), as are the names set here.
	vals := make([]string, 0, len(rep.Headers)+2)
	set := func(name, v string) {
		vals = append(vals, v)
		hd[name] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	for _, kv := range rep.Headers {
		set(kv.Name, kv.Value)
	}
	if x.upHeader != nil {
		for _, name := range h.p.UpstreamHeaders() { // the upstream's, unless the rules set it
			if v := x.upHeader[name]; len(v) > 0 && hd[name] == nil {
				hd[name] = v
			}
		}
	}
	set(HeaderRequestID, x.in.RequestID)
	if rep.Body != nil {
		set("Content-Type", rep.ContentType)
	}
	w.WriteHeader(rep.Status)
	if rep.Body != nil {
		_, _ = w.Write(rep.Body)
	}
	return rep.Status
}
