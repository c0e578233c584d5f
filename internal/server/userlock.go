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
// apply each user's updates in the same order. A user is hashed to one of
// a fixed set of stripes (upstream.Stripes): two users may share one.
//
// One userLocks serves a Server for its whole life, across reloads: a
// request on the routing a reload replaced and one on the new routing
// still take the same lock for the same user.
type userLocks struct {
	seed    maphash.Seed
	stripes *upstream.Stripes
}

// userStripes is how many stripes a server has: 1024 channels, about
// 100 KiB.
const userStripes = 1024

func newUserLocks() *userLocks {
	return &userLocks{seed: maphash.MakeSeed(), stripes: upstream.NewStripes(userStripes)}
}

// lock takes the lock of user a of dialect, waiting until ctx ends at
// most; it returns the function that releases it (safe to call more than
// once: upstream.Stripes), or ctx's error.
func (l *userLocks) lock(ctx context.Context, dialect string, a canonical.Addressed) (unlock func(), err error) {
	return l.stripes.Lock(ctx, l.hash(dialect, a))
}

// hash is the stripe key of a user: its dialect, tenant, kind of
// reference and value (upstream.UserRef.Key).
func (l *userLocks) hash(dialect string, a canonical.Addressed) uint64 {
	return upstream.UserRef{Target: a.Target, Value: a.Value, Tenant: a.Tenant}.Key(l.seed, dialect)
}
