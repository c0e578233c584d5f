package migrate

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/testutil"
	"github.com/userbridge/userbridge/internal/upstream"
)

// A vendor that keeps failing opens the vendor's breaker: the calls then
// fail at once with ErrVendorPaused and reach no vendor, until, openFor
// later, a trial call finds it working and closes it.
func TestVendorBreaker(t *testing.T) {
	var down atomic.Bool
	var calls atomic.Int64
	down.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	v, err := NewVendor(config.Legacy{URL: srv.URL, Mode: config.LegacyPrimary, Timeout: config.Duration(5 * time.Second),
		Breaker: config.Breaker{OpenFor: config.Duration(200 * time.Millisecond)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	call := func() (*Answer, error) {
		r := httptest.NewRequest("PUT", "/users/u1", nil)
		return v.CallFor(context.Background(), upstream.UserRef{Value: "u1"}, r, Hop{RequestID: "rid", Scheme: "http", Host: "ub.example"}, []byte(`{}`))
	}
	for i := range config.DefaultBreakerFailures {
		if a, err := call(); err != nil || a.Status != http.StatusServiceUnavailable {
			t.Fatalf("call %d: %v %v", i, a, err)
		}
	}
	if v.BreakerState() != "open" {
		t.Fatalf("breaker %s after %d answers 503", v.BreakerState(), config.DefaultBreakerFailures)
	}
	before := calls.Load()
	if _, err := call(); !errors.Is(err, ErrVendorPaused) || !errors.Is(err, ErrVendor) {
		t.Fatalf("open: %v", err)
	}
	if calls.Load() != before {
		t.Fatal("the vendor was called while the breaker was open")
	}
	down.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		a, err := call()
		if err == nil && a.Status == 200 {
			break
		}
		if !errors.Is(err, ErrVendorPaused) || time.Now().After(deadline) {
			t.Fatalf("not probed again: %v %v", a, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if v.BreakerState() != "closed" || calls.Load() != before+1 {
		t.Errorf("after the trial call: %s, vendor called %d times since it opened", v.BreakerState(), calls.Load()-before)
	}
}

// The breaker's verdicts: no connection is the vendor's failure whoever
// the user; a timeout the user's; a 4xx or 429 a working vendor.
func TestVendorVerdicts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, dialErr := net.Dial("tcp", addr)
	if v := sendVerdict(context.Background(), dialErr); !errors.Is(v, upstream.ErrUpstreamDown) {
		t.Errorf("refused: %v", v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if v := sendVerdict(ctx, context.Canceled); !errors.Is(v, upstream.ErrCallerGone) {
		t.Errorf("cut: %v", v)
	}
	if v := sendVerdict(context.Background(), context.DeadlineExceeded); !errors.Is(v, upstream.ErrUpstreamFailed) {
		t.Errorf("timeout: %v", v)
	}
	for status, want := range map[int]error{200: nil, 404: nil, 429: nil, 500: upstream.ErrUpstreamFailed, 502: upstream.ErrUpstreamDown, 503: upstream.ErrUpstreamDown} {
		if got := statusVerdict(status); !errors.Is(got, want) || (want == nil) != (got == nil) {
			t.Errorf("%d: %v, want %v", status, got, want)
		}
	}
}

// Retire closes the vendor's idle connections, and the one a call still
// running, or made after it, leaves when it ends.
func TestVendorRetire(t *testing.T) {
	var conns testutil.ConnCounter
	release := make(chan struct{})
	var block atomic.Bool
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if block.Load() {
			<-release
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	srv.Config.ConnState = conns.Track
	srv.Start()
	t.Cleanup(srv.Close)
	openConns := conns.Open
	waitClosed := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); openConns() > 0; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d connections still open", what, openConns())
			}
		}
	}
	v, err := NewVendor(config.Legacy{URL: srv.URL, Mode: config.LegacyShadow, Timeout: config.Duration(5 * time.Second)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	call := func() error {
		_, err := v.Call(context.Background(), httptest.NewRequest("PUT", "/u", nil), Hop{RequestID: "rid", Scheme: "http", Host: "ub.example"}, nil)
		return err
	}
	if err := call(); err != nil {
		t.Fatal(err)
	}
	if openConns() != 1 {
		t.Fatalf("%d connections open after a call, want its idle one", openConns())
	}
	v.Retire()
	waitClosed("retired")

	block.Store(true)
	done := make(chan error, 1)
	go func() { done <- call() }()
	for deadline := time.Now().Add(5 * time.Second); openConns() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the call never reached the vendor")
		}
	}
	v.Retire() // the call is running: its connection is not idle
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitClosed("a call that ended after Retire")

	// A call that starts after Retire (a request of the replaced routing
	// that was waiting for its user's lock): net/http's transport would
	// keep its connection (a new call undoes CloseIdleConnections).
	block.Store(false)
	if err := call(); err != nil {
		t.Fatal(err)
	}
	waitClosed("a call made after Retire")
}

// Calls for no user (requests relayed: anyone may send them) never open
// the breaker by what the vendor answers, whatever the status, nor by a
// timeout; a 501 or 505 on an update is a working vendor too. An
// unreachable vendor still counts, whoever calls.
func TestVendorBreakerRelayedCalls(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow":
			time.Sleep(150 * time.Millisecond)
		case "/503":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/505":
			w.WriteHeader(http.StatusHTTPVersionNotSupported)
		default:
			w.WriteHeader(http.StatusNotImplemented)
		}
	}))
	t.Cleanup(srv.Close)
	v, err := NewVendor(config.Legacy{URL: srv.URL, Mode: config.LegacyShadow, Timeout: config.Duration(100 * time.Millisecond)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hop := Hop{RequestID: "rid", Scheme: "http", Host: "ub.example"}
	for i := range 4 * config.DefaultBreakerFailures {
		for _, p := range []string{"/503", "/slow"} {
			_, err := v.Call(context.Background(), httptest.NewRequest("GET", p, nil), hop, nil)
			if errors.Is(err, ErrVendorPaused) {
				t.Fatalf("round %d, %s: the breaker opened on relayed calls", i, p)
			}
		}
	}
	for i := range 4 * config.DefaultBreakerFailures {
		for _, p := range []string{"/users/u1", "/505"} {
			user := upstream.UserRef{Value: "u" + string(rune('a'+i%26))}
			if _, err := v.CallFor(context.Background(), user, httptest.NewRequest("PUT", p, nil), hop, []byte(`{}`)); err != nil {
				t.Fatalf("round %d, PUT %s: %v", i, p, err)
			}
		}
	}
	if v.BreakerState() != "closed" {
		t.Errorf("breaker %s", v.BreakerState())
	}
	srv.Close() // now unreachable: relayed calls count, on a vendor with no history
	if v, err = NewVendor(config.Legacy{URL: srv.URL, Mode: config.LegacyShadow, Timeout: config.Duration(time.Second)}, nil); err != nil {
		t.Fatal(err)
	}
	for range config.DefaultBreakerFailures {
		_, _ = v.Call(context.Background(), httptest.NewRequest("GET", "/x", nil), hop, nil)
	}
	if v.BreakerState() != "open" {
		t.Errorf("breaker %s after %d relayed calls to a vendor down", v.BreakerState(), config.DefaultBreakerFailures)
	}
}
