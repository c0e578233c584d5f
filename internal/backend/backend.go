// Package backend is the reference identity backend: an in-memory
// implementation of the canonical contract's HTTP calls (docs/canonical.md)
// for tests, demos and the README's examples.
package backend

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
	"golang.org/x/crypto/bcrypt"

	"github.com/userbridge/userbridge/mapping/canonical"
)

// Options configure a Backend. The zero value is an empty backend with the
// defaults below.
type Options struct {
	// Seed loads DemoUsers before Users.
	Seed bool
	// Users are canonical users inserted in order, as by Put. New panics
	// when Put refuses one: they are a test's fixtures.
	Users []json.RawMessage
	// Clock returns the current time (default time.Now). Timestamps are
	// written in UTC with milliseconds.
	Clock func() time.Time
	// IdempotencyTTL is how long a response is remembered under its
	// Idempotency-Key (default 24h).
	IdempotencyTTL time.Duration
	// MaxKeys bounds the remembered Idempotency-Keys; past it the oldest is
	// forgotten first (default 10000).
	MaxKeys int
	// MaxBody is the largest request body accepted (default 1 MiB).
	MaxBody int64
	// PasswordCost is the bcrypt cost of stored password hashes (default
	// bcrypt.DefaultCost; tests use bcrypt.MinCost).
	PasswordCost int
	// Latency delays every GET and PATCH once the request has been read (a
	// PATCH refused for its content type or size is answered at once), to
	// play a slow upstream. A request whose context ends meanwhile is
	// answered 503 and nothing is applied.
	Latency time.Duration
	// Fault, when set, is called after Latency. A non-nil error is answered
	// in the error envelope with its status; nothing is applied or
	// remembered. Fault must not read the body.
	Fault func(r *http.Request) *canonical.Error
}

// Stats counts what a Backend has done.
type Stats struct {
	Requests int64 // requests received, every call and status
	Applied  int64 // updates applied to a user (a replay or an empty update applies nothing)
	Replayed int64 // responses replayed for a repeated Idempotency-Key
	Keys     int   // Idempotency-Keys remembered now
}

// Backend is an in-memory canonical identity backend. It is safe for
// concurrent use.
type Backend struct {
	opts     Options
	handler  http.Handler
	requests atomic.Int64

	mu       sync.RWMutex
	users    map[string]*record // by id
	names    map[string]string  // username -> id, across tenants
	keys     *keyStore
	applied  int64
	replayed int64
}

// record is one stored user. Records are never modified: an update stores a
// new one, so a reader may use a record's fields after unlocking.
type record struct {
	id, username, tenant string
	json                 []byte // the canonical user, never with a password
	hash                 []byte // bcrypt hash of the password; nil when none
}

// New returns a Backend holding the demo users if opts.Seed, then opts.Users.
func New(opts Options) *Backend {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.IdempotencyTTL <= 0 {
		opts.IdempotencyTTL = 24 * time.Hour
	}
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = 10000
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 1 << 20
	}
	if opts.PasswordCost == 0 {
		opts.PasswordCost = bcrypt.DefaultCost
	}
	b := &Backend{
		opts:  opts,
		users: make(map[string]*record),
		names: make(map[string]string),
		keys:  newKeyStore(opts.IdempotencyTTL, opts.MaxKeys),
	}
	b.handler = b.routes()
	var users []json.RawMessage
	if opts.Seed {
		users = DemoUsers()
	}
	for _, u := range append(users, opts.Users...) {
		if err := b.Put(u); err != nil {
			panic(err)
		}
	}
	return b
}

// Handler serves the contract's calls: GET and PATCH on /users/{id} and
// /users/by-username/{username}.
func (b *Backend) Handler() http.Handler { return b.handler }

// User returns a copy of the stored canonical user with the id, for tests.
func (b *Backend) User(id string) ([]byte, bool) {
	b.mu.RLock()
	rec := b.users[id]
	b.mu.RUnlock()
	if rec == nil {
		return nil, false
	}
	return append([]byte(nil), rec.json...), true
}

// Put inserts a canonical user, or replaces the one with the same id. The
// user must pass canonical.ValidateUser, except that a "password" member is
// hashed and removed; it needs a username no other user has. An absent id
// is generated, absent createdAt and updatedAt are set to now. Put returns a
// *canonical.Error wrapped with its context.
func (b *Backend) Put(user []byte) error {
	var hash []byte
	u := append([]byte(nil), user...)
	if pw := gjson.GetBytes(u, "password"); pw.Exists() && gjson.ValidBytes(u) {
		if pw.Type != gjson.String {
			return fmt.Errorf("backend: put: %w", canonical.FieldError("password", "must be a string"))
		}
		h, cerr := b.hashPassword(pw.Str)
		if cerr != nil {
			return fmt.Errorf("backend: put: %w", cerr)
		}
		hash = h
		var err error
		if u, err = sjson.DeleteBytes(u, "password"); err != nil {
			return fmt.Errorf("backend: put: %w", err)
		}
	}
	if err := canonical.ValidateUser(u); err != nil {
		return fmt.Errorf("backend: put: %w", err)
	}
	id, username := gjson.GetBytes(u, "id").Str, gjson.GetBytes(u, "username").Str
	if username == "" {
		return fmt.Errorf("backend: put: %w", canonical.FieldError("username", "is required"))
	}
	now := b.now()
	for _, set := range []struct{ path, value string }{
		{"id", uuid.NewString()}, {"createdAt", now}, {"updatedAt", now},
	} {
		if gjson.GetBytes(u, set.path).Exists() {
			continue
		}
		if set.path == "id" {
			id = set.value
		}
		var err error
		if u, err = sjson.SetBytes(u, set.path, set.value); err != nil {
			return fmt.Errorf("backend: put: %w", err)
		}
	}
	if id == "" {
		return fmt.Errorf("backend: put: %w", canonical.FieldError("id", "must not be empty"))
	}
	rec := &record{id: id, username: username, tenant: gjson.GetBytes(u, "tenant").Str, json: u, hash: hash}

	b.mu.Lock()
	defer b.mu.Unlock()
	if owner, ok := b.names[username]; ok && owner != id {
		return fmt.Errorf("backend: put: %w", &canonical.Error{
			Code: canonical.Conflict, Field: "username", Message: "another user has this username"})
	}
	b.store(b.users[id], rec)
	return nil
}

// store replaces old (nil for a new user) with rec; the caller holds mu.
func (b *Backend) store(old, rec *record) {
	if old != nil && old.username != rec.username {
		delete(b.names, old.username)
	}
	b.users[rec.id] = rec
	b.names[rec.username] = rec.id
}

// Applied reports how many times the update sent under the Idempotency-Key
// was applied: 0 or 1, unless the backend is broken. It is 0 for a key not
// remembered, or no longer.
func (b *Backend) Applied(key string) int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if e := b.keys.get(key, b.opts.Clock()); e != nil {
		return e.applied
	}
	return 0
}

// Stats returns the counters.
func (b *Backend) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.keys.prune(b.opts.Clock())
	return Stats{
		Requests: b.requests.Load(),
		Applied:  b.applied,
		Replayed: b.replayed,
		Keys:     b.keys.len(),
	}
}

// CheckPassword reports whether password is the stored password of the user
// with the id, for tests.
func (b *Backend) CheckPassword(id, password string) bool {
	b.mu.RLock()
	rec := b.users[id]
	b.mu.RUnlock()
	return rec != nil && rec.hash != nil && bcrypt.CompareHashAndPassword(rec.hash, []byte(password)) == nil
}

// hashPassword hashes a password to store, refusing what bcrypt cannot take.
func (b *Backend) hashPassword(pw string) ([]byte, *canonical.Error) {
	if pw == "" {
		return nil, canonical.FieldError("password", "must not be empty")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), b.opts.PasswordCost)
	switch {
	case errors.Is(err, bcrypt.ErrPasswordTooLong):
		return nil, canonical.FieldError("password", "must be at most 72 bytes")
	case err != nil:
		return nil, &canonical.Error{Code: canonical.Internal, Message: "cannot hash the password"}
	}
	return h, nil
}

// stampFormat is RFC 3339 with milliseconds, as every timestamp is written.
const stampFormat = "2006-01-02T15:04:05.000Z07:00"

func (b *Backend) now() string { return b.opts.Clock().UTC().Format(stampFormat) }

// nextUpdatedAt is now, or a millisecond after prev when the clock has not
// moved past it, so that updatedAt changes on every applied update.
func (b *Backend) nextUpdatedAt(prev string) string {
	now := b.opts.Clock().UTC().Truncate(time.Millisecond)
	if p, err := time.Parse(time.RFC3339Nano, prev); err == nil && !now.After(p) {
		now = p.UTC().Truncate(time.Millisecond).Add(time.Millisecond)
	}
	return now.Format(stampFormat)
}
