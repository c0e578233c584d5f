package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"time"
	"unsafe"

	"github.com/valyala/fasthttp"
	"golang.org/x/net/http/httpguts"
)

// Transports: the connection pool an upstream's attempts go through.
const (
	// TransportFast is fasthttp's HostClient behind an http.RoundTripper: the
	// request is written and the reply read on the calling goroutine, with
	// pooled buffers and no per-connection goroutines. The default.
	TransportFast = "fast"
	// TransportStandard is net/http's Transport.
	TransportStandard = "standard"
)

// fastTransport is an http.RoundTripper over fasthttp's HostClient for the
// one host of an upstream. It keeps what the client above relies on:
//   - no retry of its own: every attempt is go-retryablehttp's, and
//     fasthttp's silent resend of idempotent requests is switched off;
//     the one exception is a request found, before it was written, to be
//     on a pooled connection the upstream has closed (stale.go): it goes
//     on a new connection, as net/http's Transport does;
//   - the path is sent exactly as escaped (%2F stays in its segment);
//   - the call's context deadline bounds dial, write and read; a context
//     cancelled before the attempt stops it from being sent, one cancelled
//     during it does not cut it short (see RoundTrip);
//   - the httptrace GotConn hook fires once a connection is held, so the
//     retry policy tells "never reached" (a dial or TLS failure) from
//     "reached" exactly as it does over net/http;
//   - a reply body over MaxReplyBytes is reported, with its status, through
//     a body that fails with errTooLarge.
type fastTransport struct {
	hc *fasthttp.HostClient
}

// dialError marks a failure to obtain a connection (TCP or TLS): the
// request was not written.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

func newFastTransport(cfg Config, addr string, https bool, d *net.Dialer, tlsConf *tls.Config) *fastTransport {
	if tlsConf != nil && tlsConf.ServerName == "" {
		tlsConf = tlsConf.Clone()
		host, _, _ := net.SplitHostPort(addr)
		tlsConf.ServerName = host
	}
	maxConns := cfg.MaxConnsPerHost
	if maxConns == 0 {
		maxConns = math.MaxInt32 // no cap, as documented
	}
	dial := func(addr string, timeout time.Duration) (net.Conn, error) {
		dctx := context.Background() // d's own Timeout bounds the dial too
		if timeout > 0 {             // what is left of the call's deadline
			var cancel context.CancelFunc
			dctx, cancel = context.WithTimeout(dctx, timeout)
			defer cancel()
		}
		tcp, err := d.DialContext(dctx, "tcp", addr)
		if err != nil {
			return nil, &dialError{err}
		}
		conn := net.Conn(newPooledConn(tcp)) // checked before reuse: stale.go
		if tlsConf == nil {
			return conn, nil
		}
		hctx, hcancel := context.WithTimeout(dctx, cfg.TLSHandshakeTimeout)
		defer hcancel()
		tc := tls.Client(conn, tlsConf)
		if err := tc.HandshakeContext(hctx); err != nil {
			conn.Close()
			return nil, &dialError{err}
		}
		return tc, nil // fasthttp sees a TLS conn and does no handshake of its own
	}
	hc := &fasthttp.HostClient{
		Addr:                     addr,
		IsTLS:                    https,
		DialTimeout:              dial,
		MaxConns:                 maxConns,
		MaxConnWaitTimeout:       math.MaxInt64, // a capped pool waits until the call's deadline
		MaxIdleConnDuration:      cfg.IdleConnTimeout,
		MaxResponseBodySize:      int(min(cfg.MaxReplyBytes, math.MaxInt32)),
		ReadBufferSize:           maxReplyHeaderBytes, // also the cap on reply headers
		DisablePathNormalizing:   true,
		NoDefaultUserAgentHeader: true,
		// Attempts are the retry policy's, but for a request not
		// written because its pooled connection was found closed
		// (stale.go): it goes on a new one, as over net/http.
		MaxIdemponentCallAttempts: 3,
	}
	hc.RetryIfErr = func(_ *fasthttp.Request, _ int, err error) (resetTimeout, retry bool) {
		if !stale(err) {
			return false, false
		}
		// What closed one idle connection (the upstream's idle timeout, a
		// restart) has likely closed the others in the pool: drop them,
		// at the cost of a new connection at most.
		hc.CloseIdleConnections()
		return false, true
	}
	return &fastTransport{hc: hc}
}

// RoundTrip sends r and returns the whole reply, its body in memory.
func (t *fastTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx := r.Context()
	if r.Body != nil {
		defer r.Body.Close() // whatever happens, as a RoundTripper must
	}
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	if err := t.build(req, r); err != nil {
		release(req, resp)
		return nil, err
	}
	resp.Header.SetNoDefaultContentType(true)

	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(DefaultTimeout)
	}
	if err := ctx.Err(); err != nil {
		release(req, resp)
		return nil, err // not sent
	}
	// On the calling goroutine: fasthttp cannot abandon a call, and handing
	// it to another goroutine to watch ctx costs ~3% of the proxy's CPU. A
	// caller that goes away mid-call leaves this attempt to end with the
	// upstream's answer or the deadline; the client then makes no other.
	err := t.hc.DoDeadline(req, resp, deadline)

	// Reached unless no connection was had. A timeout is counted as reached
	// even when it was spent waiting for a free connection under maxConns
	// (fasthttp does not say which): the deadline is gone, so nothing is
	// retried either way, and the caller is only told the update may have
	// been applied.
	reached := err == nil || !noConnection(err)
	if reached {
		if trace := httptrace.ContextClientTrace(ctx); trace != nil && trace.GotConn != nil {
			trace.GotConn(httptrace.GotConnInfo{})
		}
	}
	if errors.Is(err, fasthttp.ErrTimeout) {
		err = context.DeadlineExceeded
		if cerr := ctx.Err(); cerr != nil {
			err = cerr
		}
	}
	switch {
	case err != nil && resp.Header.ContentLength() != 0:
		// The status and headers came, the body did not (over the limit,
		// cut short, too slow): a failed header read leaves none, and a
		// body that can fail has a length or is chunked. The caller sees
		// the reply, then the error when it reads the body, as over
		// net/http.
		if errors.Is(err, fasthttp.ErrBodyTooLarge) {
			err = errTooLarge
		}
		out := t.response(r, resp)
		out.body.err = err
		out.resp.ContentLength = -1
		release(req, resp)
		return &out.resp, nil
	case err != nil:
		release(req, resp)
		return nil, err
	}
	out := t.response(r, resp)
	out.body.rest, out.body.req, out.body.resp = resp.Body(), req, resp
	out.resp.ContentLength = int64(len(out.body.rest))
	return &out.resp, nil
}

func release(req *fasthttp.Request, resp *fasthttp.Response) {
	fasthttp.ReleaseRequest(req)
	fasthttp.ReleaseResponse(resp)
}

// build fills req from r, reading r.Body.
func (t *fastTransport) build(req *fasthttp.Request, r *http.Request) error {
	req.Header.SetMethod(r.Method)
	// The request line from the path as escaped (RawPath, when set, is
	// Path's escaped form as written: url.Parse and Client.url keep them
	// so) and the Host header; fasthttp parses no URL.
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.EscapedPath()
	}
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		path += "?" + r.URL.RawQuery
	}
	req.Header.SetRequestURI(path)
	// Names as the header map holds them, as net/http writes them: no
	// second canonicalization.
	req.Header.DisableNormalizing()
	for k, vs := range r.Header {
		// fasthttp would turn a CR or LF into a space; refuse, as net/http
		// does, rather than send a header nobody wrote.
		if !httpguts.ValidHeaderFieldName(k) {
			return &dialError{fmt.Errorf("upstream: invalid header field name %q", k)}
		}
		// A Cookie header fasthttp would parse and write back rebuilt
		// (quotes dropped, a cookie without a name given one): added as a
		// plain header, it is sent as written, like every other.
		cookie := k == fasthttp.HeaderCookie
		if cookie {
			req.Header.DisableSpecialHeader()
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return &dialError{fmt.Errorf("upstream: invalid header field value for %q", k)}
			}
			req.Header.Add(k, v)
		}
		if cookie {
			req.Header.EnableSpecialHeader()
		}
	}
	host := r.Host // as net/http: the Host header field is not read
	if host == "" {
		host = r.URL.Host
	}
	req.Header.SetHost(host)
	if t.hc.IsTLS {
		req.URI().SetScheme("https")
	}
	req.URI().DisablePathNormalizing = true
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	if _, err := io.Copy(req.BodyWriter(), r.Body); err != nil {
		return &dialError{err} // not sent: the request could not be read
	}
	return nil
}

// fastReply is an *http.Response, its body and, when they are few and
// short, its header values, in one allocation. It is never reused: the
// strings viewing vals and text stay put.
type fastReply struct {
	resp http.Response
	body fastBody
	vals [6]string
	text [192]byte
}

// noConnection reports whether a call failed before it had a connection.
// (Its own function: the target errors.As fills escapes, and would be
// allocated on every call, failed or not.)
func noConnection(err error) bool {
	var de *dialError
	return errors.As(err, &de) || errors.Is(err, fasthttp.ErrNoFreeConns) || stale(err)
}

// response turns resp's status and headers into a reply with an empty
// body. The header values are copies in the reply's own allocation (or,
// many or long, in one more); the usual names are not allocated at all.
func (t *fastTransport) response(r *http.Request, resp *fasthttp.Response) *fastReply {
	out := &fastReply{}
	n, size := 0, 0
	for _, v := range resp.Header.All() {
		n++
		size += len(v)
	}
	vals := out.vals[:0]
	if n > len(out.vals) {
		vals = make([]string, 0, n)
	}
	text := out.text[:0]
	if size > len(out.text) {
		text = make([]byte, 0, size)
	}
	h := make(http.Header, n)
	for k, v := range resp.Header.All() {
		// text never grows past its capacity: what it held stays put.
		start := len(text)
		text = append(text, v...)
		vals = append(vals, unsafe.String(unsafe.SliceData(text[start:]), len(v)))
		i := len(vals) - 1
		key := headerName(k)
		if have, ok := h[key]; ok {
			h[key] = append(have, vals[i])
		} else {
			h[key] = vals[i : i+1 : i+1]
		}
	}
	status := resp.StatusCode()
	out.resp = http.Response{
		Status:     statusLine(status),
		StatusCode: status,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Close:      resp.ConnectionClose(),
		Request:    r,
	}
	out.resp.Body = &out.body
	return out
}

func statusLine(status int) string {
	switch status {
	case http.StatusOK:
		return "200 OK"
	case http.StatusNoContent:
		return "204 No Content"
	}
	return strconv.Itoa(status) + " " + http.StatusText(status)
}

// headerName is the canonical form of a reply header's name.
func headerName(k []byte) string {
	switch string(k) { // no allocation
	case "Content-Type":
		return "Content-Type"
	case "Content-Length":
		return "Content-Length"
	case "Date":
		return "Date"
	case "Server":
		return "Server"
	case "Connection":
		return "Connection"
	case "Retry-After":
		return "Retry-After"
	case "Etag":
		return "Etag"
	case "Cache-Control":
		return "Cache-Control"
	}
	return http.CanonicalHeaderKey(string(k))
}

// fastBody reads a reply body held by a pooled fasthttp.Response, which
// Close gives back with its request.
type fastBody struct {
	rest []byte
	err  error // returned once rest is read, instead of io.EOF
	req  *fasthttp.Request
	resp *fasthttp.Response
}

func (b *fastBody) Read(p []byte) (int, error) {
	if len(b.rest) == 0 {
		if b.err != nil {
			return 0, b.err
		}
		return 0, io.EOF
	}
	n := copy(p, b.rest)
	b.rest = b.rest[n:]
	return n, nil
}

func (b *fastBody) Close() error {
	b.rest = nil
	if b.resp != nil {
		release(b.req, b.resp)
		b.req, b.resp = nil, nil
	}
	if b.err == nil {
		b.err = errBodyClosed
	}
	return nil
}

var errBodyClosed = errors.New("upstream: read of a closed reply body")

// CloseIdleConnections closes the idle keep-alive connections.
func (t *fastTransport) CloseIdleConnections() { t.hc.CloseIdleConnections() }
