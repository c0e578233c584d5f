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
	return &cutContext{values: r, cut: f.base}
}

// cutContext is a request's context detached from the client: its values
// are the request's (values), its end is the shutdown's cut (cut), it has
// no deadline. One allocation, where WithoutCancel under a wrapper took
// two.
//
// A deadline derived from it (the upstream call's) registers with the cut
// as its child, as under any *context.cancelCtx: context finds the
// cancelCtx a context's end belongs to by asking its Value for a key of
// its own, and checks that the Done channel it found is the context's.
// Value asks cut first, which holds no value of anyone's (newInflight
// builds it on context.Background), so context finds cut there and every
// other key reaches the request's values. The request's own cancelCtx
// (the client's end) is never found: cut answers that key first. So
// context.Cause is nil until the cut and the cut's cause after it, as Err
// is; and WithTimeout costs what it costs under a plain cancelCtx, with no
// context.AfterFunc registration (AfterFunc below remains the fallback,
// should context stop finding it).
type cutContext struct {
	values context.Context // the request's context: only its values are used
	cut    context.Context // the shutdown's cut (inflight.base): a cancelCtx with no values
}

// Deadline implements context.Context: none (upstream.timeout bounds the
// call).
func (c *cutContext) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done implements context.Context: closed at the cut.
func (c *cutContext) Done() <-chan struct{} { return c.cut.Done() }

// Err implements context.Context: context.Canceled after the cut.
func (c *cutContext) Err() error { return c.cut.Err() }

// Value implements context.Context: the cut's own (context's key for the
// cancelCtx that ends c), else the request's.
func (c *cutContext) Value(key any) any {
	if v := c.cut.Value(key); v != nil {
		return v
	}
	return c.values.Value(key)
}

// AfterFunc lets a context derived from c register with the cut itself
// (context's afterFuncer), rather than watch it from a goroutine of its
// own, should context not find the cut through Value.
func (c *cutContext) AfterFunc(f func()) func() bool { return context.AfterFunc(c.cut, f) }
