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
