package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	"golang.org/x/crypto/bcrypt"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/backend"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// faultUpstream is the reference backend behind a scriptable front door, on
// a real loopback server. A PATCH whose attempt number (per Idempotency-Key)
// is at most faulty is shown to fault first, which may answer it itself,
// hold it, break the connection, or let the backend handle it (false).
type faultUpstream struct {
	b   *backend.Backend
	srv *httptest.Server

	mu      sync.Mutex
	faulty  int
	fault   func(w http.ResponseWriter, r *http.Request) bool
	hook    func(r *http.Request, attempt int) *canonical.Error // backend.Options.Fault, per attempt
	patches map[string]int                                      // PATCH attempts received per Idempotency-Key
	total   int                                                 // PATCH attempts received

	received, finished atomic.Int64 // requests into and out of the handler
}

func newFaultUpstream(t *testing.T) *faultUpstream {
	t.Helper()
	f := &faultUpstream{patches: map[string]int{}}
	f.b = backend.New(backend.Options{Seed: true, PasswordCost: bcrypt.MinCost, MaxKeys: 1 << 20, Fault: f.backendFault})
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *faultUpstream) serve(w http.ResponseWriter, r *http.Request) {
	f.received.Add(1)
	defer f.finished.Add(1)
	var fault func(w http.ResponseWriter, r *http.Request) bool
	if r.Method == http.MethodPatch {
		key := r.Header.Get("Idempotency-Key")
		f.mu.Lock()
		f.patches[key]++
		f.total++
		if f.patches[key] <= f.faulty {
			fault = f.fault
		}
		f.mu.Unlock()
	}
	if fault != nil && fault(w, r) {
		return
	}
	f.b.Handler().ServeHTTP(w, r)
}

// backendFault is the backend's Fault hook: it runs f.hook with the
// request's attempt number.
func (f *faultUpstream) backendFault(r *http.Request) *canonical.Error {
	f.mu.Lock()
	hook, n := f.hook, f.patches[r.Header.Get("Idempotency-Key")]
	f.mu.Unlock()
	if hook == nil {
		return nil
	}
	return hook(r, n)
}

// set installs a fault for the first faulty attempts of every key.
func (f *faultUpstream) set(faulty int, fault func(w http.ResponseWriter, r *http.Request) bool) {
	f.mu.Lock()
	f.faulty, f.fault, f.hook = faulty, fault, nil
	f.mu.Unlock()
}

func (f *faultUpstream) setHook(hook func(r *http.Request, attempt int) *canonical.Error) {
	f.mu.Lock()
	f.faulty, f.fault, f.hook = 0, nil, hook
	f.mu.Unlock()
}

// attempts is how many PATCH attempts carried key.
func (f *faultUpstream) attempts(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.patches[key]
}

func (f *faultUpstream) patchCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.total
}

// settle waits until every request the upstream received has been handled,
// so that Applied tells the final word.
func (f *faultUpstream) settle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for f.finished.Load() != f.received.Load() {
		if time.Now().After(deadline) {
			t.Fatalf("upstream still handling %d requests", f.received.Load()-f.finished.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// applyTo runs the request through the backend, as if the upstream applied
// it, and returns what the backend answered.
func (f *faultUpstream) applyTo(r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	f.b.Handler().ServeHTTP(rec, r)
	return rec
}

// hijack takes the raw connection of a request to the fault upstream.
func hijack(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	return conn, buf
}

// reset closes a connection with a TCP RST instead of a FIN.
func reset(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// readAhead reads the request body and puts it back for the backend: only
// then does net/http watch the connection and cancel the request's context
// when the caller goes away.
func readAhead(r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
}

// holdUntilGone holds a request until its caller goes away (bounded).
func holdUntilGone(r *http.Request) {
	readAhead(r)
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

// statusOf is the status a dialect answers a canonical error code with.
func statusOf(d dialectSpec, code canonical.Code) int {
	if st, ok := d.status[code]; ok {
		return st
	}
	// Documented in docs/dialects/trustedtwin.md: Trusted Twin has no 413
	// nor 415.
	if d.name == "trustedtwin" && (code == canonical.PayloadTooLarge || code == canonical.UnsupportedMediaType) {
		return http.StatusBadRequest
	}
	return code.Status()
}

// messageOf is the error message a dialect's error body shows.
func messageOf(d dialectSpec, body []byte) string {
	switch d.name {
	case "trustedtwin":
		return gjson.GetBytes(body, "description").Str
	case "finix":
		return gjson.GetBytes(body, "_embedded.errors.0.message").Str
	case "shift":
		if m := gjson.GetBytes(body, "message"); m.Exists() {
			return m.Str
		}
		var first string
		gjson.ParseBytes(body).ForEach(func(_, v gjson.Result) bool { first = v.Str; return false })
		return first // keyed by the offending field
	}
	return gjson.GetBytes(body, "message").Str
}

// isError asserts a dialect error answer: status and shape.
func isError(t *testing.T, d dialectSpec, a answer, code canonical.Code, msgHas string) {
	t.Helper()
	if want := statusOf(d, code); a.Status != want {
		t.Fatalf("status %d, want %d (%s): %s", a.Status, want, code, a.Body)
	}
	d.checkError(t, a, code, "")
	if msgHas == "" || d.name == "crafter" && crafterOwnText[code] {
		return
	}
	if m := messageOf(d, a.Body); !strings.Contains(m, msgHas) {
		t.Errorf("message %q does not say %q", m, msgHas)
	}
}

// crafterOwnText are the codes Crafter answers with its own fixed text.
var crafterOwnText = map[canonical.Code]bool{canonical.Unauthorized: true, canonical.NotFound: true,
	canonical.Conflict: true, canonical.Internal: true, canonical.InvalidField: true}

// isSuccess asserts a dialect's success answer. Trusted Twin's role is not
// checked: other dialects' updates change the shared demo user's roles.
func isSuccess(t *testing.T, d dialectSpec, a answer) {
	t.Helper()
	if a.Status != d.success {
		t.Fatalf("status %d, want %d: %s", a.Status, d.success, a.Body)
	}
	if d.name == "trustedtwin" {
		str(t, a.Body, "uuid", janeID)
		return
	}
	d.checkSuccess(t, a)
}

var keySeq atomic.Int64

// newKey is a fresh Idempotency-Key, also used as the request id.
func newKey(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), keySeq.Add(1))
}

// send makes a dialect's request with its own Idempotency-Key (also its
// X-Request-ID) and reports how long the answer took.
func (s *started) send(t *testing.T, d dialectSpec, key string) (answer, time.Duration) {
	t.Helper()
	t0 := time.Now()
	a, err := s.try(client, d, key, d.body)
	if err != nil {
		t.Fatal(err)
	}
	return a, time.Since(t0)
}

// try is send for any goroutine: it reports failures instead of ending
// the test.
func (s *started) try(c *http.Client, d dialectSpec, key, body string) (answer, error) {
	req, err := http.NewRequest(d.method, s.base+d.path, strings.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range d.header {
		req.Header.Set(k, v)
	}
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set("X-Request-ID", key)
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	return answer{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// tryAsync runs try in a goroutine; the answer, or a status 0 answer with
// the error as its body, arrives on the channel.
func (s *started) tryAsync(d dialectSpec, key string) <-chan answer {
	out := make(chan answer, 1)
	go func() {
		a, err := s.try(client, d, key, d.body)
		if err != nil {
			a = answer{Body: []byte(err.Error())}
		}
		out <- a
	}()
	return out
}

// logLine returns the "request" log line of a request id.
func (s *started) logLine(t *testing.T, rid string) map[string]any {
	t.Helper()
	for _, line := range strings.Split(s.logs.String(), "\n") {
		if !strings.Contains(line, rid) {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "request" && m["request_id"] == rid {
			return m
		}
	}
	t.Fatalf("no request log line for %s in:\n%s", rid, s.logs.String())
	return nil
}

func faultConfig(c *config.Config) {
	off := false
	c.Upstream.Breaker.Enabled = &off
	c.Upstream.Timeout = config.Duration(2 * time.Second)
	c.Upstream.MaxAttempts = 4
}

// faultCase is one way the upstream fails, and what the client and the
// upstream's store must show.
type faultCase struct {
	name   string
	faulty int // attempts of each key the fault applies to
	fault  func(f *faultUpstream) func(w http.ResponseWriter, r *http.Request) bool
	hook   func(r *http.Request, attempt int) *canonical.Error // instead of fault: the backend's Fault hook
	code   canonical.Code                                      // "": the dialect's success
	msgHas string                                              // in the error message shown
	header map[string]string                                   // on the client's answer
	// attempts is how many PATCH attempts reach the upstream; applied is
	// Applied(key) after the call.
	attempts, applied int
	minTime           time.Duration
}

func replyWith(status int, body string, hdr ...string) func(*faultUpstream) func(w http.ResponseWriter, r *http.Request) bool {
	return func(*faultUpstream) func(w http.ResponseWriter, r *http.Request) bool {
		return func(w http.ResponseWriter, _ *http.Request) bool {
			for i := 0; i+1 < len(hdr); i += 2 {
				w.Header().Set(hdr[i], hdr[i+1])
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
			return true
		}
	}
}

var faultCases = []faultCase{
	{
		name: "reset before the reply, update applied", faulty: 1,
		fault: func(f *faultUpstream) func(w http.ResponseWriter, r *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				f.applyTo(r)
				conn, _ := hijack(w)
				reset(conn)
				return true
			}
		},
		code: canonical.BadGateway, msgHas: "may have been applied", attempts: 1, applied: 1,
	},
	{
		name: "reset before the reply, nothing applied", faulty: 1,
		fault: func(f *faultUpstream) func(w http.ResponseWriter, r *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				conn, _ := hijack(w)
				reset(conn)
				return true
			}
		},
		// The request reached the upstream: it is never resent.
		code: canonical.BadGateway, msgHas: "may have been applied", attempts: 1, applied: 0,
	},
	{
		name: "reset mid-reply", faulty: 1,
		fault: func(f *faultUpstream) func(w http.ResponseWriter, r *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				f.applyTo(r)
				conn, buf := hijack(w)
				_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{\"id\":\"")
				_ = buf.Flush()
				time.Sleep(30 * time.Millisecond) // let the client read the head
				reset(conn)
				return true
			}
		},
		code: canonical.BadGateway, msgHas: "applied", attempts: 1, applied: 1,
	},
	{
		name: "hung upstream", faulty: 1,
		// Held until userbridge gives up, then handed to the backend, which
		// applies nothing for a caller gone.
		fault: func(f *faultUpstream) func(w http.ResponseWriter, r *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool { holdUntilGone(r); return false }
		},
		code: canonical.GatewayTimeout, msgHas: "did not answer in time", attempts: 1, applied: 0, minTime: 1900 * time.Millisecond,
	},
	{
		name: "503 then success", hook: func(_ *http.Request, n int) *canonical.Error {
			if n == 1 {
				return canonical.Errorf(canonical.Unavailable, "maintenance")
			}
			return nil
		},
		attempts: 2, applied: 1,
	},
	{
		name: "502 503 504 then success", faulty: 3,
		fault: func(f *faultUpstream) func(w http.ResponseWriter, r *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				st := []int{502, 503, 504}[f.attempts(r.Header.Get("Idempotency-Key"))-1]
				w.WriteHeader(st)
				return true
			}
		},
		attempts: 4, applied: 1,
	},
	{
		name: "429 with Retry-After then success", faulty: 1,
		fault:    replyWith(429, `{"error":{"code":"rate_limited","message":"slow down"}}`, "Retry-After", "1"),
		attempts: 2, applied: 1, minTime: time.Second,
	},
	{
		name: "429 with a Retry-After past the deadline", faulty: 1,
		fault: replyWith(429, `{"error":{"code":"rate_limited","message":"slow down"}}`, "Retry-After", "120"),
		code:  canonical.RateLimited, header: map[string]string{"Retry-After": "120"}, attempts: 1, applied: 0,
	},
	{
		name: "409 not retried", faulty: 1,
		fault: replyWith(409, `{"error":{"code":"conflict","message":"username taken"}}`),
		code:  canonical.Conflict, attempts: 1, applied: 0,
	},
	{
		name: "422 not retried", faulty: 1,
		fault: replyWith(422, `{"error":{"code":"invalid_field","message":"email is already used","field":"email"}}`),
		code:  canonical.InvalidField, attempts: 1, applied: 0,
	},
	{
		name: "500 not retried", faulty: 1,
		fault: replyWith(500, `{"error":{"code":"internal","message":"db exploded"}}`),
		code:  canonical.Internal, msgHas: "the upstream failed", attempts: 1, applied: 0,
	},
	{
		name: "garbage 200 after applying", faulty: 1,
		fault: func(f *faultUpstream) func(w http.ResponseWriter, r *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				f.applyTo(r)
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte("<html>oops</html>"))
				return true
			}
		},
		code: canonical.BadGateway, msgHas: "not a valid user", attempts: 1, applied: 1,
	},
	{
		name: "not HTTP at all", faulty: 1,
		fault: func(f *faultUpstream) func(w http.ResponseWriter, r *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				conn, buf := hijack(w)
				_, _ = buf.WriteString("SSH-2.0-OpenSSH_9.6\r\n\x00\x01\x02garbage\r\n\r\n")
				_ = buf.Flush()
				_ = conn.Close()
				return true
			}
		},
		code: canonical.BadGateway, attempts: 1, applied: 0,
	},
	{
		name: "oversized reply body", faulty: 1,
		fault: func(f *faultUpstream) func(w http.ResponseWriter, r *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				f.applyTo(r)
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"id":"` + strings.Repeat("x", 5<<20) + `"}`))
				return true
			}
		},
		code: canonical.BadGateway, msgHas: "too large", attempts: 1, applied: 1,
	},
	{
		name: "oversized reply header", faulty: 1,
		fault: func(f *faultUpstream) func(w http.ResponseWriter, r *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("X-Junk", strings.Repeat("j", 100<<10))
				w.WriteHeader(http.StatusOK)
				return true
			}
		},
		code: canonical.BadGateway, attempts: 1, applied: 0,
	},
	{
		name: "redirect not followed", faulty: 1,
		fault: replyWith(307, `{}`, "Location", "http://127.0.0.1:1/elsewhere"),
		code:  canonical.BadGateway, attempts: 1, applied: 0,
	},
}

// TestUpstreamFaults runs every dialect into every upstream fault: the
// client gets its dialect's answer, the upstream sees exactly the attempts
// the retry policy allows (same Idempotency-Key each time), and a repeat of
// the request with the same key against a healthy upstream succeeds without
// applying the update a second time.
func TestUpstreamFaults(t *testing.T) {
	f := newFaultUpstream(t)
	s := start(t, "", f.srv.URL, faultConfig)
	for _, c := range faultCases {
		t.Run(c.name, func(t *testing.T) {
			if c.hook != nil {
				f.setHook(c.hook)
			} else {
				f.set(c.faulty, c.fault(f))
			}
			// Every dialect at once (the slow faults take the deadline
			// once), then each checked in turn.
			type outcome struct {
				key  string
				a    answer
				took time.Duration
				err  error
			}
			outs := make([]outcome, len(specs))
			var wg sync.WaitGroup
			for i, d := range specs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					o := &outs[i]
					o.key = newKey(d.name)
					t0 := time.Now()
					o.a, o.err = s.try(client, d, o.key, d.body)
					o.took = time.Since(t0)
				}()
			}
			wg.Wait()
			for i, d := range specs {
				t.Run(d.name, func(t *testing.T) {
					key, a, took := outs[i].key, outs[i].a, outs[i].took
					if outs[i].err != nil {
						t.Fatal(outs[i].err)
					}
					if c.code == "" {
						isSuccess(t, d, a)
					} else {
						isError(t, d, a, c.code, c.msgHas)
						noLeak(t, a.Body, f.srv.URL)
					}
					for k, v := range c.header {
						if got := a.Header.Get(k); got != v {
							t.Errorf("header %s = %q, want %q", k, got, v)
						}
					}
					if took < c.minTime || took > 3500*time.Millisecond {
						t.Errorf("answered in %v; want between %v and the 2s deadline (plus slack)", took, c.minTime)
					}
					if n := f.attempts(key); n != c.attempts {
						t.Errorf("upstream got %d attempts, want %d", n, c.attempts)
					}
					if got := s.logLine(t, key)["attempts"]; got != float64(c.attempts) && c.attempts > 0 {
						t.Errorf("logged attempts %v, want %d", got, c.attempts)
					}
					f.settle(t)
					if n := f.b.Applied(key); n != c.applied {
						t.Fatalf("Applied(key) = %d, want %d", n, c.applied)
					}
					// The client repeats the request with the same key: the
					// fault is over (it covers the first attempts only).
					a, _ = s.send(t, d, key)
					if a.Status != d.success {
						t.Fatalf("repeat: status %d, want %d: %s", a.Status, d.success, a.Body)
					}
					f.settle(t)
					if n := f.b.Applied(key); n != 1 {
						t.Fatalf("after the repeat, Applied(key) = %d, want 1", n)
					}
				})
			}
		})
	}
}

// TestUpstreamRefused covers an upstream that refuses connections: the
// call is retried (it provably never reached the upstream) until the
// attempts or the deadline run out; an upstream that comes up meanwhile
// gets the update once.
func TestUpstreamRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	s := start(t, "", "http://"+addr, func(c *config.Config) {
		faultConfig(c)
		c.Upstream.Timeout = config.Duration(2 * time.Second)
		c.Upstream.MaxAttempts = 10
	})
	d := specs[1] // shift

	t.Run("stays down", func(t *testing.T) {
		key := newKey("refused")
		a, took := s.send(t, d, key)
		isError(t, d, a, canonical.BadGateway, "unreachable")
		noLeak(t, a.Body, addr)
		if took > 3*time.Second {
			t.Errorf("took %v, past the 2s deadline", took)
		}
		if n := s.logLine(t, key)["attempts"].(float64); n < 2 {
			t.Errorf("a refused connection was not retried: %v attempts", n)
		}
	})

	t.Run("comes up", func(t *testing.T) {
		f := newFaultUpstream(t)
		key := newKey("refused")
		done := s.tryAsync(d, key)
		time.Sleep(150 * time.Millisecond)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("port %s taken meanwhile: %v", addr, err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(f.serve), ReadHeaderTimeout: time.Second}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
		var a answer
		select {
		case a = <-done:
		case <-time.After(8 * time.Second):
			t.Fatal("no answer")
		}
		if a.Status != d.success {
			t.Fatalf("status %d: %s", a.Status, a.Body)
		}
		if n := f.attempts(key); n != 1 {
			t.Errorf("upstream got %d attempts, want 1", n)
		}
		if n := s.logLine(t, key)["attempts"].(float64); n < 2 {
			t.Errorf("logged %v attempts: the refused ones are missing", n)
		}
		if f.b.Applied(key) != 1 {
			t.Errorf("Applied = %d", f.b.Applied(key))
		}
	})
}

// TestBreaker opens the breaker on an upstream that keeps failing: while
// open, every dialect is answered its 503 at once and the upstream sees
// nothing; a failed trial reopens it; a successful one closes it.
func TestBreaker(t *testing.T) {
	f := newFaultUpstream(t)
	var down atomic.Bool
	down.Store(true)
	f.set(1<<30, func(w http.ResponseWriter, r *http.Request) bool {
		if !down.Load() {
			return false
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	const openFor = 800 * time.Millisecond
	s := start(t, "", f.srv.URL, func(c *config.Config) {
		on := true
		c.Upstream.Breaker = config.Breaker{Enabled: &on, Failures: 3, OpenFor: config.Duration(openFor)}
		c.Upstream.Timeout = config.Duration(time.Second)
		c.Upstream.MaxAttempts = 2
	})
	breaker := func() string {
		a := s.do(t, "GET", "/readyz", nil, "")
		return gjson.GetBytes(a.Body, "breaker").Str
	}
	const paused = "the upstream is failing; calls to it are paused, retry later"

	for i := range 3 {
		d := specs[i]
		key := newKey("breaker")
		a, _ := s.send(t, d, key)
		isError(t, d, a, canonical.Unavailable, "")
		if f.attempts(key) != 2 {
			t.Errorf("failure %d: %d attempts, want 2", i+1, f.attempts(key))
		}
	}
	if st := breaker(); st != "open" {
		t.Fatalf("after 3 failed calls the breaker is %q", st)
	}
	openedAt := time.Now()
	before := f.patchCount()
	for _, d := range specs {
		key := newKey("open")
		a, took := s.send(t, d, key)
		isError(t, d, a, canonical.Unavailable, paused)
		if took > 300*time.Millisecond {
			t.Errorf("%s: an open breaker took %v to answer", d.name, took)
		}
	}
	if time.Since(openedAt) > openFor/2 {
		t.Fatalf("too slow to test the open state: %v of the %v", time.Since(openedAt), openFor)
	}
	if n := f.patchCount() - before; n != 0 {
		t.Fatalf("the upstream got %d calls while the breaker was open", n)
	}

	// Still down after OpenFor: the one trial call fails and reopens it.
	time.Sleep(time.Until(openedAt.Add(openFor + 50*time.Millisecond)))
	if st := breaker(); st != "half-open" {
		t.Fatalf("after OpenFor the breaker is %q, want half-open", st)
	}
	a, _ := s.send(t, specs[0], newKey("trial"))
	isError(t, specs[0], a, canonical.Unavailable, "")
	if st := breaker(); st != "open" {
		t.Fatalf("after a failed trial the breaker is %q, want open", st)
	}
	reopened := time.Now()
	a, _ = s.send(t, specs[1], newKey("open"))
	isError(t, specs[1], a, canonical.Unavailable, paused)

	// The upstream recovers: the next trial closes the breaker.
	down.Store(false)
	time.Sleep(time.Until(reopened.Add(openFor + 50*time.Millisecond)))
	for _, d := range specs {
		key := newKey("closed")
		a, _ := s.send(t, d, key)
		if a.Status != d.success {
			t.Fatalf("%s after recovery: status %d: %s", d.name, a.Status, a.Body)
		}
		if f.b.Applied(key) != 1 {
			t.Errorf("%s: Applied = %d", d.name, f.b.Applied(key))
		}
	}
	if st := breaker(); st != "closed" {
		t.Fatalf("after a successful trial the breaker is %q, want closed", st)
	}
}

// holdingUpstream holds every PATCH until release is called.
func holdingUpstream(t *testing.T) (f *faultUpstream, arrived chan string, release func()) {
	f = newFaultUpstream(t)
	arrived = make(chan string, 64)
	held := make(chan struct{})
	f.set(1<<30, func(w http.ResponseWriter, r *http.Request) bool {
		readAhead(r)
		arrived <- r.Header.Get("Idempotency-Key")
		select {
		case <-held:
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		return false
	})
	var once sync.Once
	release = func() { once.Do(func() { close(held) }) }
	t.Cleanup(release)
	return f, arrived, release
}

func waitArrivals(t *testing.T, arrived chan string, n int) {
	t.Helper()
	for i := range n {
		select {
		case <-arrived:
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d of %d requests reached the upstream", i, n)
		}
	}
}

// refusesSoon reports whether new connections to addr are refused within a
// second.
func refusesSoon(addr string) bool {
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return true
		}
		_ = c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// TestShutdownInFlight shuts the App down with one request per dialect in
// flight against a slow upstream: new connections are refused at once, the
// requests in flight finish with their 2xx, each update applied once.
func TestShutdownInFlight(t *testing.T) {
	f, arrived, release := holdingUpstream(t)
	s := start(t, "", f.srv.URL, func(c *config.Config) {
		faultConfig(c)
		c.Upstream.Timeout = config.Duration(8 * time.Second)
	})
	addr := strings.TrimPrefix(s.base, "http://")
	results := make(chan inFlight, len(specs))
	for _, d := range specs {
		key := newKey("inflight")
		go func() { results <- inFlight{d, key, <-s.tryAsync(d, key)} }()
	}
	waitArrivals(t, arrived, len(specs))

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- s.app.Shutdown(ctx)
	}()
	if !refusesSoon(addr) {
		t.Fatal("still accepting connections after Shutdown began")
	}
	select {
	case r := <-results:
		t.Fatalf("%s answered %d before its upstream call finished", r.d.name, r.a.Status)
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) with requests in flight", err)
	default:
	}
	release()
	f.awaitInFlight(t, results)
	select {
	case err := <-shut:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return")
	}
}

// TestShutdownAllListeners checks that Shutdown stops every listener at
// once: a dialect on a listener of its own must not keep accepting while
// the main listener drains.
func TestShutdownAllListeners(t *testing.T) {
	f, arrived, release := holdingUpstream(t)
	yaml := string(config.DefaultYAML()) + "\n"
	yaml = strings.Replace(yaml, "  shift: {}", "  shift: {listen: \"localhost:0\"}", 1)
	s := start(t, yaml, f.srv.URL, func(c *config.Config) {
		faultConfig(c)
		c.Upstream.Timeout = config.Duration(8 * time.Second)
	})
	shiftAddr := s.app.Server.Addr("localhost:0")
	if shiftAddr == "" || shiftAddr == strings.TrimPrefix(s.base, "http://") {
		t.Fatalf("shift has no listener of its own: %q", shiftAddr)
	}
	shift := &started{app: s.app, base: "http://" + shiftAddr, logs: s.logs}
	results := make(chan answer, 2)
	go func() { results <- <-s.tryAsync(specs[0], newKey("main")) }()
	go func() { results <- <-shift.tryAsync(specs[1], newKey("own")) }()
	waitArrivals(t, arrived, 2)

	shut := make(chan error, 1)
	go func() { shut <- s.app.Shutdown(context.Background()) }()
	for _, addr := range []string{strings.TrimPrefix(s.base, "http://"), shiftAddr} {
		if !refusesSoon(addr) {
			t.Errorf("%s still accepts connections while requests drain", addr)
		}
	}
	release()
	for range 2 {
		select {
		case a := <-results:
			if a.Status != http.StatusNoContent {
				t.Errorf("in-flight request answered %d: %s", a.Status, a.Body)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("an in-flight request never finished")
		}
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
}

// TestShutdownTimeout: requests still in flight when the shutdown timeout
// ends are cut off, and Shutdown returns within its bound rather than
// waiting for them.
func TestShutdownTimeout(t *testing.T) {
	f, arrived, _ := holdingUpstream(t)
	s := start(t, "", f.srv.URL, func(c *config.Config) {
		faultConfig(c)
		c.Upstream.Timeout = config.Duration(8 * time.Second)
		c.Server.ShutdownTimeout = config.Duration(300 * time.Millisecond)
	})
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(specs[1].method, s.base+specs[1].path, strings.NewReader(specs[1].body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("answered %d", resp.StatusCode)
		}
		errc <- err
	}()
	waitArrivals(t, arrived, 1)
	t0 := time.Now()
	err := s.app.Shutdown(context.Background())
	if took := time.Since(t0); took > 2*time.Second {
		t.Errorf("Shutdown took %v with a 300ms timeout", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: %v, want the deadline reported", err)
	}
	select {
	case err := <-errc:
		t.Logf("the cut-off client saw: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("the in-flight request was never cut off")
	}
}

// buildUserbridge builds the command into a temporary directory, with the
// race detector when the tests run with it (its packages are then already
// built), and returns the binary's path.
func buildUserbridge(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the userbridge binary")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "userbridge")
	args := []string{"build", "-o", bin}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" && s.Value == "true" {
				args = append(args, "-race")
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, goBin, append(args, "github.com/userbridge/userbridge/cmd/userbridge")...).CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestBinary builds the userbridge command once and runs what needs the
// real process: SIGTERM here, translate in secrets_test.go.
func TestBinary(t *testing.T) {
	bin := buildUserbridge(t)
	t.Run("SIGTERM", func(t *testing.T) { testSIGTERM(t, bin) })
	t.Run("translate redacts", func(t *testing.T) { testTranslateRedacts(t, bin) })
}

// testSIGTERM runs the userbridge binary in front of a slow upstream with
// --upstream-timeout, checks the flag bounds a hung call, then sends
// SIGTERM with one request per dialect in flight: the process stops
// accepting, finishes them (2xx, each applied once) and exits 0.
func testSIGTERM(t *testing.T, bin string) {
	f, arrived, release := holdingUpstream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "--listen", "127.0.0.1:0", "--upstream", f.srv.URL, "--upstream-timeout", "2s")
	cmd.Env = append(os.Environ(), "USERBRIDGE_LOG_FORMAT=json", "USERBRIDGE_LOG_LEVEL=info")
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var exitErr error
	go func() { exitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	logged := func(what string, pred func(map[string]any) bool) map[string]any {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			for _, line := range strings.Split(logs.String(), "\n") {
				var m map[string]any
				if json.Unmarshal([]byte(line), &m) == nil && pred(m) {
					return m
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("never logged %s:\n%s", what, logs.String())
		return nil
	}
	line := logged("a served dialect", func(m map[string]any) bool { return m["msg"] == "serving dialect" })
	u, err := url.Parse(line["url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	addr := u.Host
	s := &started{base: "http://" + addr}

	// --upstream-timeout 2s bounds a call the upstream never answers.
	t0 := time.Now()
	hung := s.tryAsync(specs[1], newKey("hung"))
	waitArrivals(t, arrived, 1)
	a := <-hung
	if took := time.Since(t0); took < 1800*time.Millisecond || took > 4*time.Second {
		t.Errorf("a hung upstream call took %v; --upstream-timeout is 2s", took)
	}
	isError(t, specs[1], a, canonical.GatewayTimeout, "")

	results := make(chan inFlight, len(specs))
	for _, d := range specs {
		key := newKey("sigterm")
		go func() { results <- inFlight{d, key, <-s.tryAsync(d, key)} }()
	}
	waitArrivals(t, arrived, len(specs))
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	logged("the shutdown", func(m map[string]any) bool {
		msg, _ := m["msg"].(string)
		return strings.HasPrefix(msg, "shutting down")
	})
	if !refusesSoon(addr) {
		t.Fatal("still accepting connections after SIGTERM")
	}
	select {
	case r := <-results:
		t.Fatalf("%s answered %d before its upstream call finished", r.d.name, r.a.Status)
	case <-exited:
		t.Fatalf("exited (%v) with requests in flight", exitErr)
	default:
	}
	release()
	f.awaitInFlight(t, results)
	select {
	case <-exited:
		if exitErr != nil {
			t.Fatalf("exit: %v\n%s", exitErr, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running after SIGTERM and the requests finished")
	}
}

// awaitInFlight waits for one answer per dialect after the upstream was
// released: each must be its dialect's success, applied exactly once.
func (f *faultUpstream) awaitInFlight(t *testing.T, results <-chan inFlight) {
	t.Helper()
	for range specs {
		select {
		case r := <-results:
			if r.a.Status != r.d.success {
				t.Errorf("%s: in-flight request answered %d: %s", r.d.name, r.a.Status, r.a.Body)
			}
			f.settle(t)
			if n := f.b.Applied(r.key); n != 1 {
				t.Errorf("%s: Applied = %d", r.d.name, n)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("an in-flight request never finished")
		}
	}
}

// inFlight is the answer to a request sent while the upstream was held.
type inFlight struct {
	d   dialectSpec
	key string
	a   answer
}
