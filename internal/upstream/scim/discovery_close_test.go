package scim_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/upstream"
	"github.com/userbridge/userbridge/internal/upstream/scim"
	"github.com/userbridge/userbridge/internal/upstream/scim/scimtest"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// within waits for ch, failing the test after 10 s (a wait for an event,
// not a timing assertion: without the fix it takes 40 minutes).
func within(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("still waiting for %s", what)
	}
}

// TestCloseEndsDiscovery: a discovery an update started, still under way
// when its caller gave up, is ended by Close: its request to the provider
// is cancelled. (It ran on the first caller's context without its
// cancellation, bounded only by 4 × upstream.timeout: it outlived Close and
// the server's shutdown.)
func TestCloseEndsDiscovery(t *testing.T) {
	arrived, gone, release := make(chan struct{}), make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		select {
		case <-r.Context().Done():
			close(gone)
		case <-release:
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	hc, err := upstream.New(config.Upstream{URL: srv.URL, Timeout: config.Duration(10 * time.Minute), MaxAttempts: 1,
		Breaker: config.Breaker{Enabled: new(bool)}}, upstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := scim.New(hc, config.Upstream{Timeout: config.Duration(10 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *canonical.Error, 1)
	go func() {
		_, e := c.Patch(ctx, call(canonical.ByID, "x", `{"set":{"active":true}}`))
		done <- e
	}()
	within(t, "the discovery's request", arrived)
	cancel()
	if e := <-done; e == nil || e.Code != canonical.Unavailable {
		t.Errorf("the update that gave up waiting: %v", e)
	}
	c.Close()
	within(t, "Close to end the discovery's request", gone)
}

// TestDiscoveryKeepsNoRequestValues: the discovery an update starts runs
// on the client's context: its credential is asked for a token with none
// of that update's context values (it kept the first caller's, its
// request's among them, for as long as it ran).
func TestDiscoveryKeepsNoRequestValues(t *testing.T) {
	type key struct{}
	var seen atomic.Value
	_, c, id := guarded(t, credFunc(func(ctx context.Context) (string, error) {
		if v := ctx.Value(key{}); v != nil {
			seen.Store(v)
		}
		return "Bearer " + discoveryToken, nil
	}))
	ctx := context.WithValue(context.Background(), key{}, "the update's")
	call := call(canonical.ByID, id, `{"set":{"active":false}}`)
	call.Header.Set("Authorization", "Bearer "+usersToken)
	if _, e := c.Patch(ctx, call); e != nil {
		t.Fatal(e)
	}
	if v := seen.Load(); v != nil {
		t.Errorf("the discovery's credential saw the caller's context value %v", v)
	}
}

// TestDiscoveryPanicRecovered: a panic in Discover (its credential's) or in
// the Discovered hook happens in the discovery's own goroutine, outside
// any handler's recover: it becomes the discovery's error, the update is
// unavailable, and the process lives on. (It ended the process.)
func TestDiscoveryPanicRecovered(t *testing.T) {
	_, g, gid := guarded(t, credFunc(func(context.Context) (string, error) { panic("credential") }))
	if _, e := g.Patch(context.Background(), call(canonical.ByID, gid, `{"set":{"active":false}}`)); e == nil || e.Code != canonical.Unavailable {
		t.Errorf("the update whose discovery's credential panicked: %v", e)
	}
	srv, err := scimtest.Start(scim.DefaultExtensionSchema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	id := srv.Add(jane)
	hc, err := upstream.New(config.Upstream{URL: srv.URL, Timeout: config.Duration(2 * time.Second), Breaker: config.Breaker{Enabled: new(bool)}}, upstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := scim.NewWith(hc, config.Upstream{}, scim.Options{Discovered: func(*scim.Capabilities) { panic("hook") }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if _, e := c.Patch(context.Background(), call(canonical.ByID, id, `{"set":{"active":false}}`)); e == nil || e.Code != canonical.Unavailable {
		t.Errorf("the update whose discovery panicked: %v", e)
	}
}
