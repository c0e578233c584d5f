package upstream

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
)

// writeCounter counts the writes made on a client's connections.
type writeCounter struct {
	net.Conn
	writes *atomic.Int32
}

func (c writeCounter) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestBodyWrittenWithHeaders: an update goes out with its Content-Length
// and in one write with its headers (net/http knows the body is in memory:
// it does not flush the headers first), on every attempt, and a Get in one
// write too.
func TestBodyWrittenWithHeaders(t *testing.T) {
	const update = `{"set":{"active":false}}`
	up := startUpstream(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch && r.Header.Get("Content-Length") != strconv.Itoa(len(update)) {
			t.Errorf("attempt %d: Content-Length %q", n, r.Header.Get("Content-Length"))
		}
		if n == 1 {
			reply(w, http.StatusServiceUnavailable, "")
			return
		}
		reply(w, http.StatusOK, userJSON)
	})
	c := newClient(t, up.URL)
	writes := new(atomic.Int32)
	dial := c.transport.DialContext
	c.transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return writeCounter{Conn: conn, writes: writes}, nil
	}
	res, cerr := patch(t, c, patchCall("7"))
	if cerr != nil || res.Attempts != 2 {
		t.Fatalf("attempts %d, %v", res.Attempts, cerr)
	}
	if n := writes.Load(); n != 2 {
		t.Errorf("two attempts of an update made %d writes, want 2", n)
	}
	for i, r := range up.requests() {
		if string(r.body) != update {
			t.Errorf("attempt %d: body %q", i+1, r.body)
		}
	}
	writes.Store(0)
	if _, cerr := c.Get(context.Background(), patchCall("7")); cerr != nil {
		t.Fatal(cerr)
	}
	if n := writes.Load(); n != 1 {
		t.Errorf("a Get made %d writes, want 1", n)
	}
}
