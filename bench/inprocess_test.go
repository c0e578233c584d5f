package bench

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/server"
	"github.com/userbridge/userbridge/internal/telemetry"
	"github.com/userbridge/userbridge/internal/upstream"
)

// BenchmarkInProcess is the frame floor and userbridge serving the Finix
// request in one goroutine, hot, with no network: each handler called
// directly, its upstream answered by a RoundTripper in place of net/http's
// Transport (User, as bench/upstream answers). What is left is the two
// handlers' own work, request parsing and the test's recorder included in
// both: userbridge's figure less the frame's is what userbridge itself
// costs a request, without the scheduling, cache and kernel costs a loaded
// machine multiplies it by (docs/performance.md). userbridge is built as
// serve builds it (the embedded default configuration, metrics on, logs
// off) but for its listeners.
//
//	GOGC=400 GOMAXPROCS=1 go test ./bench -run '^$' -bench InProcess -count 5
func BenchmarkInProcess(b *testing.B) {
	b.Run("frame", func(b *testing.B) {
		h, err := NewFrame("http://upstream.invalid", answered{})
		if err != nil {
			b.Fatal(err)
		}
		serveInProcess(b, h)
	})
	b.Run("userbridge", func(b *testing.B) { serveInProcess(b, inProcessUserbridge(b)) })
}

// answered answers every call with User, having read the request's body.
type answered struct{}

func (answered) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	h := http.Header{"Content-Type": {"application/json"}, "Content-Length": {strconv.Itoa(len(User))}}
	return &http.Response{StatusCode: http.StatusOK, Header: h, Body: io.NopCloser(strings.NewReader(User)),
		ContentLength: int64(len(User)), Request: r}, nil
}

func inProcessUserbridge(b *testing.B) http.Handler {
	src := config.Source{Name: "bench"}
	cfg, err := config.Parse(src, config.DefaultYAML())
	if err != nil {
		b.Fatal(err)
	}
	cfg.Upstream.URL = "http://upstream.invalid"
	mounts, err := cfg.Resolve(src)
	if err != nil {
		b.Fatal(err)
	}
	up, err := upstream.New(cfg.Upstream, upstream.Options{WrapTransport: func(http.RoundTripper) http.RoundTripper { return answered{} }})
	if err != nil {
		b.Fatal(err)
	}
	s, err := server.New(server.Options{Config: cfg, Mounts: mounts, Upstream: up, Logger: slog.New(slog.DiscardHandler),
		Observer: telemetry.NewMetrics(telemetry.Build{}, up.BreakerState)})
	if err != nil {
		b.Fatal(err)
	}
	return s.Handler(cfg.Listen)
}

func serveInProcess(b *testing.B, h http.Handler) {
	r := request(b, "finix")
	body := []byte(r.Body)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(r.Method, r.Path, bytes.NewReader(body))
		for k, v := range r.Header {
			req.Header[k] = v
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != r.Status {
			b.Fatalf("status %d, want %d: %s", w.Code, r.Status, w.Body)
		}
	}
}
