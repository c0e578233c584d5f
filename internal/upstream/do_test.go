package upstream

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/mapping/canonical"
)

func TestDoHandsBackEveryReply(t *testing.T) {
	u := startUpstream(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/scim/Users/1":
			w.Header().Set("Content-Type", "application/scim+json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"scimType":"invalidValue"}`))
		case "/scim/Users":
			reply(w, http.StatusOK, `{"Resources":[]}`)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	c := newClient(t, u.URL+"/scim/")
	h := http.Header{"Content-Type": {"application/scim+json"}, "Authorization": {"Bearer x"}}
	res, err := c.Do(context.Background(), http.MethodPatch, "/Users/1", []byte(`{}`), h)
	if err != nil || res.Status != 400 || string(res.Body) != `{"scimType":"invalidValue"}` || res.Attempts != 1 {
		t.Fatalf("PATCH: %+v %v", res, err)
	}
	got := u.requests()[0]
	if got.uri != "/scim/Users/1" || got.header.Get("Content-Type") != "application/scim+json" ||
		got.header.Get("Accept") != "application/json" || got.header.Get("Authorization") != "Bearer x" {
		t.Errorf("request %+v", got)
	}
	res, err = c.Do(context.Background(), http.MethodGet, `/Users?filter=userName%20eq%20%22a%22`, nil, nil)
	if err != nil || res.Status != 200 || string(res.Body) != `{"Resources":[]}` {
		t.Fatalf("GET: %+v %v", res, err)
	}
	if got := u.requests()[1]; got.uri != `/scim/Users?filter=userName%20eq%20%22a%22` || len(got.body) != 0 {
		t.Errorf("request %+v", got)
	}
	res, err = c.Do(context.Background(), http.MethodPut, "/x", []byte(`{}`), nil)
	if err != nil || res.Status != 204 || res.Body != nil {
		t.Fatalf("PUT: %+v %v", res, err)
	}
	for _, p := range []string{"", "x", "/a#b", "/a b"} {
		if _, err := c.Do(context.Background(), http.MethodGet, p, nil, nil); err == nil || err.Code != canonical.Internal {
			t.Errorf("path %q: %v", p, err)
		}
	}
}

func TestDoRetriesLikePatch(t *testing.T) {
	u := startUpstream(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			reply(w, http.StatusServiceUnavailable, `{}`)
			return
		}
		if n == 2 {
			reply(w, http.StatusInternalServerError, `{"detail":"db down"}`)
			return
		}
		reply(w, http.StatusOK, `{}`)
	})
	c := newClient(t, u.URL)
	res, err := c.Do(context.Background(), http.MethodPatch, "/Users/1", []byte(`{}`), nil)
	// 503 is retried; 500 is not, and is handed back with its body.
	if err != nil || res.Status != 500 || res.Attempts != 2 || !strings.Contains(string(res.Body), "db down") {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestDoCountsForTheBreaker(t *testing.T) {
	u := startUpstream(t, func(n int, w http.ResponseWriter, r *http.Request) { reply(w, http.StatusInternalServerError, `{}`) })
	c := newClient(t, u.URL, func(c *setup) {
		c.MaxAttempts = 1
		// Do's requests are for no user: each failure is evidence about the
		// upstream, as many distinct users.
		c.Breaker = config.Breaker{Enabled: breakerOn, Failures: 2, Targets: 2, OpenFor: config.Duration(time.Minute)}
	})
	for range 2 {
		if res, err := c.Do(context.Background(), http.MethodGet, "/x", nil, nil); err != nil || res.Status != 500 {
			t.Fatalf("%+v %v", res, err)
		}
	}
	if _, err := c.Do(context.Background(), http.MethodGet, "/x", nil, nil); err == nil || err.Code != canonical.Unavailable {
		t.Fatalf("breaker not open: %v (%s)", err, c.BreakerState())
	}
}

func TestDoReplyTooLarge(t *testing.T) {
	u := startUpstream(t, func(n int, w http.ResponseWriter, r *http.Request) {
		reply(w, 200, `{"a":"`+strings.Repeat("x", 200)+`"}`)
	})
	c := newClient(t, u.URL, func(c *setup) { c.MaxReplyBytes = 100 })
	if _, err := c.Do(context.Background(), http.MethodGet, "/x", nil, nil); err == nil || err.Code != canonical.BadGateway {
		t.Fatalf("%v", err)
	}
}

// TestResultOwnsItsBytes: a Result's Body and Header are its own: the
// next calls, whose replies the transport reads into its buffers, leave
// them unchanged (nothing returned points into a reused reply buffer).
func TestResultOwnsItsBytes(t *testing.T) {
	up := startUpstream(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Reply", strings.Repeat(strconv.Itoa(n%10), 8))
		reply(w, http.StatusOK, `{"id":"`+strings.Repeat(strconv.Itoa(n%10), 32)+`"}`)
	})
	c := newClient(t, up.URL)
	first, err := patch(t, c, patchCall("1"))
	if err != nil {
		t.Fatal(err)
	}
	raw, cerr := c.Do(context.Background(), http.MethodGet, "/users/1", nil, http.Header{})
	if cerr != nil {
		t.Fatal(cerr)
	}
	body, header := string(first.Body), first.Header.Get("X-Reply")
	rawBody, rawHeader := string(raw.Body), raw.Header.Get("X-Reply")
	for i := range 20 {
		if _, err := patch(t, c, patchCall(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	if string(first.Body) != body || first.Header.Get("X-Reply") != header || body != `{"id":"`+strings.Repeat("1", 32)+`"}` {
		t.Errorf("Patch's result changed: %s %q", first.Body, first.Header.Get("X-Reply"))
	}
	if string(raw.Body) != rawBody || raw.Header.Get("X-Reply") != rawHeader || rawHeader != "22222222" {
		t.Errorf("Do's result changed: %s %q", raw.Body, raw.Header.Get("X-Reply"))
	}
}
