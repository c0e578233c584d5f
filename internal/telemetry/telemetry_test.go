package telemetry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestTracingEnabled(t *testing.T) {
	for _, c := range []struct {
		env     []string
		on, bad bool
	}{
		{nil, false, false},
		{[]string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"}, true, false},
		{[]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/v1/traces"}, true, false},
		{[]string{"OTEL_TRACES_EXPORTER", "otlp"}, true, false},
		{[]string{"OTEL_TRACES_EXPORTER", "none", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}, false, false},
		{[]string{"OTEL_SDK_DISABLED", "true", "OTEL_TRACES_EXPORTER", "otlp"}, false, false},
		{[]string{"OTEL_TRACES_EXPORTER", "zipkin"}, false, true},
	} {
		on, err := TracingEnabled(env(c.env...))
		if on != c.on || (err != nil) != c.bad {
			t.Errorf("%v: on %v err %v", c.env, on, err)
		}
	}
}

func TestTracingFromEnv(t *testing.T) {
	tp, err := TracingFromEnv(context.Background(), env(), Build{})
	if tp != nil || err != nil {
		t.Fatalf("off by default: %v %v", tp, err)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	for _, proto := range []string{"", "grpc", "http/protobuf"} {
		t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", proto)
		tp, err := TracingFromEnv(context.Background(), env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1",
			"OTEL_EXPORTER_OTLP_PROTOCOL", proto), Build{Version: "v1"})
		if err != nil || tp == nil {
			t.Fatalf("%q: %v", proto, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 0)
		_ = tp.Shutdown(ctx) // nothing to export
		cancel()
	}
	if _, err := TracingFromEnv(context.Background(), env("OTEL_TRACES_EXPORTER", "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"), Build{}); err == nil {
		t.Error("http/json accepted")
	}
}

// TestRedact: no user id leaves in a span's URL attributes.
func TestRedact(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(Redact(exp)))
	tr := tp.Tracer("t")
	_, s := tr.Start(context.Background(), "server", trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
		attribute.String("url.path", "/users/jane.doe"), attribute.String("http.route", "/users/:user"),
		attribute.String("url.query", "u=jane.doe"), attribute.String("http.request.method", "PUT")))
	s.End()
	_, c := tr.Start(context.Background(), "client", trace.WithSpanKind(trace.SpanKindClient))
	c.SetAttributes(attribute.String("url.full", "https://idp.internal:8443/api/users/by-username/jane.doe?x=1"))
	c.RecordError(errors.New(`malformed HTTP status code "jane.doe"`))
	c.SetStatus(codes.Error, `malformed HTTP status code "jane.doe"`)
	c.End()
	spans := exp.GetSpans()
	for _, sp := range spans {
		if strings.Contains(fmt.Sprint(sp.Status, sp.Events), "jane.doe") {
			t.Errorf("span %s: an error's text is exported: %v %v", sp.Name, sp.Status, sp.Events)
		}
	}
	got := map[string]string{}
	for _, sp := range spans {
		for _, kv := range sp.Attributes {
			got[string(kv.Key)] = kv.Value.Emit()
		}
	}
	want := map[string]string{"url.path": "/users/:user", "url.full": "https://idp.internal:8443/[redacted]", "http.request.method": "PUT"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if _, ok := got["url.query"]; ok {
		t.Error("url.query kept")
	}
}

func TestSensitive(t *testing.T) {
	for k, want := range map[string]bool{"password": true, "Authorization": true, "x-secret": true, "X-Key": true,
		"Cookie": true, "client_secret": true, "access_token": true, "request_id": false, "dialect": false, "status": false,
		// The rule of mapping.SecretName (lex.SecretName), which the logger's
		// own list lacked.
		"newPassphrase": true, "passcode": true, "session_id": true, "private key": true, "unicodePwd": true,
		"X_API_KEY": true, "upstream.auth": true,
		// The access line's own attribute: how the caller proved who they are.
		"auth": false, "pwdAccountLockedTime": false} {
		if Sensitive(k) != want {
			t.Errorf("Sensitive(%q) = %v", k, !want)
		}
	}
}
