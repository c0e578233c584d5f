package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/userbridge/userbridge/internal/app"
	"github.com/userbridge/userbridge/internal/telemetry"
)

// otlpReceiver is an OTLP/HTTP trace receiver, as a collector's: it keeps
// every export request's body as sent and its decoded spans.
type otlpReceiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	raw   [][]byte
	res   []*commonpb.KeyValue
	spans []*tracepb.Span
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	rc := &otlpReceiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(body, &req) != nil {
			t.Errorf("OTLP receiver: %s %s %s: not an OTLP/HTTP protobuf export", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.raw = append(rc.raw, body)
		for _, rs := range req.ResourceSpans {
			rc.res = append(rc.res, rs.GetResource().GetAttributes()...)
			for _, ss := range rs.ScopeSpans {
				rc.spans = append(rc.spans, ss.Spans...)
			}
		}
		rc.mu.Unlock()
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// otlpAttr is a span's or resource's attribute as a string ("" when absent).
func otlpAttr(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.Key == key {
			if s, ok := kv.Value.Value.(*commonpb.AnyValue_StringValue); ok {
				return s.StringValue
			}
			if i, ok := kv.Value.Value.(*commonpb.AnyValue_IntValue); ok {
				return strconv.FormatInt(i.IntValue, 10)
			}
		}
	}
	return ""
}

// TestTracingOTLP configures tracing as the docs say (OTEL_EXPORTER_OTLP_ENDPOINT,
// telemetry.TracingFromEnv, as serve does) and points it at an OTLP/HTTP
// receiver. A Finix update through an upstream that answers, and one
// through an upstream that answers a status line quoting the caller's
// Basic credential (net/http's error quotes it): the spans arrive, over
// OTLP/HTTP protobuf, with the documented names and attributes (the route
// template for url.path, only the upstream's origin in url.full,
// userbridge's dialect, target and request id), the failed attempt's
// status says the access line's upstream_error, and no export holds a
// user id or a credential in any form the test sent.
func TestTracingOTLP(t *testing.T) {
	rc := newOTLPReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rc.srv.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_SERVICE_NAME", "")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "")
	tp, err := telemetry.TracingFromEnv(context.Background(), func(k string) (string, bool) {
		return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rc.srv.URL}[k], true
	}, telemetry.Build{Version: "v9.9.9"})
	if err != nil || tp == nil {
		t.Fatalf("tracing from the environment: %v %v", tp, err)
	}

	const echoUser, echoPassword = "echo-user", "s3cr3t-pw"
	echoCred := base64.StdEncoding.EncodeToString([]byte(echoUser + ":" + echoPassword))
	// The upstream: a canonical user for every update, but to the echo
	// caller's a status line whose code is its credential.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					r, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, r.Body)
					if strings.Contains(r.Header.Get("Authorization"), echoCred) {
						_, _ = io.WriteString(c, "HTTP/1.1 "+echoCred+" OK\r\n\r\n")
						return
					}
					user := userFor(r)
					_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "+strconv.Itoa(len(user))+"\r\n\r\n")
					_, _ = c.Write(user)
				}
			}()
		}
	}()
	upstreamURL := "http://" + ln.Addr().String()
	f := startFile(t, fileSetup{yaml: "listen: 127.0.0.1:0\nupstream: {url: " + upstreamURL + ", breaker: {enabled: false}}\n",
		opts: app.Options{TracerProvider: tp}})

	finix := specNamed(t, "finix")
	const clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	if a := f.do(t, finix.method, finix.path, specHeader(finix, map[string]string{"X-Request-ID": "otlp-ok",
		"traceparent": "00-" + clientTrace + "-00f067aa0ba902b7-01"}), finix.body); a.Status != 200 {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	if a := f.do(t, finix.method, finix.path, specHeader(finix, map[string]string{"X-Request-ID": "otlp-echo",
		"Authorization": "Basic " + echoCred}), finix.body); a.Status != 502 {
		t.Fatalf("echoing upstream: %d %s", a.Status, a.Body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tp.Shutdown(ctx); err != nil { // what serve does on its way out: the last spans go
		t.Fatalf("flushing the spans: %v", err)
	}

	rc.mu.Lock()
	defer rc.mu.Unlock()
	if got := otlpAttr(rc.res, "service.name"); got != "userbridge" {
		t.Errorf("resource service.name %q", got)
	}
	if got := otlpAttr(rc.res, "service.version"); got != "v9.9.9" {
		t.Errorf("resource service.version %q", got)
	}
	for _, raw := range rc.raw {
		for _, bad := range append(secretsOf(), echoCred, echoUser, echoPassword) {
			if bytes.Contains(raw, []byte(bad)) {
				t.Errorf("an OTLP export carries %q", bad)
			}
		}
	}
	echoLine := accessLine(t, f.logs.String(), "otlp-echo")
	servers := map[string]*tracepb.Span{}
	clients := map[string]*tracepb.Span{} // by the server span's request id
	byID := map[string]*tracepb.Span{}
	for _, s := range rc.spans {
		byID[string(s.SpanId)] = s
	}
	for _, s := range rc.spans {
		switch s.Kind {
		case tracepb.Span_SPAN_KIND_SERVER:
			servers[otlpAttr(s.Attributes, "userbridge.request_id")] = s
		case tracepb.Span_SPAN_KIND_CLIENT:
			if p := byID[string(s.ParentSpanId)]; p != nil {
				clients[otlpAttr(p.Attributes, "userbridge.request_id")] = s
			}
		}
	}
	for _, id := range []string{"otlp-ok", "otlp-echo"} {
		s, c := servers[id], clients[id]
		if s == nil || c == nil {
			t.Fatalf("%s: want a server span and a client span under it, got %d spans", id, len(rc.spans))
		}
		for k, want := range map[string]string{"url.path": "/users/:user_id", "http.route": "/users/:user_id",
			"http.request.method": "PUT", "userbridge.dialect": "finix", "userbridge.target": "id"} {
			if got := otlpAttr(s.Attributes, k); got != want {
				t.Errorf("%s: server span %s = %q, want %q", id, k, got, want)
			}
		}
		if s.Name != "PUT /users/:user_id" || c.Name != "upstream PATCH" {
			t.Errorf("%s: span names %q and %q", id, s.Name, c.Name)
		}
		if got := otlpAttr(c.Attributes, "url.full"); got != upstreamURL+"/"+telemetry.Redacted {
			t.Errorf("%s: client span url.full %q, want the upstream's origin only", id, got)
		}
	}
	if got := hex.EncodeToString(servers["otlp-ok"].TraceId); got != clientTrace {
		t.Errorf("the server span does not continue the client's trace")
	}
	if st := clients["otlp-ok"].Status; st.GetCode() == tracepb.Status_STATUS_CODE_ERROR || st.GetMessage() != "" {
		t.Errorf("a successful attempt's status: %v", st)
	}
	st := clients["otlp-echo"].Status
	if st.GetCode() != tracepb.Status_STATUS_CODE_ERROR || st.GetMessage() != echoLine["upstream_error"] || st.GetMessage() == "" {
		t.Errorf("the failed attempt's status %v, want an error saying the access line's upstream_error %q", st, echoLine["upstream_error"])
	}
}
