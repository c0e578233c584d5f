package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/userbridge/userbridge/mapping"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// One user's lock is held until released; a waiter gives up when its
// context ends, and takes it once released; another user's lock is free
// meanwhile (unless the two share a stripe, which is not the case here).
func TestUserLocks(t *testing.T) {
	l := newUserLocks()
	jane := canonical.Addressed{Target: canonical.ByUsername, Value: "jane", Tenant: "t1"}
	unlock, err := l.lock(context.Background(), "baasic", jane)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() {
		_, err := l.lock(ctx, "baasic", jane)
		gaveUp <- err
	}()
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("a waiter whose context ended: %v", err)
	}
	// Another user, dialect or tenant is another key.
	for _, other := range []struct {
		dialect string
		a       canonical.Addressed
	}{{"baasic", canonical.Addressed{Target: canonical.ByUsername, Value: "john", Tenant: "t1"}},
		{"shift", jane}, {"baasic", canonical.Addressed{Target: canonical.ByUsername, Value: "jane", Tenant: "t2"}}} {
		if l.hash(other.dialect, other.a) == l.hash("baasic", jane) {
			t.Errorf("%s %+v hashes as baasic's jane", other.dialect, other.a)
		}
	}
	got := make(chan func(), 1)
	go func() {
		u, err := l.lock(context.Background(), "baasic", jane)
		if err != nil {
			t.Error(err)
		}
		got <- u
	}()
	select {
	case <-got:
		t.Fatal("the lock was taken twice")
	case <-time.After(20 * time.Millisecond):
	}
	unlock()
	(<-got)()
	// Released: free again, at once.
	ctx, cancel = context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	u, err := l.lock(ctx, "baasic", jane)
	if err != nil {
		t.Fatal(err)
	}
	u()
}

// Addressed finds the user Translate finds, for every built-in dialect,
// before translation: from the route parameter or the body member, with
// the tenant; nothing for a request that names none.
func TestAddressedBeforeTranslation(t *testing.T) {
	_, mounts := defaultMounts(t, nil)
	cases := map[string]struct {
		params gin.Params
		body   string
		want   canonical.Addressed
	}{
		"baasic": {gin.Params{{Key: "apiKey", Value: "app"}, {Key: "username", Value: "jane.doe"}}, `{"email":"j@example.org"}`,
			canonical.Addressed{Target: canonical.ByUsername, Value: "jane.doe", Tenant: "app"}},
		// As Translate normalizes it, whatever the rules say: no want.
		"shift": {gin.Params{{Key: "userId", Value: "0B6F4C1E-8C2A-4D7E-9F3B-5A1D2E3C4B5A"}}, `{"firstName":"J"}`, canonical.Addressed{}},
		"crafter": {nil, ` {"first_name":"J","username":"john.smith"}`,
			canonical.Addressed{Target: canonical.ByUsername, Value: "john.smith"}},
		"finix": {gin.Params{{Key: "user_id", Value: "USsRhsHYZGBPnQw8CFHjD7Un"}}, `{"enabled":false}`,
			canonical.Addressed{Target: canonical.ByID, Value: "USsRhsHYZGBPnQw8CFHjD7Un"}},
		"trustedtwin": {gin.Params{{Key: "user", Value: "7c9e6679-7425-40de-944b-e07fc1f90ae7"}}, `{"name":"Jane Doe"}`,
			canonical.Addressed{Target: canonical.ByID, Value: "7c9e6679-7425-40de-944b-e07fc1f90ae7"}},
	}
	seen := 0
	for _, m := range mounts {
		c, ok := cases[m.Dialect.Name()]
		if !ok {
			continue
		}
		seen++
		p := m.Dialect.Program()
		in := mapping.Input{Params: &c.params, Body: []byte(c.body)}
		got, ok := p.Addressed(&in)
		res, e := p.Translate(&in)
		if e != nil {
			t.Fatalf("%s: %v", m.Dialect.Name(), e)
		}
		if !ok || got.Target != res.Target || got.Value != res.Value || got.Tenant != res.Tenant {
			t.Errorf("%s: Addressed %+v %v, Translate %v %q %q", m.Dialect.Name(), got, ok, res.Target, res.Value, res.Tenant)
		}
		if c.want.Value != "" && got != c.want {
			t.Errorf("%s: Addressed %+v, want %+v", m.Dialect.Name(), got, c.want)
		}
		if m.Dialect.Name() == "crafter" {
			for _, body := range []string{`{"first_name":"J"}`, `{"username":5}`, `{"username":"a","username":"b"}`, `[]`, ``} {
				in := mapping.Input{Body: []byte(body)}
				if a, ok := p.Addressed(&in); ok {
					t.Errorf("crafter %s: names %+v", body, a)
				}
			}
		}
	}
	if seen != len(cases) {
		t.Errorf("%d of %d dialects mounted", seen, len(cases))
	}
}
