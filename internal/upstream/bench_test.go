package upstream

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/userbridge/userbridge/mapping/canonical"
)

// BenchmarkPatch measures one update against a loopback upstream that
// answers a canonical user, keep-alive connection included. The figures
// include the test server's own work and allocations.
func BenchmarkPatch(b *testing.B) {
	body := []byte(userJSON)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}))
	defer srv.Close()
	c := newClient(b, srv.URL)
	h := http.Header{}
	h.Set("Authorization", "Bearer t0ken")
	h.Set("Idempotency-Key", "0d7e5bb4-6f3c-4a51-9b0a-1f2c3d4e5f60")
	h.Set("X-Request-ID", "req-1")
	h.Set("X-Userbridge-Dialect", "finix")
	SetJSONHeaders(h) // as the server's handler builds it: Patch sends the map as it is
	call := &Call{Target: canonical.ByID, Value: "42", Header: h,
		Body: []byte(`{"set":{"active":true,"attributes":{"a":"1","b":"2","c":"3"}}}`)}
	ctx := context.Background()

	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Patch(ctx, call); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.Patch(ctx, call); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// cannedTransport answers every request in process with a user, as a
// keep-alive connection would (GotConn reported, the body read and
// closed): what is left in the figures is the client's own work.
type cannedTransport struct{ body []byte }

func (t cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if tr := httptrace.ContextClientTrace(r.Context()); tr != nil && tr.GotConn != nil {
		tr.GotConn(httptrace.GotConnInfo{Reused: true})
	}
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(t.body)),
		ContentLength: int64(len(t.body)), Request: r}, nil
}

// BenchmarkPatchOverhead measures the client's own cost of an update: the
// transport answers in process (cannedTransport). "bare" is the same
// exchange made with go-retryablehttp alone, as bench/frame makes it: the
// difference is what the client adds (URL, deadline, trace hook, retry
// policy, breaker, reply checks).
func BenchmarkPatchOverhead(b *testing.B) {
	body := []byte(userJSON)
	wrap := func(s *setup) {
		s.WrapTransport = func(http.RoundTripper) http.RoundTripper { return cannedTransport{body} }
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer t0ken")
	h.Set("Idempotency-Key", "0d7e5bb4-6f3c-4a51-9b0a-1f2c3d4e5f60")
	h.Set("X-Request-ID", "req-1")
	h.Set("X-Userbridge-Dialect", "finix")
	SetJSONHeaders(h)
	update := []byte(`{"set":{"active":true,"attributes":{"a":"1","b":"2","c":"3"}}}`)
	call := &Call{Target: canonical.ByID, Value: "42", Header: h, Body: update}
	ctx := context.Background()

	for _, bc := range []struct {
		name string
		mods []func(*setup)
	}{
		{"client", []func(*setup){wrap}},
		{"breaker", []func(*setup){wrap, func(s *setup) { s.Breaker.Enabled = breakerOn }}},
	} {
		c := newClient(b, "http://127.0.0.1:9", bc.mods...)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Patch(ctx, call); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("bare", func(b *testing.B) {
		rc := &retryablehttp.Client{HTTPClient: &http.Client{Transport: cannedTransport{body}}, RetryMax: 2,
			CheckRetry: func(context.Context, *http.Response, error) (bool, error) { return false, nil },
			Backoff:    func(_, _ time.Duration, _ int, _ *http.Response) time.Duration { return 0 }}
		b.ReportAllocs()
		for b.Loop() {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPatch, "http://127.0.0.1:9/users/42", update)
			if err != nil {
				b.Fatal(err)
			}
			req.GetBody = nil
			req.Header = h
			resp, err := rc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadAll(resp.Body); err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			cancel()
		}
	})
}

// BenchmarkURL is the upstream URL of a call, built: a value that needs
// no escaping, and one that does.
func BenchmarkURL(b *testing.B) {
	c := newClient(b, "http://127.0.0.1:9")
	for _, v := range []string{"USsRhsHYZGBPnQw8CFHjD7Un", "jane doe/x"} {
		call := &Call{Target: canonical.ByID, Value: v}
		b.Run(url.PathEscape(v), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.url(call); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
