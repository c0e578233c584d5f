package server

import (
	"context"
	"hash/maphash"

	"github.com/userbridge/userbridge/internal/upstream"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// userLocks serializes the requests of a migrating dialect that address
// one user (docs/migration.md, "Per user, one update at a time"): a lock
// is held from the first side's call (the vendor's in shadow mode, the
// upstream's in primary) to the end of the second side's, so that both
// apply each user's updates in the same order.
//
// A fixed set of stripes, a user hashed to one of them: the memory is
// bounded whatever the traffic and nothing is left behind to clean up.
// Two users may share a stripe; their updates then wait for each other,
// never reorder. Each stripe is a channel of one slot, so that a waiter
// can give up (its context ends) where a sync.Mutex could not; waiters
// are served in the order they came.
//
// One userLocks serves a Server for its whole life, across reloads: a
// request on the routing a reload replaced and one on the new routing
// still take the same lock for the same user.
type userLocks struct {
	seed    maphash.Seed
	stripes []chan struct{}
}

// userStripes is how many stripes a server has: 1024 channels, about
// 100 KiB.
const userStripes = 1024

func newUserLocks() *userLocks {
	l := &userLocks{seed: maphash.MakeSeed(), stripes: make([]chan struct{}, userStripes)}
	for i := range l.stripes {
		l.stripes[i] = make(chan struct{}, 1)
	}
	return l
}

// lock takes the lock of user a of dialect, waiting until ctx ends at
// most; it returns the function that releases it, or ctx's error.
func (l *userLocks) lock(ctx context.Context, dialect string, a canonical.Addressed) (unlock func(), err error) {
	s := l.stripes[l.hash(dialect, a)%uint64(len(l.stripes))]
	select {
	case s <- struct{}{}:
		return func() { <-s }, nil
	default:
	}
	select {
	case s <- struct{}{}:
		return func() { <-s }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// hash is the stripe key of a user: its dialect, tenant, kind of
// reference and value (upstream.UserRef.Key).
func (l *userLocks) hash(dialect string, a canonical.Addressed) uint64 {
	return upstream.UserRef{Target: a.Target, Value: a.Value, Tenant: a.Tenant}.Key(l.seed, dialect)
}
