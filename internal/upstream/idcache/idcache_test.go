package idcache

import (
	"strconv"
	"testing"
	"time"
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
