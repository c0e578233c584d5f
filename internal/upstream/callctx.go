package upstream

import (
	"context"
	"sync"
	"time"
)

// callCtx is the context of one call over the fast transport: the caller's
// context bounded by the call's deadline, like context.WithTimeout, but with
// no timer and no registration with the caller's context until something
// asks for Done. On the usual path nothing does: the fast transport bounds
// its I/O by Deadline and checks Err before sending, and go-retryablehttp
// waits on Done only between attempts. context.WithTimeout starts a timer
// and adds a child to the server's request context on every call, which
// cost about 3% of the proxy's CPU under load (bench/run, profiled).
//
// Err and Done agree: Err is nil until Done is closed, or, when nobody has
// asked for Done, until the deadline has passed or the caller's context
// has ended — the moment Err notices is the moment it closes Done.
//
// Not for net/http's Transport: it reads context.Cause, which finds the
// caller's cancellation cause, not this deadline (see Client.callContext).
type callCtx struct {
	context.Context // the caller's: values, and its end ends the call
	deadline        time.Time

	mu         sync.Mutex
	done       chan struct{} // made by the first Done
	err        error
	stopTimer  func() bool // set when Done armed a timer
	stopParent func() bool // set when Done watched the caller's context
}

// newCallCtx bounds parent by timeout from now, or by parent's own
// deadline when that comes first.
func newCallCtx(parent context.Context, timeout time.Duration) *callCtx {
	d := time.Now().Add(timeout)
	if pd, ok := parent.Deadline(); ok && pd.Before(d) {
		d = pd
	}
	return &callCtx{Context: parent, deadline: d}
}

func (c *callCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *callCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		return c.done
	}
	c.done = make(chan struct{})
	if c.err != nil || c.checkLocked() != nil {
		close(c.done)
		return c.done
	}
	t := time.AfterFunc(time.Until(c.deadline), func() { c.end(context.DeadlineExceeded) })
	c.stopTimer = t.Stop
	c.stopParent = context.AfterFunc(c.Context, func() { c.end(c.Context.Err()) })
	return c.done
}

func (c *callCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.checkLocked()
	}
	return c.err
}

// checkLocked ends the context if the caller's has ended or the deadline
// has passed, and returns the resulting error.
func (c *callCtx) checkLocked() error {
	if err := c.Context.Err(); err != nil {
		c.endLocked(err)
	} else if !time.Now().Before(c.deadline) {
		c.endLocked(context.DeadlineExceeded)
	}
	return c.err
}

func (c *callCtx) end(err error) {
	c.mu.Lock()
	c.endLocked(err)
	c.mu.Unlock()
}

// endLocked sets the error once and closes Done if it was asked for.
func (c *callCtx) endLocked(err error) {
	if c.err != nil {
		return
	}
	c.err = err
	if c.done != nil {
		close(c.done)
	}
}

// release ends the call, as the CancelFunc of context.WithTimeout does, and
// stops what Done started.
func (c *callCtx) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopTimer != nil {
		c.stopTimer()
		c.stopParent()
	}
	c.endLocked(context.Canceled)
}
