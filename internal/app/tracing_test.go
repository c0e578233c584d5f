package app_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/userbridge/userbridge/internal/app"
	"github.com/userbridge/userbridge/internal/telemetry"
)

// TestTracing sends a request carrying the client's traceparent through the
// real server with tracing on, and checks: the server span continues the
// client's trace; each upstream attempt is a client span under it; the
// upstream received the client span's context, not the caller's; the
// spans carry route templates, never the user's id; the access line names
// the trace.
func TestTracing(t *testing.T) {
	rec := newRecorder(t)
	var attempts atomic.Int32
	rec.set(func(w http.ResponseWriter, r *http.Request) {
		if attempts.Add(1) == 1 { // one retry: two client spans
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(userFor(r))
	})
	f, exp := tracedStart(t, "listen: 127.0.0.1:0\nupstream: {url: %s, breaker: {enabled: false}}\n", rec.srv.URL)
	const clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	const clientSpan = "00f067aa0ba902b7"
	finix := specNamed(t, "finix")
	a := f.do(t, finix.method, finix.path, specHeader(finix, map[string]string{
		"traceparent": "00-" + clientTrace + "-" + clientSpan + "-01", "X-Request-ID": "traced"}), finix.body)
	if a.Status != 200 {
		t.Fatalf("%d %s", a.Status, a.Body)
	}

	var spans tracetest.SpanStubs
	deadline := time.Now().Add(5 * time.Second)
	for {
		spans = exp.GetSpans()
		if len(spans) >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	var server *tracetest.SpanStub
	var clients []tracetest.SpanStub
	for i := range spans {
		switch spans[i].SpanKind {
		case trace.SpanKindServer:
			server = &spans[i]
		case trace.SpanKindClient:
			clients = append(clients, spans[i])
		}
	}
	if server == nil || len(clients) != 2 {
		t.Fatalf("want a server span and 2 client spans, got %d spans: %+v", len(spans), spans)
	}
	if got := server.SpanContext.TraceID().String(); got != clientTrace {
		t.Errorf("server span trace %s, want the client's %s", got, clientTrace)
	}
	if got := server.Parent.SpanID().String(); got != clientSpan || !server.Parent.IsRemote() {
		t.Errorf("server span parent %s (remote %v), want the client's span %s", got, server.Parent.IsRemote(), clientSpan)
	}
	if server.Name != "PUT /users/:user_id" {
		t.Errorf("server span name %q", server.Name)
	}
	reqs := rec.requests()
	if len(reqs) != 2 {
		t.Fatalf("upstream got %d requests", len(reqs))
	}
	for i, c := range clients {
		if c.SpanContext.TraceID() != server.SpanContext.TraceID() || c.Parent.SpanID() != server.SpanContext.SpanID() {
			t.Errorf("client span %d is not a child of the server span", i)
		}
		// The upstream's traceparent continues the trace, parent = this
		// attempt's client span (attempts end in order).
		want := "00-" + clientTrace + "-" + c.SpanContext.SpanID().String() + "-01"
		if got := reqs[i].Header.Get("Traceparent"); got != want {
			t.Errorf("attempt %d: upstream traceparent %q, want %q", i+1, got, want)
		}
	}
	for _, s := range spans {
		for _, kv := range s.Attributes {
			v := kv.Value.Emit()
			for _, bad := range secretsOf() {
				if strings.Contains(v, bad) {
					t.Errorf("span %q attribute %s=%q carries %q", s.Name, kv.Key, v, bad)
				}
			}
			if kv.Key == "url.path" && v != "/users/:user_id" {
				t.Errorf("server url.path %q, want the route template", v)
			}
		}
	}
	l := accessLine(t, f.logs.String(), "traced")
	if l["trace_id"] != clientTrace || l["span_id"] != server.SpanContext.SpanID().String() {
		t.Errorf("access line trace %v span %v", l["trace_id"], l["span_id"])
	}
	if l["attempts"] != 2.0 {
		t.Errorf("attempts %v", l["attempts"])
	}
}

// TestTracingNewTrace: with tracing on and no traceparent from the client,
// the upstream still gets one (a new trace), from the client span.
func TestTracingNewTrace(t *testing.T) {
	rec := newRecorder(t)
	f, _ := tracedStart(t, "listen: 127.0.0.1:0\nupstream: {url: %s}\n", rec.srv.URL)
	shift := specNamed(t, "shift")
	if a := f.do(t, shift.method, shift.path, specHeader(shift, nil), shift.body); a.Status != 204 {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	reqs := rec.requests()
	if len(reqs) != 1 || !strings.HasPrefix(reqs[0].Header.Get("Traceparent"), "00-") {
		t.Fatalf("upstream traceparent %q", reqs[0].Header.Get("Traceparent"))
	}
}

// TestTracingAtWarn: with tracing on and the level at warn, the server span
// still gets userbridge's attributes, and no access line is written.
func TestTracingAtWarn(t *testing.T) {
	rec := okUpstream(t)
	f, exp := tracedStart(t, "listen: 127.0.0.1:0\nupstream: {url: %s}\nlog: {level: warn}\n", rec.srv.URL)
	finix := specNamed(t, "finix")
	if a := f.do(t, finix.method, finix.path, specHeader(finix, map[string]string{"X-Request-ID": "warn-traced"}), finix.body); a.Status != 200 {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	eventually(t, "the server span with userbridge's attributes", func() bool {
		for _, s := range exp.GetSpans() {
			for _, kv := range s.Attributes {
				if s.SpanKind == trace.SpanKindServer && string(kv.Key) == "userbridge.request_id" && kv.Value.AsString() == "warn-traced" {
					return true
				}
			}
		}
		return false
	})
	if logs := f.logs.String(); strings.Contains(logs, "warn-traced") {
		t.Errorf("an access line was written at level warn:\n%s", logs)
	}
}

// tracedStart starts userbridge with tracing into an in-memory exporter
// (through the redacting exporter) and the config's yaml, the upstream's
// URL filled in; the exporter holds the spans.
func tracedStart(t *testing.T, yaml, upstreamURL string) (*fileStarted, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(telemetry.Redact(exp)))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	f := startFile(t, fileSetup{yaml: fmt.Sprintf(yaml, upstreamURL), opts: app.Options{TracerProvider: tp}})
	return f, exp
}

// TestTracingSpansOwnTheirStrings sends two requests over one keep-alive
// connection with tracing on. A span is exported after its request, on
// another goroutine in production (the batcher), while the server reads
// the next request on the same connection: the user agent and request id
// a span holds must still be its own request's.
func TestTracingSpansOwnTheirStrings(t *testing.T) {
	rec := newRecorder(t)
	rec.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(userFor(r))
	})
	f, exp := tracedStart(t, "listen: 127.0.0.1:0\nupstream: {url: %s}\n", rec.srv.URL)
	finix := specNamed(t, "finix")
	c := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}, Timeout: 10 * time.Second}
	t.Cleanup(c.CloseIdleConnections)
	ids := []string{"aaaa", "bbbb"}
	for _, id := range ids {
		req, err := http.NewRequest(finix.method, f.base+finix.path, strings.NewReader(finix.body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range specHeader(finix, map[string]string{"User-Agent": "client-" + id, "X-Request-ID": "request-" + id}) {
			req.Header.Set(k, v)
		}
		a := doWith(t, c, req)
		if a.Status != 200 {
			t.Fatalf("%d %s", a.Status, a.Body)
		}
	}
	var servers []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.SpanKind == trace.SpanKindServer {
			servers = append(servers, s)
		}
	}
	if len(servers) != len(ids) {
		t.Fatalf("%d server spans, want %d", len(servers), len(ids))
	}
	for i, s := range servers {
		got := map[string]string{}
		for _, kv := range s.Attributes {
			got[string(kv.Key)] = kv.Value.Emit()
		}
		if ua := got["user_agent.original"]; ua != "client-"+ids[i] {
			t.Errorf("span %d: user_agent.original %q, want client-%s", i, ua, ids[i])
		}
		if rid := got["userbridge.request_id"]; rid != "request-"+ids[i] {
			t.Errorf("span %d: userbridge.request_id %q, want request-%s", i, rid, ids[i])
		}
	}
}
