package app_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// victimID is the user a smuggled request would update.
const victimID = "9e8d7c6b-5a49-4382-b716-0f1e2d3c4b5a"

// shiftRequest is a whole Shift update of user id, as a client writes it:
// the request line, the dialect's headers, then framing (the framing
// headers and the body, as the case writes them).
func shiftRequest(addr, id, proto, framing string) string {
	d := specs[1] // shift
	var b strings.Builder
	fmt.Fprintf(&b, "%s /v3/users/%s %s\r\nHost: %s\r\nContent-Type: application/json\r\n", d.method, id, proto, addr)
	for k, v := range d.header {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString(framing)
	return b.String()
}

// chunked is body in the chunked coding, the last chunk and an empty
// trailer included.
func chunked(body string) string {
	return fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body)
}

// TestFramingEndsTheConnection: RFC 9112 §6.1. A request with a chunked
// body, with both Transfer-Encoding and Content-Length, or HTTP/1.0 (which
// net/http reads by its Content-Length, dropping a Transfer-Encoding) ends
// its connection after its answer: the answer says Connection: close, and
// a request written after it on the same connection, an update of another
// user, never reaches the upstream. The client reads its answer, then EOF,
// not a reset, though more bytes follow that the server never reads.
func TestFramingEndsTheConnection(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, e2eConfig)
	addr := strings.TrimPrefix(s.base, "http://")
	d := specs[1] // shift
	victim := shiftRequest(addr, victimID, "HTTP/1.1", fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(d.body), d.body))
	// TE.CL: a reader that took Content-Length would read the chunk-size
	// line as the body, and the chunk (the victim's request) as the next
	// request; read as chunked, the victim's request is a body that is no
	// JSON.
	sizeLine := fmt.Sprintf("%x\r\n", len(victim))
	for _, c := range []struct {
		name   string
		raw    string
		status int // of the first answer
		first  int // updates of the first request's user the upstream receives
	}{
		{"CL.TE: both headers, a request after the chunked body",
			shiftRequest(addr, johnID, "HTTP/1.1", fmt.Sprintf("Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n%s",
				len(chunked(d.body)), chunked(d.body))) + victim, d.success, 1},
		{"TE.CL: both headers, a request inside the chunk",
			shiftRequest(addr, johnID, "HTTP/1.1", fmt.Sprintf("Transfer-Encoding: chunked\r\nContent-Length: %d\r\n\r\n%s",
				len(sizeLine), chunked(victim))), http.StatusBadRequest, 0},
		{"chunked, then a pipelined request",
			shiftRequest(addr, johnID, "HTTP/1.1", "Transfer-Encoding: chunked\r\n\r\n"+chunked(d.body)) + victim, d.success, 1},
		{"HTTP/1.0 keep-alive with both headers, then a pipelined request",
			shiftRequest(addr, johnID, "HTTP/1.0", fmt.Sprintf("Connection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: %d\r\n\r\n%s",
				len(d.body), d.body)) + victim, d.success, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec.set(nil)
			resp, body, after := answerThen(t, addr, c.raw+strings.Repeat("x", 256<<10), 0)
			if resp.StatusCode != c.status {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, c.status, body)
			}
			if !resp.Close || !errors.Is(after, io.EOF) {
				t.Errorf("connection not ended (Connection: close %v; after the answer: %v, want EOF)", resp.Close, after)
			}
			// The client read EOF: the server will read nothing more from
			// the connection, and served nothing else from it.
			first := 0
			for _, r := range rec.requests() {
				switch {
				case strings.Contains(r.RawPath, victimID):
					t.Errorf("the victim's update reached the upstream: %s %s %s", r.Method, r.RawPath, r.Body)
				case strings.Contains(r.RawPath, johnID) && r.Method == http.MethodPatch:
					first++
				}
			}
			if first != c.first {
				t.Errorf("%d updates of the first user upstream, want %d", first, c.first)
			}
		})
	}
}

// TestKeepAliveStillServes: two requests with a Content-Length each, on one
// connection, are both answered and both forwarded, and the connection
// stays open after them (no regression of the framing rule).
func TestKeepAliveStillServes(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, e2eConfig)
	addr := strings.TrimPrefix(s.base, "http://")
	d := specs[1] // shift
	conn := dialRaw(t, addr)
	defer conn.Close()
	br := bufio.NewReader(conn)
	for i, id := range []string{johnID, victimID} {
		if _, err := io.WriteString(conn, shiftRequest(addr, id, "HTTP/1.1",
			fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(d.body), d.body))); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != d.success || resp.Close {
			t.Fatalf("request %d: status %d, Connection: close %v", i, resp.StatusCode, resp.Close)
		}
	}
	got := rec.requests()
	var paths []string
	for _, r := range got {
		if r.Method == http.MethodPatch {
			paths = append(paths, r.RawPath)
		}
	}
	if len(paths) != 2 || !strings.Contains(paths[0], johnID) || !strings.Contains(paths[1], victimID) {
		t.Errorf("the upstream received updates of %q", paths)
	}
}
