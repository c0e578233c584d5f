package upstream

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// breakerAt turns the breaker on with failures, targets and openFor (ratio
// and window at their defaults).
func breakerAt(failures uint32, targets int, openFor time.Duration) func(*setup) {
	return func(cfg *setup) {
		cfg.Breaker = config.Breaker{Enabled: breakerOn, Failures: failures, Targets: targets, OpenFor: config.Duration(openFor)}
	}
}

func TestBreaker(t *testing.T) {
	var healthy atomic.Bool
	up := startUpstream(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/users/missing":
			reply(w, 404, `{"error":{"code":"not_found","message":"no such user"}}`)
		case healthy.Load():
			reply(w, 200, userJSON)
		default:
			reply(w, 500, "")
		}
	})
	c := newClient(t, up.URL, breakerAt(3, 3, 100*time.Millisecond))

	// 4xx replies come from a working upstream: they never trip it.
	for range 5 {
		_, err := patch(t, c, patchCall("missing"))
		wantCode(t, err, canonical.NotFound)
	}
	// One user's 500s are that user's record's problem.
	for range 10 {
		_, err := patch(t, c, patchCall("1"))
		wantCode(t, err, canonical.Internal)
	}
	if s := c.BreakerState(); s != "closed" {
		t.Fatalf("after 4xx replies and one user's 500s: %s", s)
	}
	// A second and a third user failing too is the upstream's.
	for i, id := range []string{"2", "3"} {
		_, err := patch(t, c, patchCall(id))
		wantCode(t, err, canonical.Internal)
		if want := []string{"closed", "open"}[i]; c.BreakerState() != want {
			t.Fatalf("after %d users failed: %s, want %s", i+2, c.BreakerState(), want)
		}
	}
	hits := up.hits.Load()
	res, err := patch(t, c, patchCall("4"))
	wantCode(t, err, canonical.Unavailable)
	if res.Attempts != 0 || up.hits.Load() != hits || err.HTTPStatus() != 503 {
		t.Errorf("open breaker: attempts %d, upstream hit %d more times, status %d", res.Attempts, up.hits.Load()-hits, err.HTTPStatus())
	}

	waitFor(t, "the breaker to half-open after OpenFor", func() bool { return c.BreakerState() == "half-open" })
	healthy.Store(true)
	if _, err := patch(t, c, patchCall("1")); err != nil {
		t.Fatalf("trial call: %v", err)
	}
	if s := c.BreakerState(); s != "closed" {
		t.Errorf("after a successful trial: %s, want closed", s)
	}
	// The evidence from before it opened is gone: one more failure does
	// not reopen it.
	healthy.Store(false)
	_, err = patch(t, c, patchCall("2"))
	wantCode(t, err, canonical.Internal)
	if s := c.BreakerState(); s != "closed" {
		t.Errorf("one failure after closing: %s, want closed", s)
	}
}

// TestBreakerOneUser: whatever one user's record makes the upstream do,
// 500 or another 5xx, a 504 from a gateway, no answer in time, the
// connection closed after the request, the breaker stays closed.
func TestBreakerOneUser(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(w http.ResponseWriter, r *http.Request)
		code  canonical.Code
	}{
		{"500", func(w http.ResponseWriter, _ *http.Request) { reply(w, 500, "") }, canonical.Internal},
		{"501", func(w http.ResponseWriter, _ *http.Request) { reply(w, 501, "") }, canonical.Internal},
		{"504", func(w http.ResponseWriter, _ *http.Request) { reply(w, 504, "") }, canonical.GatewayTimeout},
		{"hangs", func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, canonical.GatewayTimeout},
		{"closes", func(w http.ResponseWriter, _ *http.Request) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}, canonical.BadGateway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := startUpstream(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/users/poison" {
					tc.fault(w, r)
					return
				}
				reply(w, 200, userJSON)
			})
			c := newClient(t, up.URL, breakerAt(2, 2, time.Minute), func(cfg *setup) {
				cfg.Timeout = config.Duration(200 * time.Millisecond)
			})
			for range 6 {
				_, err := patch(t, c, patchCall("poison"))
				wantCode(t, err, tc.code)
			}
			if _, err := patch(t, c, patchCall("other")); err != nil || c.BreakerState() != "closed" {
				t.Fatalf("another user: %v; breaker %s", err, c.BreakerState())
			}
		})
	}
}

// TestBreakerDownWhateverUser: a failure that says nothing about the user
// (a 502 or 503, a refused connection) is evidence about the upstream each
// time, on one user as on many.
func TestBreakerDownWhateverUser(t *testing.T) {
	for _, status := range []int{502, 503} {
		up := startUpstream(t, func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, status, "") })
		c := newClient(t, up.URL, breakerAt(3, 3, time.Minute), func(cfg *setup) { cfg.MaxAttempts = 1 })
		for range 3 {
			_, _ = patch(t, c, patchCall("1"))
		}
		if s := c.BreakerState(); s != "open" {
			t.Errorf("%d three times on one user: %s, want open", status, s)
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := newClient(t, "http://"+addr, breakerAt(3, 3, time.Minute), func(cfg *setup) { cfg.MaxAttempts = 2 })
	for range 3 {
		_, err := patch(t, c, patchCall("1"))
		wantCode(t, err, canonical.BadGateway)
	}
	if s := c.BreakerState(); s != "open" {
		t.Errorf("refused three times on one user: %s, want open", s)
	}
	_, cerr := patch(t, c, patchCall("2"))
	wantCode(t, cerr, canonical.Unavailable)
}

func TestBreakerDisabled(t *testing.T) {
	up := startUpstream(t, func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, 500, "") })
	c := newClient(t, up.URL)
	for i := range 8 {
		_, err := patch(t, c, patchCall(strings.Repeat("x", i+1)))
		wantCode(t, err, canonical.Internal)
	}
	if s := c.BreakerState(); s != "disabled" || up.hits.Load() != 8 {
		t.Errorf("state %s hits %d", s, up.hits.Load())
	}
}

// TestBreakerSaysWhenToRetry: a call the open breaker refuses carries a
// Retry-After of the seconds left until the breaker lets a trial call
// through, rounded up.
func TestBreakerSaysWhenToRetry(t *testing.T) {
	up := startUpstream(t, func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, 500, "") })
	c := newClient(t, up.URL, breakerAt(1, 1, 30*time.Second))
	_, err := patch(t, c, patchCall("1"))
	wantCode(t, err, canonical.Internal)
	if err.RetryAfter != "" {
		t.Errorf("the upstream's own 500 carries Retry-After %q", err.RetryAfter)
	}
	_, err = patch(t, c, patchCall("1"))
	wantCode(t, err, canonical.Unavailable)
	if err.RetryAfter != "30" && err.RetryAfter != "29" {
		t.Errorf("open breaker: Retry-After %q, want 30 (or 29 on a slow machine)", err.RetryAfter)
	}
}

// TestDoForCountsForItsUser: Do's requests are for no user, so each
// failure is evidence about the upstream; DoFor's count for their user.
func TestDoForCountsForItsUser(t *testing.T) {
	up := startUpstream(t, func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, 500, "") })
	c := newClient(t, up.URL, breakerAt(2, 2, time.Minute), func(cfg *setup) { cfg.MaxAttempts = 1 })
	jane := UserRef{Target: canonical.ByUsername, Value: "jane", Tenant: "acme"}
	for range 5 {
		if res, err := c.DoFor(context.Background(), jane, http.MethodGet, "/Users?filter=x", nil, nil); err != nil || res.Status != 500 {
			t.Fatalf("%+v %v", res, err)
		}
	}
	if s := c.BreakerState(); s != "closed" {
		t.Fatalf("one user's 500s through DoFor: %s", s)
	}
	if _, err := c.DoFor(context.Background(), UserRef{Target: canonical.ByUsername, Value: "jane", Tenant: "other"}, http.MethodGet, "/x", nil, nil); err != nil {
		t.Fatal(err)
	}
	if s := c.BreakerState(); s != "open" {
		t.Fatalf("jane under two tenants is two users: %s", s)
	}
}

// TestBreakerRun: Breaker as a profile that is not HTTP uses it. Off, it
// is nil and runs every call; on, one user's failures leave it closed,
// failures whatever the user open it, and a refused call is not made and
// gets the 503 with Retry-After and the cause for the logs.
func TestBreakerRun(t *testing.T) {
	off := NewBreaker(config.Breaker{Enabled: breakerOff}, "off", nil)
	ran := 0
	if paused, cause := off.Run(UserRef{}, func() error { ran++; return ErrUpstreamDown }); paused != nil || cause != nil || ran != 1 || off.State() != "disabled" {
		t.Fatalf("off: %v %v, ran %d, state %s", paused, cause, ran, off.State())
	}

	cfg := config.Upstream{Breaker: config.Breaker{Enabled: breakerOn, Failures: 2, Targets: 3, OpenFor: config.Duration(time.Minute)}}.WithDefaults()
	b := NewBreaker(cfg.Breaker, "on", nil)
	jane := UserRef{Target: canonical.ByUsername, Value: "jane"}
	for _, verdict := range []error{ErrUpstreamFailed, ErrUpstreamFailed, ErrUpstreamFailed, ErrCallerGone, ErrNotSent, nil} {
		if paused, _ := b.Run(jane, func() error { return verdict }); paused != nil {
			t.Fatalf("%v: %v", verdict, paused)
		}
	}
	if s := b.State(); s != "closed" {
		t.Fatalf("after one user's failures: %s", s)
	}
	// jane and each failure whatever the user: three distinct users
	for i, want := range []string{"closed", "open"} {
		b.Run(jane, func() error { return ErrUpstreamDown })
		if s := b.State(); s != want {
			t.Fatalf("after %d failures whatever the user: %s, want %s", i+1, s, want)
		}
	}
	ran = 0
	paused, cause := b.Run(UserRef{Target: canonical.ByID, Value: "1"}, func() error { ran++; return nil })
	if ran != 0 || paused == nil || paused.Code != canonical.Unavailable || paused.RetryAfter == "" || !errors.Is(cause, gobreaker.ErrOpenState) {
		t.Fatalf("open: ran %d, %+v, cause %v", ran, paused, cause)
	}
}
