package upstream

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/mapping/canonical"
)

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
	c := newClient(t, up.URL, func(cfg *setup) {
		cfg.Breaker = config.Breaker{Enabled: breakerOn, Failures: 2, OpenFor: config.Duration(100 * time.Millisecond)}
	})

	// 4xx replies come from a working upstream: they never trip it.
	for range 5 {
		_, err := patch(t, c, patchCall("missing"))
		wantCode(t, err, canonical.NotFound)
	}
	if s := c.BreakerState(); s != "closed" {
		t.Fatalf("after 4xx replies: %s", s)
	}

	for i := range 2 {
		_, err := patch(t, c, patchCall("1"))
		wantCode(t, err, canonical.Internal)
		if want := []string{"closed", "open"}[i]; c.BreakerState() != want {
			t.Fatalf("after %d failures: %s, want %s", i+1, c.BreakerState(), want)
		}
	}
	hits := up.hits.Load()
	res, err := patch(t, c, patchCall("1"))
	wantCode(t, err, canonical.Unavailable)
	if res.Attempts != 0 || up.hits.Load() != hits || err.HTTPStatus() != 503 {
		t.Errorf("open breaker: attempts %d, upstream hit %d more times, status %d", res.Attempts, up.hits.Load()-hits, err.HTTPStatus())
	}
	t.Logf("open breaker: %v", err)

	waitFor(t, "the breaker to half-open after OpenFor", func() bool { return c.BreakerState() == "half-open" })
	healthy.Store(true)
	if _, err := patch(t, c, patchCall("1")); err != nil {
		t.Fatalf("trial call: %v", err)
	}
	if s := c.BreakerState(); s != "closed" {
		t.Errorf("after a successful trial: %s, want closed", s)
	}
}

func TestBreakerDisabled(t *testing.T) {
	up := startUpstream(t, func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, 500, "") })
	c := newClient(t, up.URL)
	for range 8 {
		_, err := patch(t, c, patchCall("1"))
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
	c := newClient(t, up.URL, func(cfg *setup) {
		cfg.Breaker = config.Breaker{Enabled: breakerOn, Failures: 1, OpenFor: config.Duration(30 * time.Second)}
	})
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
