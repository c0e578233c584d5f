package app_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestClientGoneDoesNotCancelTheUpdate: a client that hangs up while its
// update is with the upstream does not cut the upstream call short. The
// call ends with the upstream's answer, as if the client had waited: an
// update half-sent and then abandoned would leave its fate unknown, while
// one carried to its end is applied once and, repeated with the same
// Idempotency-Key, answered from the upstream's record.
func TestClientGoneDoesNotCancelTheUpdate(t *testing.T) {
	d := specs[3] // finix
	received := make(chan struct{}, 1)
	var cancelled, answered atomic.Bool
	rec := newRecorder(t)
	rec.set(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPatch {
			w.Header().Set("Content-Type", "application/json")
			_, _ = fmt.Fprintf(w, `{"id":%q,"username":"jane","active":false}`, finixID)
			return
		}
		received <- struct{}{}
		// userbridge cancelling its call closes this connection, which
		// ends r's context. Nothing else may: a second is plenty for a
		// cancellation to arrive, and waiting it out cannot fail a right
		// implementation.
		select {
		case <-r.Context().Done():
			cancelled.Store(true)
			return
		case <-time.After(time.Second):
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"id":%q,"username":"jane","active":false}`, finixID)
		answered.Store(true)
	})
	s := start(t, "", rec.srv.URL, nil)

	conn := dialRaw(t, strings.TrimPrefix(s.base, "http://"))
	var req strings.Builder
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: x\r\nX-Request-Id: gone-1\r\nContent-Type: application/json\r\n", d.method, d.path)
	for k, v := range d.header {
		fmt.Fprintf(&req, "%s: %s\r\n", k, v)
	}
	fmt.Fprintf(&req, "Content-Length: %d\r\n\r\n%s", len(d.body), d.body)
	if _, err := conn.Write([]byte(req.String())); err != nil {
		t.Fatal(err)
	}
	select {
	case <-received:
	case <-time.After(5 * time.Second):
		t.Fatal("the update never reached the upstream")
	}
	_ = conn.Close() // the client hangs up mid-call

	// The access line is written once the handler is done.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(s.logs.String(), `"request_id":"gone-1"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no access line for the request:\n%s", s.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if cancelled.Load() || !answered.Load() {
		t.Fatalf("the upstream call was cut short when the client went away (cancelled %v, answered %v)", cancelled.Load(), answered.Load())
	}
	line := s.logLine(t, "gone-1")
	if st, _ := line["upstream_status"].(float64); st != 200 {
		t.Errorf("access line upstream_status %v, want the upstream's 200: %v", st, line)
	}
}
