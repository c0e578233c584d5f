package upstream

import (
	"context"
	"sync"
	"sync/atomic"
)

// Stripes is a fixed set of locks, each key hashed to one of them: the
// memory is bounded whatever the traffic and nothing is left behind to
// clean up. Two keys may share a stripe; their holders then wait for each
// other, never reorder. Each stripe is a channel of one slot, so that a
// waiter can give up (its context ends) where a sync.Mutex could not;
// waiters are served in the order they came.
//
// Each release is stamped (Mark, FreedSince): a holder that read what the
// lock guards before taking it can tell whether another holder may have
// changed it since.
type Stripes struct {
	locks []chan struct{}
	freed []atomic.Uint64 // the stripe's last release, as Mark counts
	mark  atomic.Uint64   // releases, every stripe's
}

// NewStripes makes n stripes.
func NewStripes(n int) *Stripes {
	s := &Stripes{locks: make([]chan struct{}, n), freed: make([]atomic.Uint64, n)}
	for i := range s.locks {
		s.locks[i] = make(chan struct{}, 1)
	}
	return s
}

// TryLock takes the lock of key's stripe if it is free; it returns the
// function that releases it, and false (nothing taken) when another holds
// it. The function may be called more than once: only the first call
// releases.
func (s *Stripes) TryLock(key uint64) (unlock func(), ok bool) {
	i := key % uint64(len(s.locks))
	select {
	case s.locks[i] <- struct{}{}:
		return s.release(i), true
	default:
		return nil, false
	}
}

// Lock takes the lock of key's stripe, waiting until ctx ends at most; it
// returns the function that releases it (as TryLock's, safe to call again),
// or ctx's error.
func (s *Stripes) Lock(ctx context.Context, key uint64) (unlock func(), err error) {
	if unlock, ok := s.TryLock(key); ok {
		return unlock, nil
	}
	i := key % uint64(len(s.locks))
	select {
	case s.locks[i] <- struct{}{}:
		return s.release(i), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Mark is where the releases stand now: read it before reading what a lock
// guards, and ask FreedSince once the lock is held.
func (s *Stripes) Mark() uint64 { return s.mark.Load() }

// FreedSince reports whether key's stripe was released after mark (Mark):
// another holder may have changed what it guards since.
func (s *Stripes) FreedSince(key uint64, mark uint64) bool {
	return s.freed[key%uint64(len(s.locks))].Load() > mark
}

// release empties stripe i once, however often it is called (a second call
// would otherwise take the slot of the holder after), stamping it first:
// whoever takes the lock next sees the stamp.
func (s *Stripes) release(i uint64) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			s.freed[i].Store(s.mark.Add(1))
			<-s.locks[i]
		})
	}
}
