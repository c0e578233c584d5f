package server

import (
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestUpstreamHeaderPassed: the client's headers the dialect forwards
// (Finix-Version), its trace headers (every value, in order) and its
// Idempotency-Key reach the upstream call as sent, however the client
// spelled their names; userbridge's own are set beside them.
func TestUpstreamHeaderPassed(t *testing.T) {
	up := &recordingUpstream{}
	addr := serveDefault(t, up, slog.New(slog.DiscardHandler))

	req, err := http.NewRequest(http.MethodPut, "http://"+addr+"/users/USsRhsHYZGBPnQw8CFHjD7Un",
		strings.NewReader(`{"enabled":false,"tags":{"order_number":"25"}}`))
	if err != nil {
		t.Fatal(err)
	}
	// Raw names, as a client may spell them (the server canonicalises).
	req.Header["Content-Type"] = []string{"application/json"}
	req.Header["Authorization"] = []string{"Basic VVN1c2VyOnBhc3N3b3Jk"}
	req.Header["finix-version"] = []string{"2022-02-01"}
	req.Header["traceparent"] = []string{"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	req.Header["tracestate"] = []string{"a=1", "b=2"}
	req.Header["idempotency-key"] = []string{"client-key-7"}
	req.Header["X-Request-Id"] = []string{"req-7"}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	up.mu.Lock()
	defer up.mu.Unlock()
	if len(up.calls) == 0 {
		t.Fatalf("status %d: no upstream call", resp.StatusCode)
	}
	h := up.calls[0].Header
	for name, want := range map[string][]string{
		"Finix-Version":        {"2022-02-01"},
		"Traceparent":          {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
		"Tracestate":           {"a=1", "b=2"},
		"Idempotency-Key":      {"client-key-7"},
		"X-Request-Id":         {"req-7"},
		"X-Userbridge-Dialect": {"finix"},
		"Accept":               {"application/json"},
		"Content-Type":         {"application/json"},
	} {
		if got := h[name]; !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}

// TestForwardNamesCanonical: the names a handler forwards are canonical,
// as upstreamHeader looks them up without canonicalising.
func TestForwardNamesCanonical(t *testing.T) {
	_, mounts := defaultMounts(t, nil)
	for _, m := range mounts {
		a, forward, err := authFor(m, slog.New(slog.DiscardHandler), time.Second, false)
		if err != nil {
			t.Fatal(err)
		}
		a.Close()
		for _, name := range forward {
			if c := http.CanonicalHeaderKey(name); c != name {
				t.Errorf("%s: forwards %q, not canonical %q", m.Dialect.Name(), name, c)
			}
		}
	}
}
