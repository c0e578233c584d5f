package backend

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestIdempotentReplay(t *testing.T) {
	b, srv, c := start(t, Options{})
	path, doc := "/users/"+DemoJaneID, `{"set":{"givenName":"Janet"}}`
	first := call(t, srv, "PATCH", path, doc, HeaderIdempotencyKey, "key-1")
	if first.status != 200 || first.header.Get(HeaderReplayed) != "" {
		t.Fatalf("first = %d %s", first.status, first.body)
	}
	// Between the two, the user changes and the clock moves: the replay
	// still answers what the first request got, and applies nothing.
	c.Advance(time.Hour)
	call(t, srv, "PATCH", path, `{"set":{"phone":"2"}}`)
	again := call(t, srv, "PATCH", path, doc, HeaderIdempotencyKey, "key-1")
	again.is(t, 200, first.body)
	if again.header.Get(HeaderReplayed) != "true" {
		t.Error("replay not marked")
	}
	if got, want := b.Applied("key-1"), 1; got != want {
		t.Errorf("Applied = %d, want %d", got, want)
	}
	if s := b.Stats(); s.Applied != 2 || s.Replayed != 1 || s.Keys != 1 || s.Requests != 3 {
		t.Errorf("Stats = %+v", s)
	}
	if b.Applied("unknown") != 0 {
		t.Error("Applied of an unknown key")
	}

	// The same key with another body, another user or another tenant.
	const reused = `{"error":{"code":"conflict","message":"the Idempotency-Key was already used with another request"}}`
	call(t, srv, "PATCH", path, `{"set":{"givenName":"Other"}}`, HeaderIdempotencyKey, "key-1").is(t, 422, reused)
	call(t, srv, "PATCH", path, doc+" ", HeaderIdempotencyKey, "key-1").is(t, 422, reused)
	call(t, srv, "PATCH", "/users/"+DemoJohnID, doc, HeaderIdempotencyKey, "key-1").is(t, 422, reused)
	call(t, srv, "PATCH", "/users/by-username/jane.doe", doc, HeaderIdempotencyKey, "key-1").is(t, 422, reused)
	call(t, srv, "PATCH", path, doc, HeaderIdempotencyKey, "key-1", HeaderTenant, "t1").is(t, 422, reused)
	if s := b.Stats(); s.Applied != 2 || b.Applied("key-1") != 1 {
		t.Errorf("Stats after reuse = %+v", s)
	}
	// GET ignores the key.
	if r := call(t, srv, "GET", path, "", HeaderIdempotencyKey, "key-1"); r.status != 200 {
		t.Errorf("GET = %d", r.status)
	}
}

func TestIdempotentErrorsRemembered(t *testing.T) {
	b, srv, _ := start(t, Options{})
	doc := `{"set":{"phone":"1"}}`
	const notFound = `{"error":{"code":"not_found","message":"no such user"}}`
	call(t, srv, "PATCH", "/users/late", doc, HeaderIdempotencyKey, "k404").is(t, 404, notFound)
	if err := b.Put([]byte(`{"id":"late","username":"late"}`)); err != nil {
		t.Fatal(err)
	}
	r := call(t, srv, "PATCH", "/users/late", doc, HeaderIdempotencyKey, "k404")
	r.is(t, 404, notFound)
	if r.header.Get(HeaderReplayed) != "true" || b.Applied("k404") != 0 {
		t.Error("a 404 was not replayed")
	}
	// Refused before the key is read: not remembered.
	call(t, srv, "PATCH", "/users/late", doc, HeaderIdempotencyKey, "k415", "Content-Type", "text/plain")
	if r := call(t, srv, "PATCH", "/users/late", doc, HeaderIdempotencyKey, "k415"); r.status != 200 {
		t.Errorf("after a 415 = %d %s", r.status, r.body)
	}
}

func TestIdempotencyExpiryAndBound(t *testing.T) {
	b, srv, c := start(t, Options{IdempotencyTTL: time.Minute, MaxKeys: 2})
	path, doc := "/users/"+DemoJaneID, `{"set":{"phone":"1"}}`
	call(t, srv, "PATCH", path, doc, HeaderIdempotencyKey, "a")
	c.Advance(59 * time.Second)
	if r := call(t, srv, "PATCH", path, doc, HeaderIdempotencyKey, "a"); r.header.Get(HeaderReplayed) != "true" {
		t.Error("not replayed within the TTL")
	}
	c.Advance(time.Second)
	if b.Applied("a") != 0 || b.Stats().Keys != 0 {
		t.Error("key kept past the TTL")
	}
	if r := call(t, srv, "PATCH", path, doc, HeaderIdempotencyKey, "a"); r.status != 200 || r.header.Get(HeaderReplayed) != "" {
		t.Error("expired key replayed")
	}
	if b.Applied("a") != 1 || b.Stats().Applied != 2 {
		t.Errorf("after expiry: Applied(a) = %d, %+v", b.Applied("a"), b.Stats())
	}
	// Past MaxKeys the oldest is forgotten.
	call(t, srv, "PATCH", path, doc, HeaderIdempotencyKey, "b")
	call(t, srv, "PATCH", path, doc, HeaderIdempotencyKey, "c")
	if s := b.Stats(); s.Keys != 2 || b.Applied("a") != 0 || b.Applied("b") != 1 || b.Applied("c") != 1 {
		t.Errorf("bound: %+v", s)
	}
}

// TestIdempotentConcurrent sends the same request many times at once, as
// retries racing each other would: it is applied once, and every response is
// the same.
func TestIdempotentConcurrent(t *testing.T) {
	b, srv, _ := start(t, Options{})
	const n = 32
	var wg sync.WaitGroup
	replies := make([]reply, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i] = call(t, srv, "PATCH", "/users/by-username/merchant.admin",
				`{"set":{"password":"correct horse","active":false}}`, HeaderIdempotencyKey, "same")
		}()
	}
	// Meanwhile, other keys on other users.
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			doc := fmt.Sprintf(`{"set":{"phone":"%d"}}`, i)
			if r := call(t, srv, "PATCH", "/users/"+DemoJohnID, doc, HeaderIdempotencyKey, fmt.Sprint("k", i)); r.status != 200 {
				t.Errorf("PATCH %d = %d %s", i, r.status, r.body)
			}
			call(t, srv, "GET", "/users/"+DemoJaneID, "")
		}()
	}
	wg.Wait()
	fresh := 0
	for _, r := range replies {
		if r.status != 200 || r.body != replies[0].body || strings.Contains(r.body, "password") {
			t.Errorf("reply = %d %s", r.status, r.body)
		}
		if r.header.Get(HeaderReplayed) == "" {
			fresh++
		}
	}
	if fresh != 1 {
		t.Errorf("%d responses not replayed, want 1", fresh)
	}
	if got := b.Applied("same"); got != 1 {
		t.Errorf("Applied = %d, want 1", got)
	}
	if s := b.Stats(); s.Applied != 1+n || s.Replayed != n-1 || s.Keys != 1+n || s.Requests != 3*n {
		t.Errorf("Stats = %+v", s)
	}
	if !b.CheckPassword(DemoMerchantID, "correct horse") {
		t.Error("password not set")
	}
}
