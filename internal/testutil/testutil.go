// Package testutil holds the helpers several packages' tests share: a log
// buffer the server's goroutines may write to, a running App, and the
// runtime settings a test of serve changes put back.
package testutil

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// LogBuffer keeps what is written to it; it is safe for concurrent writers.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Logger is a JSON logger at debug level writing to the buffer.
func (l *LogBuffer) Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// App is what Serve runs: internal/app's App. (An interface, so that this
// package imports nothing of the project and every package's tests may use
// it.)
type App interface {
	Start() (wait func() error, err error)
	Shutdown(ctx context.Context) error
}

// Serve starts a built App and shuts it down, checking that it stopped
// cleanly, when the test ends.
func Serve(tb testing.TB, a App) {
	tb.Helper()
	wait, err := a.Start()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		// Longer than the 5 s net/http's Shutdown gives a connection that
		// has sent nothing yet (StateNew) before it counts as idle: a test
		// client that dialled a spare connection under load (its request
		// served by another) would otherwise fail the shutdown.
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			tb.Errorf("shutdown: %v", err)
		}
		if err := wait(); err != nil {
			tb.Errorf("serve: %v", err)
		}
	})
}

// LeakOptions are the goleak options of every leak check: more, the
// goroutines a test started before it began and may leave running, with
// nothing ignored besides.
func LeakOptions(more ...goleak.Option) []goleak.Option {
	return append([]goleak.Option(nil), more...)
}

// KeepRuntime restores GOMAXPROCS and the GC percent when the test ends,
// for tests that run serve's runtime defaults in the test process.
func KeepRuntime(t testing.TB) {
	procs, gc := runtime.GOMAXPROCS(0), debug.SetGCPercent(100)
	debug.SetGCPercent(gc)
	t.Cleanup(func() { runtime.GOMAXPROCS(procs); debug.SetGCPercent(gc) })
}

// ConnCounter counts a test server's open connections: set its Track as
// the server's ConnState (httptest.NewUnstartedServer, then Start).
type ConnCounter struct {
	mu   sync.Mutex
	open map[net.Conn]bool
}

// Track implements http.Server's ConnState.
func (c *ConnCounter) Track(conn net.Conn, s http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch s {
	case http.StateNew:
		if c.open == nil {
			c.open = map[net.Conn]bool{}
		}
		c.open[conn] = true
	case http.StateClosed, http.StateHijacked:
		delete(c.open, conn)
	}
}

// Open is how many connections are open now.
func (c *ConnCounter) Open() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.open)
}
