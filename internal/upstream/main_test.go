package upstream

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/testutil"
	"github.com/userbridge/userbridge/mapping/canonical"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(testutil.LeakOptions()...); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// seen is one request as the test upstream received it.
type seen struct {
	method, uri string
	header      http.Header
	body        []byte
}

// testUpstream is a loopback upstream that records what reaches it. Its
// handler gets the 1-based number of the hit.
type testUpstream struct {
	*httptest.Server
	hits  atomic.Int32
	mu    sync.Mutex
	seen  []seen
	conns map[string]bool // remote addresses: one per connection
}

func startUpstream(t *testing.T, h func(n int, w http.ResponseWriter, r *http.Request)) *testUpstream {
	t.Helper()
	u := &testUpstream{conns: map[string]bool{}}
	u.Server = httptest.NewServer(u.record(h))
	t.Cleanup(u.Close)
	return u
}

func (u *testUpstream) record(h func(n int, w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.seen = append(u.seen, seen{r.Method, r.RequestURI, r.Header.Clone(), body})
		u.conns[r.RemoteAddr] = true
		u.mu.Unlock()
		h(int(u.hits.Add(1)), w, r)
	}
}

func (u *testUpstream) requests() []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seen(nil), u.seen...)
}

func (u *testUpstream) connections() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.conns)
}

// setup is what New is given: the configuration and the options.
type setup struct {
	config.Upstream
	Options
}

// breakerOff and breakerOn set config.Breaker.Enabled.
var breakerOff, breakerOn = new(bool), func() *bool { on := true; return &on }()

// newClient builds a client with test-sized timings and no breaker; mods
// adjust them.
func newClient(t testing.TB, url string, mods ...func(*setup)) *Client {
	t.Helper()
	s := setup{Upstream: config.Upstream{URL: url, Timeout: config.Duration(2 * time.Second), Breaker: config.Breaker{Enabled: breakerOff}},
		Options: Options{BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond}}
	for _, m := range mods {
		m(&s)
	}
	c, err := New(s.Upstream, s.Options)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

const userJSON = `{"id":"42","username":"jane","email":"jane@example.com","givenName":"Jane","active":true}`

func reply(w http.ResponseWriter, status int, body string) {
	if body != "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func ok(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, http.StatusOK, userJSON) }

func patchCall(id string) *Call {
	h := http.Header{}
	h.Set("Idempotency-Key", "idem-"+id)
	return &Call{Target: canonical.ByID, Value: id, Body: []byte(`{"set":{"active":false}}`), Header: h}
}

func patch(t *testing.T, c *Client, call *Call) (*Result, *canonical.Error) {
	t.Helper()
	res, err := c.Patch(context.Background(), call)
	if res == nil {
		t.Fatal("Patch returned a nil *Result")
	}
	return res, err
}

func wantCode(t *testing.T, err *canonical.Error, code canonical.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("got success, want %s", code)
	}
	if err.Code != code {
		t.Fatalf("got %v, want code %s", err, code)
	}
}

// waitFor waits until cond holds, failing the test if it does not within
// 10 s (a wait for a condition, not a timing assertion).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for stop := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(stop) {
			t.Fatalf("still waiting for %s", what)
		}
	}
}

// watchConns counts the connections c holds open to the upstream: its
// transport dials through a wrapper whose Close counts down. Call it before
// the client's first request.
func watchConns(c *Client) *atomic.Int32 {
	open := new(atomic.Int32)
	dial := c.transport.DialContext
	c.transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		open.Add(1)
		return &countedConn{Conn: conn, open: open}, nil
	}
	return open
}

type countedConn struct {
	net.Conn
	open *atomic.Int32
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.open.Add(-1) })
	return c.Conn.Close()
}
