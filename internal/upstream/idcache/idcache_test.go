package idcache

import (
	"strconv"
	"testing"
	"time"
	"unsafe"
)

func TestCache(t *testing.T) {
	c := New(time.Minute, 3)
	now := time.Unix(1000, 0)
	c.now = func() time.Time { return now }

	c.Put("t1", "jane", "1")
	if id, ok := c.Get("t1", "jane"); !ok || id != "1" {
		t.Fatalf("Get = %q %v", id, ok)
	}
	if _, ok := c.Get("t2", "jane"); ok {
		t.Error("another scope sees the entry")
	}
	now = now.Add(time.Minute)
	if _, ok := c.Get("t1", "jane"); ok {
		t.Error("expired entry returned")
	}
	if c.Len() != 0 {
		t.Errorf("expired entry kept: %d", c.Len())
	}

	c.Put("", "a", "1")
	c.Put("", "b", "2")
	c.Put("x", "c", "1")
	c.ForgetID("1")
	if _, ok := c.Get("", "a"); ok {
		t.Error("ForgetID kept a")
	}
	if _, ok := c.Get("x", "c"); ok {
		t.Error("ForgetID kept c")
	}
	if id, _ := c.Get("", "b"); id != "2" {
		t.Error("ForgetID dropped b")
	}
	c.Forget("", "b")
	if c.Len() != 0 {
		t.Errorf("Len %d after Forget", c.Len())
	}

	for i := range 10 {
		c.Put("", strconv.Itoa(i), "id")
		if c.Len() > 3 {
			t.Fatalf("over the limit: %d", c.Len())
		}
	}
	if id, ok := c.Get("", "9"); !ok || id != "id" {
		t.Error("the newest entry was evicted")
	}
}

func TestDisabled(t *testing.T) {
	c := New(0, 0)
	if c != nil {
		t.Fatal("ttl 0 should disable the cache")
	}
	c.Put("", "a", "1")
	if _, ok := c.Get("", "a"); ok || c.Len() != 0 {
		t.Error("a nil cache remembered")
	}
	c.Forget("", "a")
	c.ForgetID("1")
}

// TestPutOwnsItsStrings: what Put is given may be a view of memory the
// caller reuses once its request is done (a pooled request body, the fast
// server's header buffer). The cache keeps copies: an entry neither
// changes its key with that memory nor answers for the username written
// there next.
func TestPutOwnsItsStrings(t *testing.T) {
	c := New(time.Minute, 0)
	buf := []byte("tenant-a|john.smith|id-0001")
	view := func(from, to int) string { return unsafe.String(&buf[from], to-from) }
	c.Put(view(0, 8), view(9, 19), view(20, 27))
	copy(buf, "tenant-b|jane.smith|id-0002")
	if id, ok := c.Get("tenant-a", "john.smith"); !ok || id != "id-0001" {
		t.Errorf("john.smith: %q %v after the caller's buffer was reused, want id-0001", id, ok)
	}
	if id, ok := c.Get("tenant-b", "jane.smith"); ok {
		t.Errorf("jane.smith, never put, resolved to %q", id)
	}
}
