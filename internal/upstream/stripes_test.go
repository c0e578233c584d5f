package upstream_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/userbridge/userbridge/internal/upstream"
)

// TestStripesExclusive: holders of one key never overlap; a counter
// changed under the lock with a read and a later write loses no update.
func TestStripesExclusive(t *testing.T) {
	s := upstream.NewStripes(4)
	n := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				unlock, err := s.Lock(context.Background(), 7)
				if err != nil {
					t.Error(err)
					return
				}
				v := n
				n = v + 1 // the race detector reports two holders at once
				unlock()
			}
		}()
	}
	wg.Wait()
	if n != 8*200 {
		t.Fatalf("n = %d, want %d", n, 8*200)
	}
}

// TestStripesUnlockTwice: a second call of a holder's unlock does not
// release the lock the next holder took. It emptied the stripe again, and
// a third caller took the lock that holder still held.
func TestStripesUnlockTwice(t *testing.T) {
	s := upstream.NewStripes(1)
	first, ok := s.TryLock(1)
	if !ok {
		t.Fatal("a free stripe is not taken")
	}
	first()
	second, ok := s.TryLock(1)
	if !ok {
		t.Fatal("the stripe is not free after unlock")
	}
	first() // again: must not release second's lock
	if _, ok := s.TryLock(1); ok {
		t.Fatal("a second unlock of the first holder released the second holder's lock")
	}
	second()
	second()
	third, err := s.Lock(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.TryLock(1); ok {
		t.Fatal("the lock is free while held")
	}
	third()
}

// TestStripesWaitEnds: a waiter whose context ends gives up with its
// error, takes nothing, and the lock stays the holder's until released.
func TestStripesWaitEnds(t *testing.T) {
	s := upstream.NewStripes(2)
	held, err := s.Lock(context.Background(), 3)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		unlock, err := s.Lock(ctx, 5) // 5 and 3 share a stripe of two
		if unlock != nil {
			unlock()
		}
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("the waiter's error: %v, want context.Canceled", err)
	}
	if _, ok := s.TryLock(3); ok {
		t.Fatal("a waiter that gave up released the holder's lock")
	}
	held()
	unlock, ok := s.TryLock(3)
	if !ok {
		t.Fatal("not free after the holder released it")
	}
	unlock()
}

// TestStripesFreedSince: a release after a mark is seen on its own stripe
// only; one before the mark is not.
func TestStripesFreedSince(t *testing.T) {
	s := upstream.NewStripes(2)
	before, _ := s.TryLock(0)
	before()
	mark := s.Mark()
	if s.FreedSince(0, mark) || s.FreedSince(1, mark) {
		t.Fatal("a release before the mark is seen after it")
	}
	unlock, _ := s.TryLock(1)
	unlock()
	unlock() // once: no second stamp, no second release
	if !s.FreedSince(1, mark) {
		t.Error("stripe 1 released after the mark: not seen")
	}
	if s.FreedSince(0, mark) {
		t.Error("stripe 0, not released since the mark, seen as released")
	}
}
