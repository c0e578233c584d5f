package auth

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/userbridge/userbridge/internal/lex"
)

// entry is one line of an API key or Basic file. It holds hashes only.
type entry struct {
	name   string
	roles  []string
	id     string
	sum    []byte // SHA-256 of the key, when the line holds one
	bcrypt []byte // bcrypt hash, when the line holds one
}

// principal is who the entry is.
func (e *entry) principal(method string) *Principal {
	return &Principal{Subject: e.name, Username: e.name, ID: e.id, Roles: e.roles, Method: method}
}

// hashKinds says which hashes a file may hold.
type hashKinds uint8

const (
	allowSHA256 hashKinds = 1 << iota
	allowBcrypt
)

// readEntries parses a credential file, reporting every bad line. Errors
// name the file and line, never what the line holds.
func readEntries(file string, kinds hashKinds) ([]*entry, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	var out []*entry
	var errs []error
	seen := map[string]bool{}
	sums := map[string]bool{}
	bad := func(line int, msg string) {
		errs = append(errs, fmt.Errorf("auth: %s: line %d: %s", file, line, msg))
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		parts := strings.Split(line, ":")
		if len(parts) < 2 || len(parts) > 4 {
			bad(n, `want "name:hash[:roles[:id]]"`)
			continue
		}
		e := &entry{name: parts[0], id: parts[0]}
		if !validName(e.name) {
			bad(n, "the name must be printable ASCII without spaces")
			continue
		}
		if seen[e.name] {
			bad(n, "the name "+e.name+" appears twice")
			continue
		}
		seen[e.name] = true
		if len(parts) > 2 && parts[2] != "" {
			for _, r := range strings.Split(parts[2], ",") {
				if r = strings.TrimSpace(r); r != "" {
					e.roles = append(e.roles, r)
				}
			}
		}
		if len(parts) > 3 {
			if !validName(parts[3]) {
				bad(n, "the id must be printable ASCII without spaces")
				continue
			}
			e.id = parts[3]
		}
		h := parts[1]
		switch {
		case len(h) == 64 && isHex(h):
			if kinds&allowSHA256 == 0 {
				bad(n, "a SHA-256 hash is not accepted here: use bcrypt (htpasswd -B)")
				continue
			}
			e.sum, _ = hex.DecodeString(h)
			if sums[string(e.sum)] {
				bad(n, "the same key is listed twice")
				continue
			}
			sums[string(e.sum)] = true
		case strings.HasPrefix(h, "$2"):
			if _, err := bcrypt.Cost([]byte(h)); err != nil {
				bad(n, "not a valid bcrypt hash")
				continue
			}
			if kinds&allowBcrypt == 0 {
				bad(n, "a bcrypt hash needs apiKeys.idHeader (without it every key would be tried); use the key's SHA-256")
				continue
			}
			e.bcrypt = []byte(h)
		default:
			bad(n, "the hash must be 64 hex digits (SHA-256) or bcrypt ($2a$, $2b$, $2y$); plain keys and passwords are never accepted")
			continue
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("auth: %s: %w", file, err))
	}
	if len(out) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("auth: %s: holds no credentials", file))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// isHex reports whether every byte of s is a hexadecimal digit.
func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !lex.IsHex(s[i]) {
			return false
		}
	}
	return true
}

// credStore checks a secret against the entries, in time that does not
// depend on which entry (if any) matches.
type credStore struct {
	entries []*entry
	byName  map[string]*entry
	dummy   []byte // bcrypt hash compared when a name is unknown
	cache   *successCache
}

func newCredStore(entries []*entry) (*credStore, error) {
	s := &credStore{entries: entries, byName: make(map[string]*entry, len(entries)), cache: newSuccessCache()}
	cost := 0
	for _, e := range entries {
		s.byName[e.name] = e
		if e.bcrypt != nil {
			c, _ := bcrypt.Cost(e.bcrypt)
			cost = max(cost, c)
		}
	}
	if cost > 0 {
		var pw [16]byte
		_, _ = rand.Read(pw[:])
		h, err := bcrypt.GenerateFromPassword([]byte(hex.EncodeToString(pw[:])), cost)
		if err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
		s.dummy = h
	}
	return s, nil
}

// byKey finds the entry whose SHA-256 equals the key's, comparing with
// every entry so that the time taken says nothing about which matched.
func (s *credStore) byKey(key string) *entry {
	sum := sha256.Sum256([]byte(key))
	var found *entry
	for _, e := range s.entries {
		if e.sum != nil && subtle.ConstantTimeCompare(sum[:], e.sum) == 1 {
			found = e
		}
	}
	return found
}

// check finds the named entry and checks its secret. An unknown name costs
// what a wrong secret costs.
func (s *credStore) check(name, secret string) *entry {
	e := s.byName[name]
	if e == nil {
		if s.dummy != nil {
			_ = bcrypt.CompareHashAndPassword(s.dummy, []byte(secret))
		} else {
			sum := sha256.Sum256([]byte(secret))
			subtle.ConstantTimeCompare(sum[:], make([]byte, sha256.Size))
		}
		return nil
	}
	if e.sum != nil {
		sum := sha256.Sum256([]byte(secret))
		if subtle.ConstantTimeCompare(sum[:], e.sum) == 1 {
			return e
		}
		return nil
	}
	if len(secret) > 72 {
		// bcrypt reads only 72 bytes; a longer secret would match on its
		// prefix alone.
		_ = bcrypt.CompareHashAndPassword(e.bcrypt, []byte(secret[:72]))
		return nil
	}
	if s.cache.hit(name, secret, e.bcrypt) {
		return e
	}
	if bcrypt.CompareHashAndPassword(e.bcrypt, []byte(secret)) != nil {
		return nil
	}
	s.cache.add(name, secret, e.bcrypt)
	return e
}

// successCache remembers recently verified bcrypt credentials for a few
// minutes, so that a client sending Basic on every request costs one
// bcrypt comparison per successCacheTTL instead of one per request (bcrypt
// is slow on purpose: 50-100 ms a check). It holds salted SHA-256 digests of
// name, secret and stored hash, never a secret; failures are never cached.
type successCache struct {
	salt [32]byte
	mu   sync.Mutex
	m    map[[sha256.Size]byte]time.Time
	now  func() time.Time
}

const (
	successCacheTTL = 5 * time.Minute
	successCacheMax = 4096
)

func newSuccessCache() *successCache {
	c := &successCache{m: map[[sha256.Size]byte]time.Time{}, now: time.Now}
	_, _ = rand.Read(c.salt[:])
	return c
}

func (c *successCache) key(name, secret string, hash []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write(c.salt[:])
	for _, part := range [][]byte{[]byte(name), []byte(secret), hash} {
		var n [4]byte
		n[0], n[1], n[2], n[3] = byte(len(part)>>24), byte(len(part)>>16), byte(len(part)>>8), byte(len(part))
		h.Write(n[:])
		h.Write(part)
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

func (c *successCache) hit(name, secret string, hash []byte) bool {
	k := c.key(name, secret, hash)
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.m[k]
	if ok && c.now().Before(exp) {
		return true
	}
	if ok {
		delete(c.m, k)
	}
	return false
}

func (c *successCache) add(name, secret string, hash []byte) {
	k := c.key(name, secret, hash)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= successCacheMax {
		clear(c.m)
	}
	c.m[k] = c.now().Add(successCacheTTL)
}

// readSecret reads a one-line secret file, trimming surrounding white space.
func readSecret(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("auth: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("auth: %s: empty", file)
	}
	if strings.ContainsAny(s, "\r\n") {
		return "", fmt.Errorf("auth: %s: holds more than one line", file)
	}
	return s, nil
}
