package backend

import (
	"container/list"
	"crypto/sha256"
	"time"
)

// keyStore remembers the response given under each Idempotency-Key, for a
// time and up to a number of keys. It is not safe for concurrent use: the
// Backend's mutex guards it, so that checking a key, applying the update and
// remembering the response happen as one step.
type keyStore struct {
	ttl     time.Duration
	max     int
	entries map[string]*entry
	order   list.List // of *entry, oldest first; with one TTL, also by expiry
}

// entry is one remembered key.
type entry struct {
	key         string
	fingerprint [sha256.Size]byte // of the target, tenant and body
	resp        response
	applied     int // times the update was applied under this key
	expires     time.Time
	elem        *list.Element
}

func newKeyStore(ttl time.Duration, max int) *keyStore {
	return &keyStore{ttl: ttl, max: max, entries: make(map[string]*entry)}
}

// get returns the live entry for key, or nil.
func (s *keyStore) get(key string, now time.Time) *entry {
	e := s.entries[key]
	if e == nil || !now.Before(e.expires) {
		return nil
	}
	return e
}

// put remembers resp under key, replacing an expired entry, and forgets the
// expired and then the oldest entries past the bound.
func (s *keyStore) put(key string, fp [sha256.Size]byte, resp response, applied bool, now time.Time) {
	e := &entry{key: key, fingerprint: fp, resp: resp, expires: now.Add(s.ttl)}
	if old := s.entries[key]; old != nil {
		if now.Before(old.expires) {
			e.applied = old.applied // never, unless the Backend is broken
		}
		s.remove(old)
	}
	if applied {
		e.applied++
	}
	e.elem = s.order.PushBack(e)
	s.entries[key] = e
	s.prune(now)
	for len(s.entries) > s.max {
		s.remove(s.order.Front().Value.(*entry))
	}
}

// prune forgets the expired entries.
func (s *keyStore) prune(now time.Time) {
	for f := s.order.Front(); f != nil; f = s.order.Front() {
		e := f.Value.(*entry)
		if now.Before(e.expires) {
			return
		}
		s.remove(e)
	}
}

func (s *keyStore) remove(e *entry) {
	s.order.Remove(e.elem)
	delete(s.entries, e.key)
}

func (s *keyStore) len() int { return len(s.entries) }
