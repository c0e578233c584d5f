package server

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

type ctxKey struct{}

// TestCallContext: an upstream call's context keeps the request's values,
// outlives the request's cancellation (the client went away), ends at the
// shutdown's cut, and a deadline derived from it starts no goroutine.
func TestCallContext(t *testing.T) {
	f := newInflight()
	req, cancelReq := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "span"))
	ctx := f.callContext(req)
	if ctx.Value(ctxKey{}) != "span" {
		t.Fatal("the request's values are lost")
	}
	cancelReq()
	if ctx.Err() != nil {
		t.Fatal("the client going away ended the upstream call")
	}
	before := runtime.NumGoroutine()
	calls := make([]context.CancelFunc, 100)
	var last context.Context
	for i := range calls {
		last, calls[i] = context.WithTimeout(ctx, time.Minute)
	}
	if n := runtime.NumGoroutine(); n > before+10 {
		t.Errorf("%d goroutines started by 100 deadlines", n-before)
	}
	f.cutOff()
	select {
	case <-last.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the cut did not end a call")
	}
	if !errors.Is(last.Err(), context.Canceled) || !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("err %v, %v", last.Err(), ctx.Err())
	}
	for _, c := range calls {
		c()
	}
}

// TestCallContextDetached: an upstream call's context has none of the
// request's end: no deadline (the request's, set by a middleware, would
// otherwise cut the call short), and context.Cause is nil until the cut,
// whatever cause the client's end carried, and context.Canceled after it,
// on the call's context and on a deadline derived from it.
func TestCallContextDetached(t *testing.T) {
	f := newInflight()
	gone := errors.New("client went away")
	withCause, cancelReq := context.WithCancelCause(context.WithValue(context.Background(), ctxKey{}, "span"))
	req, cancelDeadline := context.WithTimeout(withCause, time.Hour)
	defer cancelDeadline()
	ctx := f.callContext(req)
	if d, ok := ctx.Deadline(); ok {
		t.Fatalf("the request's deadline %v reached the call", d)
	}
	call, cancelCall := context.WithTimeout(ctx, time.Minute)
	defer cancelCall()
	cancelReq(gone)
	if ctx.Err() != nil || call.Err() != nil {
		t.Fatal("the client going away ended the upstream call")
	}
	if c := context.Cause(ctx); c != nil {
		t.Errorf("cause %v before the cut", c)
	}
	if c := context.Cause(call); c != nil {
		t.Errorf("derived cause %v before the cut", c)
	}
	if ctx.Value(ctxKey{}) != "span" || call.Value(ctxKey{}) != "span" {
		t.Error("the request's values are lost")
	}
	f.cutOff()
	<-call.Done()
	for _, c := range []context.Context{ctx, call} {
		if !errors.Is(c.Err(), context.Canceled) || !errors.Is(context.Cause(c), context.Canceled) {
			t.Errorf("after the cut: err %v, cause %v", c.Err(), context.Cause(c))
		}
	}

	// A deadline of its own still ends a derived context, with its cause.
	g := newInflight()
	short, cancelShort := context.WithTimeout(g.callContext(context.Background()), time.Millisecond)
	defer cancelShort()
	<-short.Done()
	if !errors.Is(short.Err(), context.DeadlineExceeded) || g.base.Err() != nil {
		t.Errorf("deadline: err %v, cut %v", short.Err(), g.base.Err())
	}
}

// TestCallContextCost: the call's deadline costs what a deadline under a
// plain cancellable context costs, plus the call context itself: it
// registers with the cut as a child, not through context.AfterFunc (four
// allocations more, and a lock of its own, on every call).
func TestCallContextCost(t *testing.T) {
	f := newInflight()
	defer f.cutOff()
	req := context.WithValue(context.Background(), ctxKey{}, "span")
	plain, cancelPlain := context.WithCancel(req)
	defer cancelPlain()
	under := testing.AllocsPerRun(100, func() {
		_, cancel := context.WithTimeout(plain, time.Minute)
		cancel()
	})
	got := testing.AllocsPerRun(100, func() {
		_, cancel := context.WithTimeout(f.callContext(req), time.Minute)
		cancel()
	})
	if got > under+1 {
		t.Errorf("a deadline under the call context: %v allocations, want at most %v", got, under+1)
	}
}

// BenchmarkCallContext is the context work of one upstream call: the
// call's context and its deadline, ended.
func BenchmarkCallContext(b *testing.B) {
	f := newInflight()
	defer f.cutOff()
	req, cancelReq := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "span"))
	defer cancelReq()
	b.ReportAllocs()
	for b.Loop() {
		ctx, cancel := context.WithTimeout(f.callContext(req), time.Minute)
		_ = ctx.Done() // as the transport asks for it
		cancel()
	}
}
