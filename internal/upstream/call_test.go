package upstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/mapping/canonical"
)

func TestSuccessStatuses(t *testing.T) {
	for _, tc := range []struct {
		status     int
		body       string
		wantStatus int
		wantBody   string
	}{
		{200, userJSON, 200, userJSON},
		{201, userJSON, 200, userJSON},
		{204, "", 204, ""},
	} {
		up := startUpstream(t, func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, tc.status, tc.body) })
		res, err := patch(t, newClient(t, up.URL), patchCall("1"))
		if err != nil {
			t.Fatalf("%d: %v", tc.status, err)
		}
		if res.Status != tc.wantStatus || string(res.Body) != tc.wantBody || (tc.wantBody == "" && res.Body != nil) {
			t.Errorf("%d: got %d %q", tc.status, res.Status, res.Body)
		}
	}
}

// TestRetriedStatuses: 502, 503 and 504 are retried with the same headers,
// so the same Idempotency-Key.
func TestRetriedStatuses(t *testing.T) {
	for _, status := range []int{502, 503, 504} {
		up := startUpstream(t, func(n int, w http.ResponseWriter, _ *http.Request) {
			if n < 3 {
				reply(w, status, `{"error":{"code":"unavailable","message":"busy"}}`)
				return
			}
			reply(w, 200, userJSON)
		})
		res, err := patch(t, newClient(t, up.URL), patchCall("7"))
		if err != nil {
			t.Fatalf("%d: %v", status, err)
		}
		if res.Attempts != 3 || res.Status != 200 {
			t.Errorf("%d: attempts %d status %d, want 3 and 200", status, res.Attempts, res.Status)
		}
		reqs := up.requests()
		for i, r := range reqs {
			if r.header.Get("Idempotency-Key") != "idem-7" || string(r.body) != `{"set":{"active":false}}` {
				t.Errorf("%d: attempt %d: key %q body %q", status, i+1, r.header.Get("Idempotency-Key"), r.body)
			}
		}
		if len(reqs) != 3 {
			t.Errorf("%d: upstream saw %d requests, want 3", status, len(reqs))
		}
	}
}

func TestRetriesExhausted(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   canonical.Code
		retry  string
	}{
		{502, canonical.BadGateway, ""},
		{503, canonical.Unavailable, "0"},
		{504, canonical.GatewayTimeout, ""},
	} {
		up := startUpstream(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			if tc.retry != "" {
				w.Header().Set("Retry-After", tc.retry)
			}
			reply(w, tc.status, `{"error":{"code":"unavailable","message":"down for maintenance"}}`)
		})
		res, err := patch(t, newClient(t, up.URL), patchCall("1"))
		wantCode(t, err, tc.code)
		if res.Attempts != 3 || up.hits.Load() != 3 || res.Status != tc.status || err.RetryAfter != tc.retry {
			t.Errorf("%d: attempts %d hits %d status %d Retry-After %q", tc.status, res.Attempts, up.hits.Load(), res.Status, err.RetryAfter)
		}
		// An upstream 5xx's own words are for its logs (a 503's may say
		// "dial tcp 10.0.0.5:5432: connection refused").
		if strings.Contains(err.Message, "maintenance") || err.Field != "" {
			t.Errorf("%d: message %q field %q: the upstream's own words shown", tc.status, err.Message, err.Field)
		}
		if tc.status == 503 && err.Message != "upstream unavailable; retry later" {
			t.Errorf("503: message %q", err.Message)
		}
		if tc.status != 503 && !strings.HasSuffix(err.Message, "may have been applied") {
			t.Errorf("%d: message %q does not warn the update may have been applied", tc.status, err.Message)
		}
	}
}

// TestNotRetried: 500 and every other 4xx are final; the envelope is
// mapped, and the status is used when there is none.
func TestNotRetried(t *testing.T) {
	for _, tc := range []struct {
		status  int
		body    string
		code    canonical.Code
		message string
		field   string
	}{
		{500, `{"error":{"code":"internal","message":"NullPointerException at Foo.java:12"}}`, canonical.Internal, "the upstream failed", ""},
		{501, ``, canonical.Internal, "the upstream failed", ""},
		{400, `{"error":{"code":"invalid_field","message":"not an e-mail address","field":"email"}}`, canonical.InvalidField, "not an e-mail address", "email"},
		{401, `{"error":{"code":"unauthorized","message":"token expired"}}`, canonical.Unauthorized, "token expired", ""},
		{403, `{"error":{"code":"forbidden","message":"read-only user"}}`, canonical.Forbidden, "read-only user", ""},
		{404, `{"error":{"code":"not_found","message":"no user 1"}}`, canonical.NotFound, "no user 1", ""},
		{409, `{"error":{"code":"conflict","message":"username taken","field":"username"}}`, canonical.Conflict, "username taken", "username"},
		{422, `{"error":{"code":"invalid_field","message":"too short","field":"password"}}`, canonical.InvalidField, "too short", "password"},
		// No envelope, or not the contract's: the status decides.
		{404, `<html>Not Found</html>`, canonical.NotFound, "no such user", ""},
		{409, ``, canonical.Conflict, "the update conflicts with the stored user", ""},
		{400, `{"error":"bad"}`, canonical.InvalidField, "the upstream rejected the request", ""},
		{403, `{"error":{"code":"weird","message":"nope"}}`, canonical.Forbidden, "nope", ""},
		{410, ``, canonical.NotFound, "no such user", ""},
		{413, ``, canonical.InvalidField, "the upstream rejected the request", ""},
		// A 4xx no code explains is the upstream's refusal, not userbridge's
		// own failure (it was internal, a 500): bad_gateway, its words not
		// shown, never "may have been applied".
		{418, `{"error":"I'm a teapot"}`, canonical.BadGateway, "the upstream answered with an unexpected status 418", ""},
		{405, ``, canonical.BadGateway, "the upstream answered with an unexpected status 405", ""},
		{307, ``, canonical.BadGateway, "the upstream answered with an unexpected status 307", ""},
	} {
		up := startUpstream(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			if tc.status == 307 {
				w.Header().Set("Location", "/elsewhere")
			}
			reply(w, tc.status, tc.body)
		})
		res, err := patch(t, newClient(t, up.URL), patchCall("1"))
		wantCode(t, err, tc.code)
		if err.Message != tc.message || err.Field != tc.field || err.Status != 0 {
			t.Errorf("%d %s: got message %q field %q status %d", tc.status, tc.body, err.Message, err.Field, err.Status)
		}
		if res.Attempts != 1 || up.hits.Load() != 1 || res.Status != tc.status || res.Body != nil {
			t.Errorf("%d: attempts %d hits %d status %d body %q", tc.status, res.Attempts, up.hits.Load(), res.Status, res.Body)
		}
	}
}

func TestRateLimited(t *testing.T) {
	t.Run("short Retry-After is honoured", func(t *testing.T) {
		up := startUpstream(t, func(n int, w http.ResponseWriter, _ *http.Request) {
			if n == 1 {
				w.Header().Set("Retry-After", "0")
				reply(w, 429, `{"error":{"code":"rate_limited","message":"slow down"}}`)
				return
			}
			reply(w, 200, userJSON)
		})
		res, err := patch(t, newClient(t, up.URL), patchCall("1"))
		if err != nil || res.Attempts != 2 {
			t.Fatalf("got %v after %d attempts, want success after 2", err, res.Attempts)
		}
	})
	for _, ra := range []string{"120", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)} {
		t.Run("Retry-After beyond the deadline: "+ra, func(t *testing.T) {
			up := startUpstream(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", ra)
				reply(w, 429, `{"error":{"code":"rate_limited","message":"slow down"}}`)
			})
			start := time.Now()
			res, err := patch(t, newClient(t, up.URL), patchCall("1"))
			wantCode(t, err, canonical.RateLimited)
			if err.RetryAfter != ra || err.Message != "slow down" || res.Attempts != 1 || up.hits.Load() != 1 {
				t.Errorf("Retry-After %q message %q attempts %d hits %d", err.RetryAfter, err.Message, res.Attempts, up.hits.Load())
			}
			if d := time.Since(start); d > 500*time.Millisecond {
				t.Errorf("took %v: it waited", d)
			}
		})
	}
}

func TestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := newClient(t, "http://"+addr)
	res, cerr := patch(t, c, patchCall("1"))
	wantCode(t, cerr, canonical.BadGateway)
	if cerr.Message != "upstream unreachable" || res.Attempts != 3 || res.Cause == nil || res.Status != 0 {
		t.Errorf("message %q attempts %d cause %v status %d", cerr.Message, res.Attempts, res.Cause, res.Status)
	}
	if strings.Contains(res.Cause.Error(), "/users/") {
		t.Errorf("cause %q holds the URL", res.Cause)
	}
	if err := c.Ready(context.Background()); err == nil {
		t.Error("Ready: nil error for a closed port")
	}
}

// hangUp reads the request, then closes the connection without answering.
func hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
}

// TestClosedAfterRequestNotRetried: once the request was sent, an update is
// never resent, not by us and not by net/http on a reused connection.
func TestClosedAfterRequestNotRetried(t *testing.T) {
	up := startUpstream(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Hang-Up") != "" {
			hangUp(w)
			return
		}
		reply(w, 200, userJSON)
	})
	c := newClient(t, up.URL)
	for _, warm := range []bool{false, true} {
		if warm { // the next call runs on a reused keep-alive connection
			if _, err := patch(t, c, patchCall("0")); err != nil {
				t.Fatal(err)
			}
		}
		before := up.hits.Load()
		call := patchCall("1")
		call.Header.Set("X-Hang-Up", "1")
		res, err := patch(t, c, call)
		wantCode(t, err, canonical.BadGateway)
		if hits := up.hits.Load() - before; hits != 1 || res.Attempts != 1 {
			t.Errorf("warm=%v: upstream hit %d times, attempts %d; want 1 and 1", warm, hits, res.Attempts)
		}
		if !strings.HasSuffix(err.Message, "the update may have been applied") {
			t.Errorf("message %q", err.Message)
		}
	}

	// A GET is safe to repeat.
	h := http.Header{"X-Hang-Up": {"1"}}
	res, err := c.Get(context.Background(), &Call{Target: canonical.ByID, Value: "1", Header: h})
	wantCode(t, err, canonical.BadGateway)
	if res.Attempts != 3 {
		t.Errorf("GET: attempts %d, want 3", res.Attempts)
	}
}

// TestHungUpstream: an upstream that never answers is given up on at the
// call's deadline, the client's own or the caller's when that is shorter,
// and the update is said to be maybe applied. start is taken before either
// deadline is set, so neither can have ended the call sooner than its
// length after start.
func TestHungUpstream(t *testing.T) {
	up := startUpstream(t, func(_ int, w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		ctx     time.Duration
	}{
		{"own deadline", 150 * time.Millisecond, 0},
		{"caller's shorter deadline", 5 * time.Second, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, up.URL, func(cfg *setup) { cfg.Timeout = config.Duration(tc.timeout) })
			start := time.Now()
			ctx := context.Background()
			limit := tc.timeout
			if tc.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctx)
				defer cancel()
				limit = tc.ctx
			}
			res, err := c.Patch(ctx, patchCall("1"))
			elapsed := time.Since(start)
			wantCode(t, err, canonical.GatewayTimeout)
			if err.HTTPStatus() != 504 || res.Attempts != 1 || !strings.Contains(err.Message, "may have been applied") {
				t.Errorf("status %d attempts %d message %q", err.HTTPStatus(), res.Attempts, err.Message)
			}
			if elapsed < limit {
				t.Errorf("gave up after %v, before the deadline %v", elapsed, limit)
			}
			if tc.ctx > 0 && (ctx.Err() == nil || elapsed >= tc.timeout) {
				t.Errorf("not ended by the caller's deadline: caller's context %v, after %v", ctx.Err(), elapsed)
			}
		})
	}
}

func TestCancelledCaller(t *testing.T) {
	up := startUpstream(t, ok)
	c := newClient(t, up.URL, func(cfg *setup) { cfg.Breaker = config.Breaker{Enabled: breakerOn, Failures: 1, Targets: 1} })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Patch(ctx, patchCall("1"))
	wantCode(t, err, canonical.BadGateway)
	if s := c.BreakerState(); s != "closed" {
		t.Errorf("a cancelled caller tripped the breaker: %s", s)
	}
}

func TestUnreadableReplies(t *testing.T) {
	big := `{"x":"` + strings.Repeat("a", 2048) + `"}`
	for _, tc := range []struct {
		name, body string
		chunked    bool
		message    string
	}{
		{"not JSON", "hello", false, "upstream reply unreadable"},
		{"array", `[1,2]`, false, "upstream reply unreadable"},
		{"a string", `"{}"`, false, "upstream reply unreadable"},
		{"empty", ``, false, "upstream reply unreadable"},
		{"whitespace", " \r\n\t", false, "upstream reply unreadable"},
		{"too large", big, false, "upstream reply too large"},
		{"too large, chunked", big, true, "upstream reply too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := startUpstream(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(200)
				if tc.chunked {
					for i := 0; i < len(tc.body); i += 100 {
						w.Write([]byte(tc.body[i:min(i+100, len(tc.body))]))
						http.NewResponseController(w).Flush()
					}
					return
				}
				w.Write([]byte(tc.body))
			})
			c := newClient(t, up.URL, func(cfg *setup) { cfg.MaxReplyBytes = 1024 })
			res, err := patch(t, c, patchCall("1"))
			wantCode(t, err, canonical.BadGateway)
			// a 2xx to an update means it was applied: the caller is told so.
			if err.Message != tc.message || !err.Applied || res.Attempts != 1 || res.Body != nil {
				t.Errorf("message %q attempts %d body %q", err.Message, res.Attempts, res.Body)
			}
			// No user at all: said so, for the server to refuse it as it
			// refuses one that breaks off later (malformed).
			if notAUser := tc.message == "upstream reply unreadable"; errors.Is(res.Cause, ErrNotAUser) != notAUser {
				t.Errorf("cause %v, want ErrNotAUser: %v", res.Cause, notAUser)
			}
		})
	}
}

// TestReplyCheckedOnceByItsReader: a 200 whose body opens an object is
// handed back as it came, cut short or not: its syntax is checked with its
// content by canonical.CheckAnswer, which the server runs on every answer
// (internal/app's TestUpstreamAnswerChecked, "cut short"), not parsed here
// a second time.
func TestReplyCheckedOnceByItsReader(t *testing.T) {
	const cut = ` {"id":"1","username":`
	up := startUpstream(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(200)
		w.Write([]byte(cut))
	})
	c := newClient(t, up.URL)
	res, err := patch(t, c, patchCall("1"))
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	if string(res.Body) != cut || res.Status != 200 {
		t.Errorf("status %d body %q, want 200 and the answer as it came", res.Status, res.Body)
	}
	if ae := canonical.CheckAnswer(res.Body, canonical.Addressed{Target: canonical.ByID, Value: "1"}); ae == nil || ae.Fault != canonical.FaultMalformed {
		t.Errorf("CheckAnswer: %v, want the malformed fault", ae)
	}
}

// TestConnectionReuse: success, error replies and exhausted retries all
// leave the keep-alive connection in the pool.
func TestConnectionReuse(t *testing.T) {
	up := startUpstream(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/users/404":
			reply(w, 404, `{"error":{"code":"not_found","message":"`+strings.Repeat("x", 5000)+`"}}`)
		case "/users/503":
			reply(w, 503, `{"error":{"code":"unavailable","message":"busy"}}`)
		default:
			reply(w, 200, userJSON)
		}
	})
	c := newClient(t, up.URL)
	for i := range 30 {
		id := []string{"1", "404", "503"}[i%3]
		res, _ := patch(t, c, patchCall(id))
		if res.Status == 0 {
			t.Fatalf("call %d: no reply", i)
		}
	}
	if n := up.connections(); n != 1 {
		t.Errorf("the upstream saw %d connections, want 1", n)
	}
	if len(message(t, c, "404")) > maxMessageLen+len("…") {
		t.Error("the upstream's message was not clipped")
	}
}

func message(t *testing.T, c *Client, id string) string {
	_, err := patch(t, c, patchCall(id))
	if err == nil {
		t.Fatal("want an error")
	}
	return err.Message
}

func TestReady(t *testing.T) {
	up := startUpstream(t, ok)
	c := newClient(t, up.URL)
	if err := c.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	if up.hits.Load() != 0 {
		t.Error("Ready sent an HTTP request")
	}
}

func TestPatchNeedsBody(t *testing.T) {
	up := startUpstream(t, ok)
	_, err := newClient(t, up.URL).Patch(context.Background(), &Call{Target: canonical.ByID, Value: "1"})
	wantCode(t, err, canonical.Internal)
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{" 7 ", 7 * time.Second, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"", 0, false},
		{"-1", 0, false},
		{"soon", 0, false},
	} {
		got, ok := retryAfter(tc.v, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%q: got %v %v, want %v %v", tc.v, got, ok, tc.want, tc.ok)
		}
	}
}

func TestJitter(t *testing.T) {
	c := &Client{backoffMin: 10 * time.Millisecond, backoffMax: 50 * time.Millisecond}
	for n, ceil := range map[int]time.Duration{1: 10e6, 2: 20e6, 3: 40e6, 4: 50e6, 40: 50e6} {
		for range 200 {
			if d := c.jitter(n); d < 0 || d > ceil {
				t.Fatalf("retry %d: wait %v outside [0, %v]", n, d, ceil)
			}
		}
	}
}

func ExampleClient_Patch() {
	c, err := New(config.Upstream{URL: "https://idp.internal/api"}, Options{}) // the breaker is on by default
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	h := http.Header{}
	h.Set("Idempotency-Key", "5f0c…")
	res, cerr := c.Patch(context.Background(), &Call{
		Target: canonical.ByID, Value: "42", Body: []byte(`{"set":{"active":false}}`), Header: h,
	})
	if cerr != nil {
		fmt.Println(cerr.HTTPStatus(), cerr.Code, "after", res.Attempts, "attempts")
		return
	}
	fmt.Println(res.Status)
}

// TestFailureKeepsPool: a call that fails without a reply must not empty
// the keep-alive pool (go-retryablehttp closes idle connections whenever a
// call gives up; the client hides that from it).
func TestFailureKeepsPool(t *testing.T) {
	second := make(chan struct{})
	up := startUpstream(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("X-Hang-Up") != "":
			hangUp(w)
			return
		case n == 1: // hold the first call until the second arrives: two connections
			select {
			case <-second:
			case <-time.After(time.Second):
			}
		case n == 2:
			close(second)
		}
		reply(w, 200, userJSON)
	})
	c := newClient(t, up.URL)
	done := make(chan *canonical.Error)
	for range 2 {
		go func() { _, err := c.Patch(context.Background(), patchCall("1")); done <- err }()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	call := patchCall("2")
	call.Header.Set("X-Hang-Up", "1")
	_, err := patch(t, c, call)
	wantCode(t, err, canonical.BadGateway)
	for range 3 {
		if _, err := patch(t, c, patchCall("3")); err != nil {
			t.Fatal(err)
		}
	}
	if n := up.connections(); n != 2 {
		t.Errorf("the upstream saw %d connections, want 2: the failure emptied the pool", n)
	}
}

// TestRefusedUntilDeadline: an upstream that refuses every connection is
// reported unreachable (502) even when the retries use up the deadline,
// never as a timeout, and no retry starts too close to the deadline.
func TestRefusedUntilDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	c := newClient(t, url, func(cfg *setup) {
		cfg.Timeout, cfg.MaxAttempts = config.Duration(300*time.Millisecond), 10
		cfg.BackoffMin, cfg.BackoffMax = 60*time.Millisecond, 120*time.Millisecond
	})
	for i := 0; i < 5; i++ {
		start := time.Now()
		res, cerr := patch(t, c, patchCall("1"))
		wantCode(t, cerr, canonical.BadGateway)
		if cerr.Message != "upstream unreachable" || res.Attempts < 2 {
			t.Fatalf("message %q after %d attempts", cerr.Message, res.Attempts)
		}
		if took := time.Since(start); took > 400*time.Millisecond {
			t.Fatalf("took %v past a 300ms deadline", took)
		}
	}
}

// TestReplyCutShort: status and headers arrive, the body does not. The
// update was applied (the upstream said 2xx), and the caller is told so; a
// GET's error reply cut short is mapped by its status alone.
func TestReplyCutShort(t *testing.T) {
	for _, tc := range []struct {
		name, head string
		code       canonical.Code
		message    string
	}{
		{"2xx, content length", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\":", canonical.BadGateway, "the upstream's reply was cut short"},
		{"2xx, chunked", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n{\"id\":", canonical.BadGateway, "the upstream's reply was cut short"},
		{"404", "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"error\":", canonical.NotFound, "no such user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := startUpstream(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				conn, _, err := http.NewResponseController(w).Hijack()
				if err != nil {
					return
				}
				conn.Write([]byte(tc.head))
				conn.Close()
			})
			res, err := patch(t, newClient(t, up.URL), patchCall("1"))
			wantCode(t, err, tc.code)
			// a 2xx cut short was applied: the caller is told so (Applied)
			if applied := tc.code == canonical.BadGateway; err.Message != tc.message || err.Applied != applied || res.Attempts != 1 || up.hits.Load() != 1 {
				t.Errorf("message %q applied %v attempts %d hits %d", err.Message, err.Applied, res.Attempts, up.hits.Load())
			}
		})
	}
}

// TestHeaderInjectionRefused: a header value holding CR LF is never sent,
// whatever the transport (one would rewrite it, one would refuse it).
func TestHeaderInjectionRefused(t *testing.T) {
	up := startUpstream(t, ok)
	for name, h := range map[string]http.Header{
		"value": {"Authorization": {"Bearer x\r\nX-Injected: 1"}},
		"name":  {"X-Bad\r\nX-Injected": {"1"}},
	} {
		t.Run(name, func(t *testing.T) {
			call := patchCall("1")
			for k, v := range h {
				call.Header[k] = v
			}
			res, err := patch(t, newClient(t, up.URL, func(c *setup) { c.MaxAttempts = 1 }), call)
			wantCode(t, err, canonical.BadGateway)
			if up.hits.Load() != 0 || res.Status != 0 {
				t.Errorf("sent: %d hits, status %d", up.hits.Load(), res.Status)
			}
		})
	}
}

// TestMaxConnsWaits: with the pool capped at one connection, concurrent
// calls wait their turn within the deadline instead of failing, and the
// upstream never sees a second connection.
func TestMaxConnsWaits(t *testing.T) {
	var inFlight, most atomic.Int32
	up := startUpstream(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(50 * time.Millisecond)
		reply(w, 200, userJSON)
	})
	c := newClient(t, up.URL, func(cfg *setup) { cfg.MaxConns = 1 })
	var wg sync.WaitGroup
	errs := make(chan *canonical.Error, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Patch(context.Background(), patchCall(strconv.Itoa(i)))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a call failed: %v", err)
		}
	}
	if most.Load() != 1 || up.connections() != 1 {
		t.Errorf("upstream saw %d requests at once over %d connections, want 1 and 1", most.Load(), up.connections())
	}
}

// TestPooledConnectionClosedByUpstream: a keep-alive connection the
// upstream closed while it sat in the pool (its idle timeout, a restart)
// does not fail the next update: the request was never written on it, so
// it goes on a new connection, once, with no attempt of the policy spent.
func TestPooledConnectionClosedByUpstream(t *testing.T) {
	up := &testUpstream{conns: map[string]bool{}}
	up.Server = httptest.NewUnstartedServer(up.record(ok))
	up.Config.IdleTimeout = 30 * time.Millisecond // as Node.js's 5 s, shorter
	// A connection the transport dialled for a request that then took
	// another one sits in the pool unused, and may reach the server after
	// CloseClientConnections: the server ends it too, by its header timeout.
	up.Config.ReadHeaderTimeout = time.Second
	up.Start()
	t.Cleanup(up.Close)
	c := newClient(t, up.URL)
	open := watchConns(c)
	closed := func() bool { return open.Load() == 0 } // the client saw the upstream close them

	check := func(step string) {
		t.Helper()
		before := up.hits.Load()
		res, err := patch(t, c, patchCall(step))
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if hits := up.hits.Load() - before; hits != 1 || res.Attempts != 1 {
			t.Errorf("%s: upstream hit %d times, attempts %d; want 1 and 1", step, hits, res.Attempts)
		}
	}
	check("first")
	for i := range 3 { // each time the upstream has closed the pooled connection
		waitFor(t, "the upstream's idle timeout to close the pooled connection", closed)
		check(fmt.Sprintf("after idle %d", i))
	}

	// Several pooled connections, all closed at once (a restart).
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Patch(context.Background(), patchCall(fmt.Sprint("busy", i))); err != nil {
				t.Errorf("busy %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	up.CloseClientConnections()
	waitFor(t, "the restart to close the pooled connections", closed)
	for i := range 4 {
		check(fmt.Sprintf("after restart %d", i))
	}
}

// TestEnvelopeCodeWithinItsStatus: an envelope's code refines a 4xx but
// never turns it into a failure of the upstream's own, and a 429 stays a
// rate limit whatever its body says.
func TestEnvelopeCodeWithinItsStatus(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		code   canonical.Code
	}{
		{409, `{"error":{"code":"internal","message":"boom"}}`, canonical.Conflict},
		{400, `{"error":{"code":"unavailable","message":"later"}}`, canonical.InvalidField},
		{400, `{"error":{"code":"conflict","message":"username taken"}}`, canonical.Conflict},
		{429, `{"error":{"code":"internal","message":"quota"}}`, canonical.RateLimited},
	} {
		up := startUpstream(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "120") // past the deadline: not retried
			reply(w, tc.status, tc.body)
		})
		_, err := patch(t, newClient(t, up.URL), patchCall("1"))
		wantCode(t, err, tc.code)
	}
}

// TestGetWithoutUser: a GET is asked for the user; a 204 is not one (it
// would render as a user made of nulls).
func TestGetWithoutUser(t *testing.T) {
	up := startUpstream(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	c := newClient(t, up.URL)
	res, err := c.Get(context.Background(), &Call{Target: canonical.ByID, Value: "1", Header: http.Header{}})
	wantCode(t, err, canonical.BadGateway)
	if res.Attempts != 1 || len(res.Body) != 0 {
		t.Errorf("attempts %d body %q", res.Attempts, res.Body)
	}
	// An update may answer 204: the user is then fetched by GET.
	if res, err := patch(t, c, patchCall("1")); err != nil || res.Status != http.StatusNoContent {
		t.Errorf("PATCH 204: status %d, %v", res.Status, err)
	}
}

// TestUpstreamBadRequest: an upstream's bad_request (a request it could
// not read, such as an Idempotency-Key over 255 bytes) stays bad_request,
// not a field error the dialect would render as one (Finix: 422).
func TestUpstreamBadRequest(t *testing.T) {
	up := startUpstream(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		reply(w, 400, `{"error":{"code":"bad_request","message":"the Idempotency-Key is longer than 255 bytes"}}`)
	})
	_, err := patch(t, newClient(t, up.URL), patchCall("1"))
	wantCode(t, err, canonical.BadRequest)
}

// TestMaxConnsWaitIsNotAFailure: a call that waits for a place under
// maxConns until its deadline was never sent: it is answered unavailable
// ("not sent"), counts no attempt, and is no upstream failure, so the
// breaker stays closed in front of an upstream that is only busy.
func TestMaxConnsWaitIsNotAFailure(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	time.AfterFunc(5*time.Second, free) // should the wait not end, the test fails rather than hangs
	up := startUpstream(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/slow") {
			<-release
		}
		reply(w, 200, userJSON)
	})
	c := newClient(t, up.URL, func(cfg *setup) {
		cfg.MaxConns = 1
		cfg.Timeout = config.Duration(5 * time.Second)
		cfg.Breaker = config.Breaker{Enabled: breakerOn, Failures: 1, Targets: 1, OpenFor: config.Duration(time.Minute)}
	})
	slow := make(chan *canonical.Error, 1)
	go func() {
		_, err := c.Patch(context.Background(), patchCall("slow"))
		slow <- err
	}()
	for up.hits.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	res, err := c.Patch(ctx, patchCall("waits"))
	if err == nil || err.Code != canonical.Unavailable || !strings.Contains(err.Message, "not sent") {
		t.Fatalf("the call that waited: %v", err)
	}
	if res.Attempts != 0 || up.hits.Load() != 1 {
		t.Errorf("attempts %d, upstream hits %d; want 0 and 1", res.Attempts, up.hits.Load())
	}
	free()
	if err := <-slow; err != nil {
		t.Fatalf("the slow call: %v", err)
	}
	if _, err := c.Patch(context.Background(), patchCall("next")); err != nil {
		t.Fatalf("after the wait (the breaker must not have opened): %v", err)
	}
	if st := c.BreakerState(); st != "closed" {
		t.Errorf("breaker %s", st)
	}
}

// TestNoPlaceTakenTooLate: a request that gets a place under maxConns with
// less than one attempt's time left is not sent (errPoolBusy), so it can
// never time out as "may have been applied" for the breaker to count.
func TestNoPlaceTakenTooLate(t *testing.T) {
	sent := false
	rt := roundTripper{t: roundTripFunc(func(*http.Request) (*http.Response, error) { sent = true; return nil, errors.New("sent") }),
		slots: make(chan struct{}, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), minAttempt/2)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPatch, "http://x/users/1", nil)
	if _, err := rt.RoundTrip(req); !errors.Is(err, errPoolBusy) || sent || len(rt.slots) != 0 {
		t.Fatalf("err %v, sent %v, places held %d", err, sent, len(rt.slots))
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
