package upstream

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// The circuit breaker opens on evidence that the upstream is unhealthy,
// not that one user's record is. gobreaker keeps the states (closed, open
// for openFor, half-open with one trial call); the trip rule is the
// window's: within the last config.Breaker.Window, at least Failures failed
// calls, at least FailureRatio of the calls that ended, from at least
// Targets distinct users, each failure that is evidence about the upstream
// itself counting as one more distinct user. So a storm of failures on one
// user id (its record makes the upstream answer 500, or hang) never opens
// it, while an upstream that fails everyone does. Every profile runs its
// calls through it: the HTTP ones (canonical, scim, rules) through Client,
// ldap through Breaker.Run, each saying what its calls' outcomes count as.

// UserRef names the user an upstream request is for, for the breaker: a
// failure that may be that user's record's (a 500, a timeout) counts for
// that user alone. It is the canonical target, whatever the dialect that
// named it: the same user named by id and by username is two. The zero
// UserRef is a request for no user: every failure of one is evidence about
// the upstream.
type UserRef struct {
	// Target says whether Value is an id or a username.
	Target canonical.Target
	// Value is the id or the username.
	Value string
	// Tenant is the tenant the user is under, "" for none.
	Tenant string
}

// User is the user call is for.
func (call *Call) User() UserRef {
	return UserRef{Target: call.Target, Value: call.Value, Tenant: call.Tenant}
}

// The verdicts a call reports to the breaker (Breaker.Run): nil is a
// success, a working upstream (a 4xx reply, or a directory's refusal of
// the update, included).
var (
	// ErrUpstreamFailed is a failure that may be one user's record's: a
	// 5xx reply other than 502 and 503, a timeout or a connection cut
	// after the request was sent, a reply cut short; a directory's
	// timeLimitExceeded or "other" result for one entry. It counts for the
	// call's user (as ErrUpstreamDown for a call for no user).
	ErrUpstreamFailed = errors.New("upstream: failed")
	// ErrUpstreamDown is a failure whatever the user: no connection
	// (refused, unreachable, DNS, dial timeout, a TLS handshake failure or
	// an untrusted certificate, a directory's bind or StartTLS refused), a
	// 502 or 503 reply, a directory's busy or unavailable. It counts as one
	// more distinct user.
	ErrUpstreamDown = errors.New("upstream: down")
	// ErrCallerGone is a call the caller went away from. It counts for
	// nothing.
	ErrCallerGone = errors.New("upstream: caller went away")
	// ErrNotSent is a call never sent for userbridge's own cap
	// (upstream.maxConns, upstream.ldap.poolSize busy until the deadline).
	// It counts for nothing.
	ErrNotSent = errors.New("upstream: not sent")
)

// statusVerdict is what a reply of 500 or more counts as: 502 and 503 are
// the upstream's (or its gateway's) word that it cannot serve anyone; any
// other, a 504 from a gateway that waited on one record included, may be
// the record's.
func statusVerdict(status int) error {
	if status == http.StatusBadGateway || status == http.StatusServiceUnavailable {
		return ErrUpstreamDown
	}
	return ErrUpstreamFailed
}

// Breaker guards one upstream, whatever the profile. A nil *Breaker is a
// breaker turned off: Run runs every call, State is "disabled".
type Breaker struct {
	cb       *gobreaker.CircuitBreaker[struct{}]
	win      *window
	openFor  time.Duration
	openedAt atomic.Int64 // when it last opened, Unix ns
}

// NewBreaker builds the breaker cfg configures, its unset keys at their
// defaults (config.Upstream.WithDefaults gives them); name (the upstream's
// host) is gobreaker's. log, when not nil, says each change of state: at
// WARN when it opens (every call is then refused at once), at INFO when it
// lets a trial call through and when it closes; it carries what names the
// breaker (BreakerLog). It is nil when cfg turns the breaker off.
func NewBreaker(cfg config.Breaker, name string, log *slog.Logger) *Breaker {
	if !cfg.IsEnabled() {
		return nil
	}
	b := &Breaker{win: newWindow(cfg, nil), openFor: cfg.OpenFor.D()}
	b.cb = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: 1,
		Timeout:     b.openFor,
		// No Interval: the window keeps its own time. gobreaker's counts
		// are not consulted.
		ReadyToTrip: func(gobreaker.Counts) bool { return b.win.tripped() },
		IsExcluded:  func(err error) bool { return errors.Is(err, ErrCallerGone) || errors.Is(err, ErrNotSent) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			// Each state starts from no evidence: what failed before the
			// breaker opened, or during its trial, does not count again.
			b.win.reset()
			if to == gobreaker.StateOpen {
				b.openedAt.Store(time.Now().UnixNano())
			}
			logChange(log, from, to, b.openFor)
		},
	})
	return b
}

// BreakerLog is the logger a breaker says its changes with: log with what
// the breaker guards ("upstream" or "legacy vendor") and its host; nil
// when log is (no log).
func BreakerLog(log *slog.Logger, breaker, host string) *slog.Logger {
	if log == nil {
		return nil
	}
	return log.With("breaker", breaker, "host", host)
}

// logChange says a change of the breaker's state (nothing when log is nil).
func logChange(log *slog.Logger, from, to gobreaker.State, openFor time.Duration) {
	if log == nil {
		return
	}
	attrs := []any{"from", from.String(), "state", to.String()}
	switch to {
	case gobreaker.StateOpen:
		log.Warn("circuit breaker open; calls are refused until a trial call succeeds", append(attrs, "trial_in", openFor.String())...)
	case gobreaker.StateHalfOpen:
		log.Info("circuit breaker half-open; one trial call goes through", attrs...)
	default:
		log.Info("circuit breaker closed; calls go through again", attrs...)
	}
}

// Run makes call, one call to the upstream for user (all its attempts),
// unless the breaker is open or its trial call is out. call returns its
// verdict, one of nil, ErrUpstreamFailed, ErrUpstreamDown, ErrCallerGone
// and ErrNotSent (or an error wrapping it). When the breaker
// refuses the call, call is not made and Run returns the 503 every dialect
// renders ("the upstream is failing; …", Retry-After the seconds until the
// trial call) and, for the logs, the cause (wrapping gobreaker.ErrOpenState
// or gobreaker.ErrTooManyRequests); otherwise nil and nil.
func (b *Breaker) Run(user UserRef, call func() (verdict error)) (paused *canonical.Error, cause error) {
	if b == nil {
		_ = call()
		return nil, nil
	}
	_, err := b.cb.Execute(func() (struct{}, error) {
		gen := b.win.generation()
		verdict := call()
		// Recorded before Execute reports the verdict, so that the trip
		// rule sees this call.
		b.win.record(gen, user, verdict)
		return struct{}{}, verdict
	})
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		e := canonical.Errorf(canonical.Unavailable, "the upstream is failing; calls to it are paused, retry later")
		e.RetryAfter = b.pausedFor()
		return e, err
	}
	return nil, nil
}

// State is "closed", "half-open" or "open", or "disabled" for a nil
// Breaker.
func (b *Breaker) State() string {
	if b == nil {
		return "disabled"
	}
	return b.cb.State().String()
}

// pausedFor is the Retry-After of a call the breaker refused: the seconds
// left until it lets a trial call through (rounded up, at least 1; 1 while
// a trial call is out).
func (b *Breaker) pausedFor() string {
	left := b.openFor - time.Since(time.Unix(0, b.openedAt.Load()))
	if left < time.Second {
		return "1"
	}
	return strconv.FormatInt(int64((left+time.Second-1)/time.Second), 10)
}

// guarded sends req through the breaker.
func (c *Client) guarded(ctx context.Context, req *request) (*Result, *canonical.Error) {
	var res *Result
	var cerr *canonical.Error
	paused, cause := c.breaker.Run(req.user, func() error {
		var verdict error
		res, cerr, verdict = c.send(ctx, req)
		return verdict
	})
	if paused != nil {
		return &Result{Cause: fmt.Errorf("upstream: %w", cause)}, paused
	}
	return res, cerr
}

// windowSteps is how many steps the window rolls by: it forgets its oldest
// tenth at a time.
const windowSteps = 10

// window is the evidence of the last config.Breaker.Window, in steps. It
// keeps no user id: a failing user is a 64-bit hash under a seed of the
// process's own (maphash), and at most Targets of them a step, forgotten
// with their step, so its memory is bounded whatever the traffic.
type window struct {
	now      func() time.Time // nil: time.Now (see since); tests move it
	epoch    time.Time
	step     time.Duration
	failures uint32  // config.Breaker.Failures
	ratio    float64 // config.Breaker.FailureRatio
	targets  int     // config.Breaker.Targets
	seed     maphash.Seed

	gen   atomic.Uint64 // bumped by reset, under mu: a call begun before records nothing
	mu    sync.Mutex
	steps [windowSteps]step
}

// step is one tenth of the window.
type step struct {
	n        int64  // its number since epoch; it counts while n > now's - windowSteps
	calls    uint32 // calls that ended, successes and failures
	failures uint32
	down     uint32   // failures whatever the user: each a distinct piece of evidence
	users    []uint64 // the users whose calls failed, each in one step only (its latest); at most targets
}

func newWindow(cfg config.Breaker, now func() time.Time) *window {
	epoch := time.Now()
	if now != nil {
		epoch = now()
	}
	w := &window{now: now, epoch: epoch, step: max(cfg.Window.D()/windowSteps, time.Millisecond),
		failures: cfg.Failures, ratio: cfg.FailureRatio, targets: max(cfg.Targets, 1), seed: maphash.MakeSeed()}
	for i := range w.steps {
		w.steps[i].n = -windowSteps
	}
	return w
}

// generation is what a call records under: a reset in between voids it.
func (w *window) generation() uint64 { return w.gen.Load() }

// reset forgets everything.
func (w *window) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gen.Add(1)
	for i := range w.steps {
		w.steps[i].clear(-windowSteps)
	}
}

// record counts a call that ended with verdict (ErrCallerGone and
// ErrNotSent count for nothing), unless the window was reset since gen.
func (w *window) record(gen uint64, user UserRef, verdict error) {
	o := outcomeOf(verdict, user)
	if o == ignored {
		return
	}
	var h uint64
	if o == failedForUser {
		h = w.hash(user)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if gen != w.gen.Load() {
		return
	}
	cur := w.advance()
	cur.calls++
	switch o {
	case failedForAll:
		cur.failures++
		cur.down++
	case failedForUser:
		cur.failures++
		w.failedFor(cur, h)
	}
}

// outcome is what a call's verdict is evidence of.
type outcome uint8

const (
	ignored       outcome = iota // the caller went away, or nothing was sent
	succeeded                    // the upstream works
	failedForUser                // the upstream failed, maybe for this user's record only
	failedForAll                 // the upstream failed, whoever the user
)

func outcomeOf(verdict error, user UserRef) outcome {
	switch {
	case verdict == nil:
		return succeeded
	case errors.Is(verdict, ErrUpstreamDown):
		return failedForAll
	case errors.Is(verdict, ErrUpstreamFailed) && user == UserRef{}:
		return failedForAll // a request for no user: nobody else to blame
	case errors.Is(verdict, ErrUpstreamFailed):
		return failedForUser
	}
	return ignored
}

// failedFor keeps user h in cur, the newest step, moving it from an older
// one. A full cur already holds Targets distinct users: h is then left
// where it is, or not kept at all.
func (w *window) failedFor(cur *step, h uint64) {
	for i := range w.steps {
		s := &w.steps[i]
		for j, u := range s.users {
			if u != h {
				continue
			}
			if s == cur || len(cur.users) >= w.targets {
				return
			}
			s.users = append(s.users[:j], s.users[j+1:]...)
			cur.users = append(cur.users, h)
			return
		}
	}
	if len(cur.users) < w.targets {
		cur.users = append(cur.users, h)
	}
}

// tripped reports whether the window holds the evidence that opens the
// breaker.
func (w *window) tripped() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.advance()
	var calls, failures, distinct uint64
	for i := range w.steps {
		s := &w.steps[i]
		calls += uint64(s.calls)
		failures += uint64(s.failures)
		distinct += uint64(s.down) + uint64(len(s.users))
	}
	return failures >= uint64(w.failures) && float64(failures) >= w.ratio*float64(calls) && distinct >= uint64(w.targets)
}

// advance forgets the steps that left the window and returns the current
// one. w.mu is held.
func (w *window) advance() *step {
	n := max(int64(w.since()/w.step), 0)
	for i := range w.steps {
		if w.steps[i].n <= n-windowSteps {
			w.steps[i].clear(-windowSteps)
		}
	}
	cur := &w.steps[n%windowSteps]
	if cur.n != n {
		cur.clear(n)
	}
	return cur
}

// since is the time since the window's epoch. Under time.Now it reads
// the monotonic clock alone (time.Since), as Sub would have used it: the
// wall clock is not read on every call.
func (w *window) since() time.Duration {
	if w.now == nil {
		return time.Since(w.epoch)
	}
	return w.now().Sub(w.epoch)
}

// clear empties s and numbers it n.
func (s *step) clear(n int64) {
	clear(s.users)
	*s = step{n: n, users: s.users[:0]}
}

// hash is user's key in the window.
func (w *window) hash(user UserRef) uint64 { return user.Key(w.seed, "") }

// Key is u's hash under seed, within space (a name its user is kept
// apart by: a dialect; "" for none): the same for the same space, kind,
// tenant and value, unambiguous however the strings run.
func (u UserRef) Key(seed maphash.Seed, space string) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	var n [17]byte
	n[0] = byte(u.Target)
	binary.LittleEndian.PutUint64(n[1:], uint64(len(space)))
	binary.LittleEndian.PutUint64(n[9:], uint64(len(u.Tenant)))
	h.Write(n[:])
	h.WriteString(space)
	h.WriteString(u.Tenant)
	h.WriteString(u.Value)
	return h.Sum64()
}
