package app_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/app"
	"github.com/userbridge/userbridge/internal/upstream/scim"
	"github.com/userbridge/userbridge/internal/upstream/scim/scimtest"
)

// hangingDiscovery is a SCIM server in front of which discovery first
// answers 503 (so that start-up goes on at once, startUndiscovered), then,
// once hang is called, hangs until release: each discovery request that
// arrives is counted and signalled on arrived.
type hangingDiscovery struct {
	url      string
	mode     atomic.Int32 // 0: down (503), 1: discovery hangs, 2: up
	arrivals atomic.Int32
	arrived  chan struct{}
	released chan struct{}
	once     sync.Once
}

func newHangingDiscovery(t *testing.T, srv *scimtest.Server) *hangingDiscovery {
	h := &hangingDiscovery{arrived: make(chan struct{}, 16), released: make(chan struct{})}
	target, _ := url.Parse(srv.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		discovery := !strings.HasPrefix(r.URL.Path, "/Users")
		switch {
		case h.mode.Load() == 0:
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		case h.mode.Load() == 1 && discovery:
			h.arrivals.Add(1)
			h.arrived <- struct{}{}
			select {
			case <-h.released:
			case <-r.Context().Done():
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	t.Cleanup(h.release)
	h.url = front.URL
	return h
}

func (h *hangingDiscovery) release() {
	h.once.Do(func() { h.mode.Store(2); close(h.released) })
}

func startHanging(t *testing.T, timeout time.Duration) (*hangingDiscovery, *started, string) {
	return startHangingWith(t, timeout, scimtest.Options{Extension: scim.DefaultExtensionSchema})
}

// startHangingWith is startHanging with a SCIM server as o says.
func startHangingWith(t *testing.T, timeout time.Duration, o scimtest.Options) (*hangingDiscovery, *started, string) {
	srv, err := scimtest.StartWith(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	john := srv.Add(scimJohn)
	h := newHangingDiscovery(t, srv)
	logs := &syncBuffer{}
	a, err := app.New(scimConfig(t, h.url, func(c *config.Config) {
		c.Upstream.SCIM.StartUndiscovered = true
		c.Upstream.Timeout = config.Duration(timeout)
	}), config.Source{Name: "test"}, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	s := launch(t, a, "127.0.0.1:0", logs)
	h.mode.Store(1)
	return h, s, john
}

// TestSCIMReadyzNotBehindDiscovery: while an update's discovery hangs
// (upstream.timeout 10 minutes), /readyz answers 503 within its own
// deadline instead of queueing behind it (the discovery lock ignored
// deadlines: /readyz waited for the update's discovery to end, then made
// its own), and it makes no discovery of its own: the update's, once the
// provider answers, serves both.
func TestSCIMReadyzNotBehindDiscovery(t *testing.T) {
	h, s, john := startHanging(t, 10*time.Minute)
	update := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest("PUT", s.base+"/v3/users/"+john, strings.NewReader(`{"firstName":"Johnny"}`))
		req.Header.Set("Content-Type", "application/json")
		update <- send(req)
	}()
	<-h.arrived // the update's discovery is under way, and hangs
	ready := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest("GET", s.base+"/readyz", nil)
		ready <- send(req)
	}()
	var r answer
	select {
	case r = <-ready:
	case <-time.After(8 * time.Second):
		// /readyz's own deadline is 2s: it waits for a discovery it
		// cannot end. (Released, it answered 503 all the same, its
		// deadline past.)
		t.Error("/readyz queued behind the update's discovery, past its deadline")
		h.release()
		r = <-ready
	}
	h.release()
	if r.Status != 503 || gjson.GetBytes(r.Body, "upstream").Str != "unreachable" {
		t.Errorf("readyz while discovery hangs: %d %s", r.Status, r.Body)
	}
	if u := <-update; u.Status != 204 {
		t.Errorf("the update, once the provider answered: %d %s", u.Status, u.Body)
	}
	if n := h.arrivals.Load(); n != 1 {
		t.Errorf("%d discoveries started while one hung, want 1", n)
	}
	// What the late discovery found is the operator's to read, as start-up's.
	if !strings.Contains(s.logs.String(), `"msg":"scim: provider capabilities discovered"`) {
		t.Errorf("the discovery after start-up was not logged: %s", s.logs.String())
	}
	if r := s.do(t, "GET", "/readyz", nil, ""); r.Status != 200 {
		t.Errorf("readyz once discovered: %d %s", r.Status, r.Body)
	}
}

// TestSCIMUndiscoveredRetryAfter: an update while the provider cannot be
// discovered (its discovery hangs past upstream.timeout) is the dialect's
// 503 with a Retry-After, as the breaker's 503 is; it had none.
func TestSCIMUndiscoveredRetryAfter(t *testing.T) {
	_, s, john := startHanging(t, 300*time.Millisecond)
	a := s.do(t, "PUT", "/v3/users/"+john, jsonHdr, `{"firstName":"Johnny"}`)
	if a.Status != 503 || a.Header.Get("Retry-After") == "" {
		t.Fatalf("%d %v %s, want 503 with Retry-After", a.Status, a.Header, a.Body)
	}
}

// send is doReq for a goroutine: a failure is a zero answer, reported by
// the caller's checks.
func send(req *http.Request) answer {
	resp, err := client.Do(req)
	if err != nil {
		return answer{Body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// TestSCIMUndiscoveredLogged: an update refused because the provider is
// not discovered (its discovery fails, or is still under way when the
// update's upstream.timeout ends) is an upstream call that came to
// nothing: the access line names why (upstream_error) and counts the time
// spent on it, and the PATCH is counted with no answer. The access line
// showed neither, as for a field refused before sending (which stays
// uncounted: TestLDAPRefusedNotCounted).
func TestSCIMUndiscoveredLogged(t *testing.T) {
	h, s, john := startHanging(t, 300*time.Millisecond)
	for _, tc := range []struct {
		mode int32
		kind string
	}{
		{0, "scim discovery: unreachable"},               // the provider answers 503
		{1, "scim discovery: still under way (timeout)"}, // it hangs past upstream.timeout
	} {
		h.mode.Store(tc.mode)
		rid := fmt.Sprintf("rid-undiscovered-%d", tc.mode)
		a := s.do(t, "PUT", "/v3/users/"+john, map[string]string{"Content-Type": "application/json", "X-Request-ID": rid}, `{"firstName":"Johnny"}`)
		if a.Status != 503 {
			t.Fatalf("%s: %d %s", tc.kind, a.Status, a.Body)
		}
		line := accessLine(t, s.logs.String(), rid)
		if line["upstream_error"] != tc.kind {
			t.Errorf("%s: upstream_error %v in %v", tc.kind, line["upstream_error"], line)
		}
		if up, _ := line["upstream_latency"].(float64); up <= 0 {
			t.Errorf("%s: no upstream time: %v", tc.kind, line)
		}
		if v, ok := value(scrape(t, s.base), "userbridge_upstream_calls_total",
			map[string]string{"dialect": line["dialect"].(string), "method": "PATCH", "status": "none"}); !ok || v == 0 {
			t.Errorf("%s: the PATCH is not counted", tc.kind)
		}
	}
}

// TestSCIMWaitedThenRefusedNotCounted: an update that waited for the
// provider's discovery, which then succeeded, and was refused for a field
// the provider cannot hold (nothing sent), has the wait as its upstream
// time on the access line, and is no upstream call (no PATCH counted
// without an answer): the provider did not fail.
func TestSCIMWaitedThenRefusedNotCounted(t *testing.T) {
	h, s, john := startHangingWith(t, 300*time.Millisecond, scimtest.Options{}) // no extension: locked is refused
	h.mode.Store(2)
	const rid = "rid-waited-refused"
	a := s.do(t, "PUT", "/v3/users/"+john, map[string]string{"Content-Type": "application/json", "X-Request-ID": rid}, `{"status":"LOCKED"}`)
	if a.Status < 400 || a.Status > 499 || !strings.Contains(string(a.Body), "status") {
		t.Fatalf("want the field refused: %d %s", a.Status, a.Body)
	}
	line := accessLine(t, s.logs.String(), rid)
	if up, _ := line["upstream_latency"].(float64); up <= 0 || line["upstream_error"] != nil {
		t.Errorf("want the wait's time and no upstream_error: %v", line)
	}
	if v, ok := value(scrape(t, s.base), "userbridge_upstream_calls_total",
		map[string]string{"dialect": "shift", "method": "PATCH", "status": "none"}); ok {
		t.Errorf("%v PATCH call(s) with no answer counted; none was made", v)
	}
}
