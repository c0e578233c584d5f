package upstream

import (
	"context"
	"errors"
	"testing"
	"time"
)

type ctxKey struct{}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// waitClosed fails the test unless ch closes within two seconds.
func waitClosed(t *testing.T, ch <-chan struct{}, failure string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(2 * time.Second):
		t.Fatal(failure)
	}
}

func TestCallCtxDeadlineWithoutDone(t *testing.T) {
	parent := context.WithValue(context.Background(), ctxKey{}, "v")
	c := newCallCtx(parent, 30*time.Millisecond)
	defer c.release()
	if d, ok := c.Deadline(); !ok || time.Until(d) > 30*time.Millisecond || time.Until(d) < 20*time.Millisecond {
		t.Fatalf("deadline %v %v, want about 30ms from now", d, ok)
	}
	if c.Value(ctxKey{}) != "v" {
		t.Fatal("the caller's values are not seen")
	}
	if err := c.Err(); err != nil {
		t.Fatalf("Err before the deadline: %v", err)
	}
	time.Sleep(40 * time.Millisecond)
	if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err after the deadline: %v", err)
	}
	// Done asked for only now is already closed, and Err does not change.
	if !closed(c.Done()) {
		t.Fatal("Done open after the deadline")
	}
	c.release()
	if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err after release: %v, want the first error kept", err)
	}
}

func TestCallCtxDoneFiresAtDeadline(t *testing.T) {
	c := newCallCtx(context.Background(), 20*time.Millisecond)
	defer c.release()
	done := c.Done()
	if closed(done) || c.Err() != nil {
		t.Fatal("ended before the deadline")
	}
	waitClosed(t, done, "Done not closed at the deadline")
	if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err %v, want DeadlineExceeded", err)
	}
}

func TestCallCtxFollowsTheCaller(t *testing.T) {
	// The caller ends while someone waits on Done.
	parent, cancel := context.WithCancel(context.Background())
	c := newCallCtx(parent, time.Minute)
	defer c.release()
	done := c.Done()
	cancel()
	waitClosed(t, done, "Done not closed when the caller's context ended")
	if err := c.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err %v, want Canceled", err)
	}

	// The caller ends and nobody waited: Err sees it.
	parent, cancel = context.WithCancel(context.Background())
	c2 := newCallCtx(parent, time.Minute)
	defer c2.release()
	cancel()
	if err := c2.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err %v, want Canceled", err)
	}
	if !closed(c2.Done()) {
		t.Fatal("Done open after the caller's context ended")
	}
}

func TestCallCtxCallerDeadlineFirst(t *testing.T) {
	parent, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	pd, _ := parent.Deadline()
	c := newCallCtx(parent, time.Minute)
	defer c.release()
	if d, _ := c.Deadline(); !d.Equal(pd) {
		t.Fatalf("deadline %v, want the caller's %v", d, pd)
	}
	waitClosed(t, c.Done(), "Done not closed at the caller's deadline")
	if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err %v, want DeadlineExceeded", err)
	}
}

func TestCallCtxRelease(t *testing.T) {
	c := newCallCtx(context.Background(), time.Minute)
	done := c.Done()
	c.release()
	if !closed(done) {
		t.Fatal("Done open after release")
	}
	if err := c.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err after release %v, want Canceled", err)
	}
	// A context derived from it ends with it.
	c2 := newCallCtx(context.Background(), time.Minute)
	child, stop := context.WithCancel(c2)
	defer stop()
	c2.release()
	waitClosed(t, child.Done(), "a derived context outlived release")
}
