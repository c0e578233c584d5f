package app_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/userbridge/userbridge/config"
)

// TestShutdownCutOffLogged: requests still in flight when
// server.shutdownTimeout ends, their updates applied upstream, are cut off,
// and each leaves its access line, written before Shutdown returns, with
// the outcome "cut off at shutdown", status 0 (nothing was sent), and the
// usual request id, dialect, route, target and attempts, at level WARN (a
// client got no answer; the line is written at log.level warn too).
func TestShutdownCutOffLogged(t *testing.T) {
	f := newFaultUpstream(t)
	arrived := make(chan string, len(specs))
	// Applied, then held: the answer never comes before the cut.
	f.set(1<<30, func(w http.ResponseWriter, r *http.Request) bool {
		f.applyTo(r)
		arrived <- r.Header.Get("Idempotency-Key")
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		return true
	})
	s := start(t, "", f.srv.URL, func(c *config.Config) {
		faultConfig(c)
		c.Upstream.Timeout = config.Duration(8 * time.Second)
		c.Server.ShutdownTimeout = config.Duration(300 * time.Millisecond)
	})
	results := make(chan inFlight, len(specs))
	for _, d := range specs {
		key := newKey("cutoff-" + d.name)
		go func() { results <- inFlight{d, key, <-s.tryAsync(d, key)} }()
	}
	waitArrivals(t, arrived, len(specs))

	if err := s.app.Shutdown(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want the deadline reported", err)
	}
	logs := s.logs.String() // the lines must be written when Shutdown returns
	routes := map[string]string{"baasic": "/v1/:apiKey/users/:username", "shift": "/v3/users/:userId",
		"trustedtwin": "/users/:user", "finix": "/users/:user_id", "crafter": "/studio/api/1/services/api/1/user/update.json"}
	targets := map[string]string{"baasic": "username", "crafter": "username"}
	for range specs {
		var r inFlight
		select {
		case r = <-results:
		case <-time.After(5 * time.Second):
			t.Fatal("a cut-off client never saw its connection end")
		}
		if r.a.Status != 0 {
			t.Errorf("%s: the cut-off client got an answer: %d %s", r.d.name, r.a.Status, r.a.Body)
		}
		line := accessLine(t, logs, r.key)
		want := map[string]any{"outcome": "cut off at shutdown", "status": float64(0), "level": "WARN", "dialect": r.d.name,
			"route": routes[r.d.name], "target": or(targets[r.d.name], "id"), "attempts": float64(1), "method": r.d.method}
		for k, v := range want {
			if line[k] != v {
				t.Errorf("%s: access line %s = %v, want %v", r.d.name, k, line[k], v)
			}
		}
		f.settle(t)
		if n := f.b.Applied(r.key); n != 1 {
			t.Errorf("%s: Applied = %d, want 1 (the upstream applied it before the cut)", r.d.name, n)
		}
	}
}
