package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestFrontNeverServesAfterAnEndingRequest: when the answer to a chunked
// request loses its Connection: close on the way (here the handler deletes
// it, so net/http keeps the connection and reads on), the request that
// follows on the connection is still never served: the front drops the
// connection instead, and the client reads EOF after the first answer.
func TestFrontNeverServesAfterAnEndingRequest(t *testing.T) {
	var served atomic.Int32
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Del("Connection")
		w.WriteHeader(http.StatusNoContent)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	obs := &dropCounter{}
	f := &front{log: slog.New(slog.DiscardHandler), obs: obs}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(f.install(srv, ln)) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})

	conn, err := net.DialTimeout("tcp", ln.Addr().String(), 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = io.WriteString(conn, "PUT /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"+
		"PUT /b HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Close {
		t.Fatalf("first answer: %d, Connection: close %v (the handler was to drop it)", resp.StatusCode, resp.Close)
	}
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("after the first answer: %v, want EOF", err)
	}
	if n := served.Load(); n != 1 {
		t.Errorf("%d requests served, want 1", n)
	}
	// The dropped request is counted, as one the server could not read.
	if n := obs.dropped.Load(); n != 1 {
		t.Errorf("%d dropped requests counted, want 1", n)
	}
}

// dropCounter counts the requests recorded as unreadable.
type dropCounter struct {
	noObserver
	dropped atomic.Int32
}

func (d *dropCounter) Request(dialect, route string, _ int, _ time.Duration) {
	if dialect == noDialect && route == unreadable {
		d.dropped.Add(1)
	}
}
