package upstream

import (
	"context"
	"sync"
)

// Stripes is a fixed set of locks, each key hashed to one of them: the
// memory is bounded whatever the traffic and nothing is left behind to
// clean up. Two keys may share a stripe; their holders then wait for each
// other, never reorder. Each stripe is a channel of one slot, so that a
// waiter can give up (its context ends) where a sync.Mutex could not;
// waiters are served in the order they came.
type Stripes []chan struct{}

// NewStripes makes n stripes.
func NewStripes(n int) Stripes {
	s := make(Stripes, n)
	for i := range s {
		s[i] = make(chan struct{}, 1)
	}
	return s
}

// TryLock takes the lock of key's stripe if it is free; it returns the
// function that releases it, and false (nothing taken) when another holds
// it. The function may be called more than once: only the first call
// releases.
func (s Stripes) TryLock(key uint64) (unlock func(), ok bool) {
	c := s[key%uint64(len(s))]
	select {
	case c <- struct{}{}:
		return release(c), true
	default:
		return nil, false
	}
}

// Lock takes the lock of key's stripe, waiting until ctx ends at most; it
// returns the function that releases it (as TryLock's, safe to call again),
// or ctx's error.
func (s Stripes) Lock(ctx context.Context, key uint64) (unlock func(), err error) {
	if unlock, ok := s.TryLock(key); ok {
		return unlock, nil
	}
	c := s[key%uint64(len(s))]
	select {
	case c <- struct{}{}:
		return release(c), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// release empties the stripe c once, however often it is called: a second
// call would otherwise take the slot of the holder after.
func release(c chan struct{}) func() {
	var once sync.Once
	return func() { once.Do(func() { <-c }) }
}
