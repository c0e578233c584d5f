// Package idcache remembers, for a short while, which id a username resolved
// to, for the upstream profiles that must look a user up before they can
// address it (scim, rules).
package idcache

import (
	"strings"
	"sync"
	"time"
)

// DefaultMax is the number of usernames a Cache holds by default.
const DefaultMax = 10000

// Cache maps (scope, username) to an id, each entry for at most its TTL. A
// nil *Cache, or one with a TTL of zero or less, remembers nothing. It is
// safe for concurrent use.
type Cache struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu sync.Mutex
	m  map[key]entry
}

type key struct{ scope, username string }

type entry struct {
	id      string
	expires time.Time
}

// New returns a cache whose entries live for ttl, holding at most max of
// them (DefaultMax when max <= 0). A ttl <= 0 disables it: New returns nil.
func New(ttl time.Duration, max int) *Cache {
	if ttl <= 0 {
		return nil
	}
	if max <= 0 {
		max = DefaultMax
	}
	return &Cache{ttl: ttl, max: max, now: time.Now, m: make(map[key]entry)}
}

// Get returns the id remembered for username in scope, if it has not
// expired.
func (c *Cache) Get(scope, username string) (string, bool) {
	if c == nil {
		return "", false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key{scope, username}]
	if !ok {
		return "", false
	}
	if !c.now().Before(e.expires) {
		delete(c.m, key{scope, username})
		return "", false
	}
	return e.id, true
}

// Put remembers id for username in scope. When the cache is full, expired
// entries go first, then arbitrary ones.
func (c *Cache) Put(scope, username, id string) {
	if c == nil {
		return
	}
	// Copies: the strings may be views of memory the caller reuses after
	// its request (a pooled body, the fast server's header buffer), and an
	// entry outlives the request.
	k := key{strings.Clone(scope), strings.Clone(username)}
	id = strings.Clone(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for k2, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, k2)
			}
		}
		for k2 := range c.m {
			if len(c.m) < c.max {
				break
			}
			delete(c.m, k2)
		}
	}
	c.m[k] = entry{id: id, expires: now.Add(c.ttl)}
}

// Forget drops the entry of username in scope: the id it named was not
// found.
func (c *Cache) Forget(scope, username string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.m, key{scope, username})
	c.mu.Unlock()
}

// ForgetID drops every username that resolved to id, in any scope: the
// user's username changed.
func (c *Cache) ForgetID(id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if e.id == id {
			delete(c.m, k)
		}
	}
}

// Len is the number of entries held, expired ones included.
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
