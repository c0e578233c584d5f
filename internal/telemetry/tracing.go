package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// ServiceName is the default service.name of userbridge's spans
// (OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES override it).
const ServiceName = "userbridge"

// Propagator is the W3C Trace Context propagator: traceparent and
// tracestate, nothing else (baggage may carry user data and is not passed
// on).
func Propagator() propagation.TextMapPropagator { return propagation.TraceContext{} }

// TracingEnabled reports whether the standard environment asks for traces:
// OTEL_TRACES_EXPORTER=otlp, or an OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT
// or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) with OTEL_TRACES_EXPORTER unset.
// OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none turn it off. Any other
// exporter is an error: userbridge only exports OTLP.
func TracingEnabled(lookup func(string) (string, bool)) (bool, error) {
	get := func(k string) string { v, _ := lookup(k); return strings.TrimSpace(v) }
	if strings.EqualFold(get("OTEL_SDK_DISABLED"), "true") {
		return false, nil
	}
	switch exp := strings.ToLower(get("OTEL_TRACES_EXPORTER")); exp {
	case "otlp":
		return true, nil
	case "none":
		return false, nil
	case "":
		return get("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "", nil
	default:
		return false, fmt.Errorf("telemetry: OTEL_TRACES_EXPORTER=%q: userbridge exports otlp or none", exp)
	}
}

// TracingFromEnv builds the tracer provider the standard OTEL_* environment
// describes, or returns nil when tracing is off (TracingEnabled). The OTLP
// exporter reads its own variables (OTEL_EXPORTER_OTLP_ENDPOINT, _HEADERS,
// _TIMEOUT, _CERTIFICATE, ... and their _TRACES_ forms); the protocol is
// OTEL_EXPORTER_OTLP[_TRACES]_PROTOCOL, http/protobuf (default) or grpc; the
// sampler OTEL_TRACES_SAMPLER[_ARG]; batching OTEL_BSP_*. Call Shutdown on
// the provider before exiting to flush the last spans.
func TracingFromEnv(ctx context.Context, lookup func(string) (string, bool), b Build) (*sdktrace.TracerProvider, error) {
	on, err := TracingEnabled(lookup)
	if err != nil || !on {
		return nil, err
	}
	proto, _ := lookup("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if proto == "" {
		proto, _ = lookup("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	var exp sdktrace.SpanExporter
	switch strings.TrimSpace(proto) {
	case "", "http/protobuf":
		exp, err = otlptracehttp.New(ctx)
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	default:
		return nil, fmt.Errorf("telemetry: OTLP protocol %q: http/protobuf or grpc", proto)
	}
	if err != nil {
		return nil, fmt.Errorf("telemetry: OTLP exporter: %w", err)
	}
	res, err := Resource(ctx, b)
	if err != nil {
		return nil, err
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(Redact(exp)), sdktrace.WithResource(res)), nil
}

// Resource describes userbridge: service.name and service.version, then
// whatever OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES say.
func Resource(ctx context.Context, b Build) (*resource.Resource, error) {
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", ServiceName), attribute.String("service.version", b.Version)),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	return res, nil
}

// WrapTransport returns the upstream transport wrapper that makes one client
// span per attempt and injects its context (traceparent, tracestate) into
// the attempt's headers. An attempt that gets no answer is named on its
// span by ErrorKind, under keyUpstreamError (the access line's
// upstream_error), and the exporter (Redact) makes that the span's status
// description in place of the error's text.
func WrapTransport(tp trace.TracerProvider) func(http.RoundTripper) http.RoundTripper {
	return func(rt http.RoundTripper) http.RoundTripper {
		return otelhttp.NewTransport(errorKinds{rt}, otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(Propagator()),
			otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return "upstream " + r.Method }))
	}
}

// errorKinds sits under otelhttp's transport: the attempt's span is in the
// request's context, and an attempt's error is named on it in ErrorKind's
// words before otelhttp sets the status from the error's text.
type errorKinds struct{ http.RoundTripper }

func (t errorKinds) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := t.RoundTripper.RoundTrip(r)
	if err != nil {
		trace.SpanFromContext(r.Context()).SetAttributes(keyUpstreamError.String(ErrorKind(err)))
	}
	return res, err
}

// Redact wraps an exporter so that no span leaves the process with a user
// id or username in it: the request paths userbridge serves and calls hold
// them. A server span's url.path becomes its route template (http.route);
// a client span's url.full keeps only the upstream's origin; url.query is
// dropped. Nor with an error's text, which may quote what the upstream
// sent (net/http's "malformed HTTP status code" quotes the reply, and an
// upstream may echo the request's credentials in it): a status
// description becomes the span's keyUpstreamError (ErrorKind's words), or
// Redacted, and so does an exception event's message.
func Redact(exp sdktrace.SpanExporter) sdktrace.SpanExporter { return redactor{exp} }

type redactor struct{ sdktrace.SpanExporter }

func (r redactor) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	out := make([]sdktrace.ReadOnlySpan, len(spans))
	for i, s := range spans {
		attrs := s.Attributes()
		st := s.Status()
		if st.Description != "" {
			st.Description = Redacted
			for _, a := range attrs {
				if a.Key == keyUpstreamError {
					st.Description = a.Value.AsString()
				}
			}
		}
		out[i] = redactedSpan{ReadOnlySpan: s, attrs: redactAttrs(attrs), status: st, events: redactEvents(s.Events())}
	}
	return r.SpanExporter.ExportSpans(ctx, out)
}

// redactedSpan is a span with its attributes, status and events replaced.
type redactedSpan struct {
	sdktrace.ReadOnlySpan
	attrs  []attribute.KeyValue
	status sdktrace.Status
	events []sdktrace.Event
}

func (s redactedSpan) Attributes() []attribute.KeyValue { return s.attrs }
func (s redactedSpan) Status() sdktrace.Status          { return s.status }
func (s redactedSpan) Events() []sdktrace.Event         { return s.events }

// redactEvents replaces the message of each exception event (an error
// recorded on the span: its text) with Redacted.
func redactEvents(in []sdktrace.Event) []sdktrace.Event {
	var out []sdktrace.Event
	for i, e := range in {
		for j, a := range e.Attributes {
			if a.Key != keyExceptionMessage {
				continue
			}
			if out == nil {
				out = slices.Clone(in)
			}
			out[i].Attributes = slices.Clone(e.Attributes)
			out[i].Attributes[j] = keyExceptionMessage.String(Redacted)
		}
	}
	if out == nil {
		return in
	}
	return out
}

const (
	keyURLPath  = attribute.Key("url.path")
	keyURLFull  = attribute.Key("url.full")
	keyURLQuery = attribute.Key("url.query")
	keyRoute    = attribute.Key("http.route")
	keyTarget   = attribute.Key("http.target") // older semantic conventions
	keyHTTPURL  = attribute.Key("http.url")    // older semantic conventions

	keyExceptionMessage = attribute.Key("exception.message")
	// keyUpstreamError names what an upstream attempt that got no answer
	// met, in ErrorKind's words (errorKinds).
	keyUpstreamError = attribute.Key("userbridge.upstream_error")
)

func redactAttrs(in []attribute.KeyValue) []attribute.KeyValue {
	route := Redacted
	for _, a := range in {
		if a.Key == keyRoute && a.Value.AsString() != "" {
			route = a.Value.AsString()
		}
	}
	out := make([]attribute.KeyValue, 0, len(in))
	for _, a := range in {
		switch a.Key {
		case keyURLPath, keyTarget:
			a = a.Key.String(route)
		case keyURLFull, keyHTTPURL:
			a = a.Key.String(originOf(a.Value.AsString()))
		case keyURLQuery:
			continue
		}
		out = append(out, a)
	}
	return out
}

// originOf keeps scheme://host[:port] of a URL, then "/" + Redacted.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return Redacted
	}
	return u.Scheme + "://" + u.Host + "/" + Redacted
}
