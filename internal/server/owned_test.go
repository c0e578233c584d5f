package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/upstream"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// recordingUpstream keeps every call the handler makes, as the handler
// handed it over (nothing copied), with a copy of each taken at the call.
type recordingUpstream struct {
	mu    sync.Mutex
	calls []*upstream.Call
	seen  []string // each call as it was when made
}

func (u *recordingUpstream) record(call *upstream.Call) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.calls = append(u.calls, call)
	u.seen = append(u.seen, describeCall(call))
}

// describeCall is everything a call carries, as text.
func describeCall(c *upstream.Call) string {
	return fmt.Sprintf("%v %q %q %q %v", c.Target, c.Value, c.Tenant, c.Body, c.Header)
}

func (u *recordingUpstream) Patch(_ context.Context, call *upstream.Call) (*upstream.Result, *canonical.Error) {
	u.record(call)
	return &upstream.Result{Status: http.StatusNoContent, Attempts: 1}, nil
}

func (u *recordingUpstream) Get(_ context.Context, call *upstream.Call) (*upstream.Result, *canonical.Error) {
	u.record(call)
	user := `{"id":"u-` + call.Value + `","username":"` + call.Value + `","givenName":"G"}`
	return &upstream.Result{Status: http.StatusOK, Body: []byte(user), Attempts: 1}, nil
}

// recordingLog keeps every record as the handler logged it, and its text
// when it was logged.
type recordingLog struct {
	mu   sync.Mutex
	recs []slog.Record
	seen []string
}

func (l *recordingLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *recordingLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *recordingLog) WithGroup(string) slog.Handler            { return l }
func (l *recordingLog) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	l.seen = append(l.seen, describeRecord(r))
	return nil
}

// describeRecord is a record's message and attributes, as text.
func describeRecord(r slog.Record) string {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%q", a.Key, a.Value.String())
		return true
	})
	return b.String()
}

// TestOwnedAcrossRequests: Crafter updates (the username is read from the
// body) one after the other on one keep-alive connection, bodies of one
// length: once the later ones have been served, on the same goroutine,
// with whatever buffers the earlier ones left to be reused, what each left
// behind (its access line's record, the upstream calls the handler made,
// its answer) still says what it said when it was made. (With the body
// read into a pooled buffer, a call's username became the next request's.)
func TestOwnedAcrossRequests(t *testing.T) {
	up, logs := &recordingUpstream{}, &recordingLog{}
	addr := serveDefault(t, up, slog.New(logs))

	conn, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	// Bodies of one length, so that each overwrites every byte of the
	// one before.
	send := func(user, id string) string {
		body := `{"username":"` + user + `","first_name":"` + user + `","email":"` + user + `@example.com"}`
		fmt.Fprintf(conn, "POST /studio/api/1/services/api/1/user/update.json HTTP/1.1\r\nHost: %s\r\n"+
			"Content-Type: application/json\r\nCookie: JSESSIONID=s-%s\r\nX-XSRF-TOKEN: t-%s\r\nX-Request-Id: %s\r\n"+
			"Content-Length: %d\r\n\r\n%s", addr, user, user, id, len(body), body)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || resp.Close {
			t.Fatalf("%s: status %d, Connection: close %v: %s", user, resp.StatusCode, resp.Close, b)
		}
		return fmt.Sprintf("%v %s", resp.Header, b)
	}
	// Eight requests, each overwriting the bytes the one before was read
	// into (when the buffer is reused: a pool may hand out another).
	for i := range 8 {
		user := fmt.Sprintf("user.%05d", i*11111)
		answer := send(user, fmt.Sprintf("request-%d", i))
		if !strings.Contains(answer, user) {
			t.Fatalf("answer %d does not name its user %s: %s", i, user, answer)
		}
	}
	up.mu.Lock()
	calls := len(up.calls)
	up.mu.Unlock()
	logs.mu.Lock()
	lines := len(logs.recs)
	logs.mu.Unlock()
	if calls < 8 || lines < 8 {
		t.Fatalf("8 requests made %d upstream calls and %d log records", calls, lines)
	}

	up.mu.Lock()
	for i := range calls {
		if now := describeCall(up.calls[i]); now != up.seen[i] {
			t.Errorf("upstream call %d changed:\nwas %s\nnow %s", i, up.seen[i], now)
		}
	}
	up.mu.Unlock()
	logs.mu.Lock()
	for i := range lines {
		if now := describeRecord(logs.recs[i]); now != logs.seen[i] {
			t.Errorf("log record %d changed:\nwas %s\nnow %s", i, logs.seen[i], now)
		}
	}
	logs.mu.Unlock()
}

// serveDefault serves the embedded default configuration on a loopback
// port with up as the upstream and logger as the log, until the test ends,
// and returns the address of its listener.
func serveDefault(t *testing.T, up Upstream, logger *slog.Logger) string {
	t.Helper()
	cfg, mounts := defaultMounts(t, func(cfg *config.Config) {
		cfg.Listen = "127.0.0.1:0"
		cfg.Upstream.URL = "http://127.0.0.1:1"
	})
	s, err := New(Options{Config: cfg, Mounts: mounts, Upstream: up, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return s.Addr(cfg.Listen)
}

// defaultMounts is the embedded default configuration, changed by edit
// when not nil, and its resolved dialects.
func defaultMounts(t *testing.T, edit func(*config.Config)) (*config.Config, []config.Mount) {
	t.Helper()
	src := config.Source{Name: "test"}
	cfg, err := config.Parse(src, config.DefaultYAML())
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(cfg)
	}
	mounts, err := cfg.Resolve(src)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, mounts
}
