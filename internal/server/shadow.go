package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/migrate"
	"github.com/userbridge/userbridge/internal/upstream"
	"github.com/userbridge/userbridge/mapping"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// A dialect with a legacy vendor (dialects.<d>.legacy, docs/migration.md)
// is served by shadow or primary below instead of run alone. Both run the
// usual pipeline with its answer held (exchange.hold) rather than written,
// call the vendor, compare and record, then answer the client, all before
// the handler returns. The requests for one user take its lock (userLocks)
// before the first side's call and leave it after the second's: per user,
// the second side applies the updates in the order the first applied them,
// however many of them are in flight at once. In primary mode the caller
// is checked (admit) before the lock: one refused never takes it.

// migration is a dialect handler's legacy vendor and the recorder of its
// comparisons; nil when legacy.mode is off.
type migration struct {
	vendor *migrate.Vendor
	rec    *migrate.Recorder
	prefix string // the dialect's prefix, left out of the vendor's path
	// users are the server's per-user locks; wait bounds the wait for
	// one (lockWait).
	users *userLocks
	wait  time.Duration
}

// errDry ends a candidate run at its PATCH when the vendor refused the
// update: what the truth did not apply never reaches the upstream. A new
// one each time: the pipeline rewrites an error's field and message.
func errDry() *canonical.Error {
	return canonical.Errorf(canonical.Internal, "not sent: the legacy vendor did not apply it")
}

// serveMigrating serves a request of a dialect with a legacy vendor.
func (h *handler) serveMigrating(x *exchange, bp *[]byte) int {
	body, e := h.readBody(x, bp)
	if e != nil {
		// Over server.maxBodyBytes, or unreadable: nothing to forward
		// byte for byte. userbridge's refusal, in both modes.
		return h.fail(x, e)
	}
	// run reads the body again, from this copy.
	x.c.Request.Body = io.NopCloser(bytes.NewReader(body))
	if migrate.UnsafePath(x.c.Request.URL.EscapedPath()) {
		// Refused before either side is called, in either mode: the hop
		// would refuse it (migrate.ErrUnsafePath), and in primary mode
		// only after the upstream applied the update.
		return h.fail(x, vendorError(migrate.ErrUnsafePath))
	}
	if h.mig.vendor.Mode == config.LegacyPrimary {
		// userbridge is the truth and judges the caller: before the
		// user's lock, so that a caller it refuses never queues ahead of
		// the user's legitimate updates. Refused, nothing is locked and
		// neither side called. (In shadow mode the vendor judges the
		// credentials; the candidate checks them after its call.)
		if e := h.admit(x); e != nil {
			return h.fail(x, e)
		}
	}
	user, unlock, e := h.lockUser(x, body)
	if e != nil {
		return h.fail(x, e)
	}
	defer unlock() // a panic too; unlock is idempotent
	if h.mig.vendor.Mode == config.LegacyShadow {
		return h.shadow(x, body, user, unlock)
	}
	return h.primary(x, user, unlock)
}

// lockUser takes the lock of the user the request names (the route
// parameter or body member the rules read it from), waiting no longer than
// the client does, nor than what server.writeTimeout leaves the calls
// (lockWait): a request that gives up calls neither side and is answered
// 503 in time. A request that names no
// user Translate would accept takes none: userbridge refuses it, so nothing
// of it reaches the upstream in either mode. unlock may be called more
// than once.
func (h *handler) lockUser(x *exchange, body []byte) (user upstream.UserRef, unlock func(), e *canonical.Error) {
	in := x.in
	in.Body = body
	a, ok := h.p.Addressed(&in)
	if !ok {
		return user, func() {}, nil
	}
	user = upstream.UserRef{Target: a.Target, Value: a.Value, Tenant: a.Tenant}
	x.addressed = a.Target
	ctx, cancel := context.WithDeadline(x.c.Request.Context(), x.start.Add(h.mig.wait))
	defer cancel()
	unlock, err := h.mig.users.lock(ctx, h.name, a)
	if err != nil {
		// Neither side was called.
		e := canonical.Errorf(canonical.Unavailable, "an earlier update of this user is still in progress; retry later")
		e.RetryAfter = "1"
		return user, nil, e
	}
	return user, unlock, nil // upstream.Stripes: safe to call again
}

// candidate runs the usual pipeline with its answer held in x.held. A
// panic in it is logged and leaves x.held nil: in shadow mode the client
// still gets the vendor's answer.
func (h *handler) candidate(x *exchange) {
	x.hold = true
	defer func() {
		x.hold = false
		if v := recover(); v != nil {
			h.log.Error("panic while serving", "dialect", h.name, "request_id", x.in.RequestID, "panic", v)
			x.held, x.panicked = nil, true
		}
	}()
	var buf []byte
	h.run(x, &buf)
}

// shadow: the vendor is the truth. The client gets its answer unchanged;
// userbridge's own, computed after it (sent to the upstream only when the
// vendor applied the update), is compared with it and dropped.
func (h *handler) shadow(x *exchange, body []byte, user upstream.UserRef, unlock func()) int {
	r := x.c.Request
	rec := h.record(x, config.LegacyShadow)
	rec.Target = user.Value // known before translation; "" when the request names none
	vendor, err := h.mig.vendor.CallFor(h.flight.callContext(r.Context()), user, r, h.hop(x), body)
	if err != nil {
		unlock()
		// Nothing was applied that the client knows of: nothing goes to
		// the upstream, and the client is told the dialect's 502 or 504.
		rec.Outcome, rec.Note = migrate.LegacyError, vendorNote(err)
		h.recordOutcome(x, rec)
		return h.fail(x, vendorError(err))
	}
	x.dry = !success(vendor.Status)
	h.candidate(x)
	unlock()    // the upstream call, if any, is over
	x.code = "" // the access line's code is the answer sent's: the vendor's has none
	rec.LegacyStatus = vendor.Status
	if vendorFailed(vendor.Status) {
		// The vendor's own failure: nothing of the rules to compare, and
		// (dry) nothing went upstream. The client still gets its answer.
		if x.res != nil {
			rec.Target = x.res.Value
		}
		rec.Outcome, rec.Note = migrate.LegacyError, vendorFailedNote(vendor.Status)
		h.recordOutcome(x, rec)
		return h.relay(x, vendor)
	}
	h.compare(x, &rec, vendor)
	h.recordOutcome(x, rec)
	return h.relay(x, vendor)
}

// primary: userbridge is the truth and answers as usual; an update the
// upstream applied is then sent to the vendor, keeping it current, and its
// answer compared. The vendor's failure never changes the client's answer.
// The client is answered after the vendor's call: a down vendor delays it
// by legacy.timeout at most, and only until the vendor's breaker opens.
func (h *handler) primary(x *exchange, user upstream.UserRef, unlock func()) int {
	defer unlock()
	h.candidate(x)
	rep := x.held
	switch {
	case x.panicked:
		return h.fail(x, canonical.Errorf(canonical.Internal, "internal error"))
	case rep == nil: // cut off at shutdown: write sends nothing
		return h.write(x, &mapping.Reply{})
	}
	if success(rep.Status) {
		rec := h.record(x, config.LegacyPrimary)
		r := x.c.Request
		vendor, err := h.mig.vendor.CallFor(h.flight.callContext(r.Context()), user, r, h.hop(x), x.in.Body)
		unlock()
		switch {
		case err != nil:
			rec.Outcome, rec.Note, rec.CandidateStatus = migrate.LegacyError, vendorNote(err), rep.Status
			h.recordOutcome(x, rec)
		case vendorFailed(vendor.Status):
			rec.Outcome, rec.Note = migrate.LegacyError, vendorFailedNote(vendor.Status)
			rec.LegacyStatus, rec.CandidateStatus = vendor.Status, rep.Status
			h.recordOutcome(x, rec)
		default:
			rec.LegacyStatus = vendor.Status
			h.compare(x, &rec, vendor)
			h.recordOutcome(x, rec)
		}
	}
	return h.write(x, rep)
}

// compare fills rec's outcome from the vendor's answer and the held one.
func (h *handler) compare(x *exchange, rec *migrate.Record, vendor *migrate.Answer) {
	if x.res != nil {
		rec.Target = x.res.Value // known once the candidate translated the request
	}
	switch {
	case x.dryHit:
		// The vendor refused what userbridge would have sent upstream.
		rec.Outcome, rec.Note = migrate.Mismatch, "candidate accepts"
		rec.Diffs = []migrate.Diff{{Path: migrate.StatusPath, Legacy: []byte(strconv.Itoa(vendor.Status)), Candidate: []byte(`"accepted"`)}}
		return
	case x.panicked:
		rec.Outcome, rec.Note = migrate.CandidateError, "internal error"
		return
	case x.held == nil:
		rec.Outcome, rec.Note = migrate.CandidateError, "cut off"
		return
	}
	rec.CandidateStatus = x.held.Status
	if !success(x.held.Status) && h.upstreamFailed(x) {
		rec.Outcome, rec.Note = migrate.CandidateError, "upstream failed"
		return
	}
	if success(vendor.Status) && !success(x.held.Status) {
		rec.Note = "candidate refuses"
	}
	var enc *migrate.EncodingError
	if errors.As(vendor.Uncomparable, &enc) {
		// The vendor answered, but in a body coding userbridge cannot
		// read: the statuses alone are compared. The same status says
		// nothing of the bodies.
		if vendor.Status == x.held.Status {
			rec.Outcome, rec.Note = migrate.NotComparable, enc.Note()
			return
		}
		if rec.Note == "" {
			rec.Note = enc.Note()
		}
		rec.Outcome = migrate.Mismatch
		rec.Diffs = []migrate.Diff{{Path: migrate.StatusPath, Legacy: []byte(strconv.Itoa(vendor.Status)), Candidate: []byte(strconv.Itoa(x.held.Status))}}
		return
	}
	rec.Diffs = migrate.Compare(vendor, &migrate.Answer{Status: x.held.Status, Body: x.held.Body}, h.mig.vendor.Ignore())
	rec.Outcome = migrate.Match
	if len(rec.Diffs) > 0 {
		rec.Outcome = migrate.Mismatch
	}
}

// upstreamFailed reports an answer made of the upstream's failure rather
// than of the rules: no answer, a 5xx, an answer refused.
func (h *handler) upstreamFailed(x *exchange) bool {
	if x.attempts == 0 {
		return false
	}
	return x.upErr != nil || x.upStatus == 0 || x.upStatus >= 500 || x.answerFault != ""
}

// record starts a diff log line.
func (h *handler) record(x *exchange, mode string) migrate.Record {
	rec := migrate.Record{Time: time.Now().UTC(), RequestID: x.in.RequestID, Dialect: h.name, Mode: mode}
	if x.res != nil {
		rec.Target = x.res.Value
	}
	return rec
}

// recordOutcome writes and counts rec, every value in it redacted of the
// secrets the request carried (requestSecrets: whatever the outcome, also
// when userbridge refused the request before translating it); the access
// line names its outcome.
func (h *handler) recordOutcome(x *exchange, rec migrate.Record) {
	x.migration = rec.Outcome
	var secrets []string
	found := false
	h.mig.rec.Record(rec, func(s string) string {
		if !found { // only for a record with values: a match has none
			secrets, found = h.requestSecrets(x, true), true
		}
		return redact(s, secrets)
	})
}

// relay sends the vendor's answer to the client unchanged: its status,
// end-to-end headers and body.
func (h *handler) relay(x *exchange, a *migrate.Answer) int {
	if h.flight.isCut() {
		x.cut = true
		return 0
	}
	w := x.c.Writer
	hd := w.Header()
	// The router's Allow, set for a 405 of userbridge's own where a
	// relayed request matched no route (relay.go), is not the vendor's.
	hd.Del("Allow")
	for k, v := range a.Header {
		hd[k] = v
	}
	w.WriteHeader(a.Status)
	// Sent now, body or not: gin writes its own "404 page not found" (or
	// 405) after a NoRoute (NoMethod) handler that wrote nothing, and an
	// empty answer of the vendor's with that status would get it.
	w.WriteHeaderNow()
	if len(a.Body) > 0 {
		_, _ = w.Write(a.Body)
	}
	return a.Status
}

// keep holds the answer the pipeline rendered, instead of writing it: its
// body copied, as the reply may be a view of a buffer reused later.
func (x *exchange) keep(rep *mapping.Reply) {
	c := *rep
	c.Body = bytes.Clone(rep.Body)
	c.Headers = append([]mapping.Header(nil), rep.Headers...)
	x.held = &c
}

// vendorError is the client's error when the vendor gave no answer:
// gateway_timeout when it was too slow, bad_gateway otherwise.
func vendorError(err error) *canonical.Error {
	switch {
	case errors.Is(err, migrate.ErrUnsafePath):
		// Never sent: the vendor, or a proxy before it, would resolve it
		// (RFC 3986 section 5.2.4) outside legacy.url's path or the
		// prefix that made it the dialect's.
		return canonical.Errorf(canonical.BadRequest, "the path has a dot segment (. or ..)")
	case errors.Is(err, migrate.ErrVendorPaused):
		// Fast: its breaker is open, the vendor was not called.
		return canonical.Errorf(canonical.BadGateway, "the legacy vendor is failing; calls to it are paused, retry later")
	case errors.Is(err, migrate.ErrVendorTimeout):
		return canonical.Errorf(canonical.GatewayTimeout, "the legacy vendor did not answer")
	case errors.Is(err, migrate.ErrVendorTooLarge):
		return canonical.Errorf(canonical.BadGateway, "the legacy vendor's answer is over 4 MiB")
	}
	return canonical.Errorf(canonical.BadGateway, "the legacy vendor did not answer")
}

func vendorNote(err error) string {
	switch {
	case errors.Is(err, migrate.ErrVendorPaused):
		return "vendor breaker open"
	case errors.Is(err, migrate.ErrVendorTimeout):
		return "vendor timed out"
	case errors.Is(err, migrate.ErrVendorTooLarge):
		return "vendor answer over 4 MiB"
	}
	return "vendor unreachable"
}

// hop is the client's side of x's call to the vendor.
func (h *handler) hop(x *exchange) migrate.Hop {
	scheme, host := origin(x.c.Request, h.trustForwarded)
	return migrate.Hop{Prefix: h.mig.prefix, RequestID: x.in.RequestID, Scheme: scheme, Host: host, TrustForwarded: h.trustForwarded}
}

// vendorFailed reports a vendor's answer that is its own failure (a 5xx,
// or 429 Too Many Requests) rather than a verdict on the request.
func vendorFailed(status int) bool { return status >= 500 || status == 429 }

// vendorFailedNote is a legacy_error's note for a vendor that failed.
func vendorFailedNote(status int) string { return "vendor failed: " + strconv.Itoa(status) }

func success(status int) bool { return status >= 200 && status < 300 }

// migrationFor builds a mount's legacy vendor, whose users lock in users;
// nil when its mode is off. running is the dialect's vendor in the routing
// served (nil: none): it is kept when built from the same legacy block,
// with its breaker's state and its connections.
func migrationFor(m config.Mount, o Options, log *slog.Logger, users *userLocks, running *migrate.Vendor) (*migration, error) {
	v, err := migrate.NewVendor(m.Legacy, log.With("dialect", m.Dialect.Name()))
	if err != nil {
		return nil, fmt.Errorf("server: dialect %s: %w", m.Dialect.Name(), err)
	}
	if v == nil {
		return nil, nil
	}
	if v.Same(running) {
		v = running // the new one has made no connection: nothing to close
	}
	if o.Migration == nil {
		return nil, fmt.Errorf("server: dialect %s: legacy mode %s without a migration recorder", m.Dialect.Name(), m.Legacy.Mode)
	}
	wait := lockWait(o.Config.Server.WriteTimeout.D(), m.Legacy.Timeout.D(), o.Config.Upstream.Timeout.D())
	return &migration{vendor: v, rec: o.Migration, prefix: m.Prefix, users: users, wait: wait}, nil
}

// lockMargin is left of server.writeTimeout, past both calls, for the
// pipeline's own work and the answer's write.
const lockMargin = 100 * time.Millisecond

// lockWait is how long after its start a request may wait for its user's
// lock: what server.writeTimeout leaves once both calls have had their
// whole time (legacy.timeout, upstream.timeout) and lockMargin, so that a
// request that got the lock late still has its answer written; none when
// nothing is left (a request then takes a free lock or is answered 503 at
// once).
func lockWait(write, legacy, up time.Duration) time.Duration {
	return max(write-legacy-up-lockMargin, 0)
}
