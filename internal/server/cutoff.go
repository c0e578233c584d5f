package server

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Outcome of a request cut off at shutdown, on its access line.
const outcomeCutOff = "cut off at shutdown"

// cutOffGrace bounds how long Shutdown waits, once it has cut the requests
// still running off, for their handlers to end and write their access
// lines: their contexts are cancelled, so their upstream calls end at once.
const cutOffGrace = 2 * time.Second

// inflight counts the dialect requests being served, so that Shutdown can
// cut off those the shutdown timeout leaves running and still have every
// one of them leave its access line.
type inflight struct {
	n    atomic.Int64
	cut  atomic.Bool
	once sync.Once
	idle chan struct{} // closed once cut and no request is left

	// base is the context every request's derives from (http.Server's
	// BaseContext); cancel ends them all at the cut.
	base   context.Context
	cancel context.CancelFunc
}

func newInflight() *inflight {
	f := &inflight{idle: make(chan struct{})}
	f.base, f.cancel = context.WithCancel(context.Background())
	return f
}

// enter counts a request in.
func (f *inflight) enter() { f.n.Add(1) }

// leave counts a request out, once its access line is written.
func (f *inflight) leave() {
	if f.n.Add(-1) == 0 && f.cut.Load() {
		f.wake()
	}
}

func (f *inflight) wake() { f.once.Do(func() { close(f.idle) }) }

// isCut reports whether the shutdown has cut the requests off: an answer
// not yet written is not written, and its connection is dropped.
func (f *inflight) isCut() bool { return f.cut.Load() }

// cutOff marks every request still running as cut off, cancels their
// contexts (and so their upstream calls), and returns a channel closed
// when none is left. Their connections are to be closed after it.
func (f *inflight) cutOff() <-chan struct{} {
	f.cut.Store(true)
	f.cancel()
	if f.n.Load() == 0 {
		f.wake()
	}
	return f.idle
}

// callContext is the context of an upstream call made for the request
// whose context is r: r's values (its trace span among them), but not its
// end, which comes when the client goes away; it ends at the shutdown's
// cut instead, when the process is about to leave the call unfinished
// anyway. With no inflight (a handler built alone), r's values and no end.
func (f *inflight) callContext(r context.Context) context.Context {
	if f == nil {
		return context.WithoutCancel(r)
	}
	return cutContext{Context: context.WithoutCancel(r), cut: f.base}
}

// cutContext is a request's context detached from the client (Context)
// and ended by the shutdown's cut (cut).
type cutContext struct {
	context.Context
	cut context.Context
}

// Done implements context.Context: closed at the cut.
func (c cutContext) Done() <-chan struct{} { return c.cut.Done() }

// Err implements context.Context: context.Canceled after the cut.
func (c cutContext) Err() error { return c.cut.Err() }

// AfterFunc lets a context derived from c (the call's deadline) register
// with the cut itself (context's afterFuncer), rather than watch it from a
// goroutine of its own: c is no *cancelCtx that context could find.
func (c cutContext) AfterFunc(f func()) func() bool { return context.AfterFunc(c.cut, f) }
