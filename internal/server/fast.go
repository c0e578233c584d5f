package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/userbridge/userbridge/internal/telemetry"
	"github.com/valyala/fasthttp"
)

// maxHeaderBytes bounds a request's header block on either server: a
// larger one is answered 431 before any handler runs.
const maxHeaderBytes = 64 << 10

// listenServer is what serves one listener: net/http's server
// (server.transport standard) or fastServer (fast).
type listenServer interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
}

// fastServer serves a listener with fasthttp's HTTP/1.1 server and hands
// every request to the same gin engine, as an http.Request (convert: as
// fasthttp's adaptor converts it, its strings copied out of fasthttp's
// buffers) and a ResponseWriter of its own (fastResponse), on the
// connection's goroutine. On the bench it costs about
// a fifth less CPU a request than net/http's server: no goroutine and read
// per request to watch for a client going away, buffers and request objects
// pooled, the Date header formatted once a second (docs/configuration.md,
// server.transport).
//
// What differs from net/http's server, and how it is kept the same for a
// client:
//   - the body is read here, before the gin engine runs, bounded by
//     server.maxBodyBytes (fasthttp streams every body to this code rather
//     than buffering it whole). A body over the limit, or one that could not
//     be read (a read timeout, a broken chunked encoding), is still answered
//     by the dialect's handler in the dialect's error envelope: the error is
//     handed to it (bodyError). The connection is then closed the way
//     net/http closes it, half first (lingerConn), so that a client still
//     sending gets its answer rather than a reset.
//   - the request's context is never cancelled: a drain lets in-flight
//     requests finish (each upstream call has its own deadline), and a
//     client that disconnects mid-request does not cancel its upstream call
//     (as with upstream.transport fast).
//   - a handler's panic is logged and answered 500, the connection closed.
type fastServer struct {
	srv     *fasthttp.Server
	h       http.Handler  // the gin engine
	maxBody *atomic.Int64 // server.maxBodyBytes, as a reload sets it
	log     *slog.Logger

	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
	closed bool
}

// bodyErrKey is the request context key under which fastServer hands the
// handler the error that reading the body ended with.
type bodyErrKey struct{}

// bodyError returns the error reading r's body ended with before the
// handler ran (fast server only), or nil.
func bodyError(r *http.Request) error {
	err, _ := r.Context().Value(bodyErrKey{}).(error)
	return err
}

// isBodyTooLarge reports whether a bodyError is the body limit.
func isBodyTooLarge(err error) bool { return errors.Is(err, fasthttp.ErrBodyTooLarge) }

// bodyTooLarge is the body limit a request was read under: a reload may
// change server.maxBodyBytes while the body is read, and the answer names
// the limit that refused it.
type bodyTooLarge struct{ limit int64 }

func (e *bodyTooLarge) Error() string { return fasthttp.ErrBodyTooLarge.Error() }
func (e *bodyTooLarge) Unwrap() error { return fasthttp.ErrBodyTooLarge }

// limitOf is the limit err was refused under, def when it does not say.
func limitOf(err error, def int64) int64 {
	var e *bodyTooLarge
	if errors.As(err, &e) {
		return e.limit
	}
	return def
}

func newFastServer(h http.Handler, t timeouts, maxBody *atomic.Int64, log *slog.Logger, obs Observer) *fastServer {
	s := &fastServer{conns: map[net.Conn]struct{}{}, maxBody: maxBody, h: h, log: log}
	s.srv = &fasthttp.Server{
		Handler: s.handle,
		// A request fasthttp could not read up to its body (a malformed
		// request line or header, a header block over maxHeaderBytes, a
		// client too slow): answered in the envelope of an unknown route
		// with a request id, the connection closed, and logged (refused)
		// with that id and without a byte of the request.
		ErrorHandler: func(ctx *fasthttp.RequestCtx, err error) {
			f := requestFaultOf(err)
			id := newID()
			s.refused(ctx, f, id)
			writeFastCanonical(ctx, f.status, f.code, f.what, id)
			// Unread bytes may follow (the rest of a header block too
			// large): the close is a half one first, so that the client
			// reads the answer rather than a reset.
			if lc, ok := ctx.Conn().(*lingerConn); ok {
				lc.linger.Store(true)
			}
			// ctx.Time() is unset for a request that was never read whole:
			// no latency to record but the refusal's own.
			var took time.Duration
			if t := ctx.Time(); !t.IsZero() {
				took = time.Since(t)
			}
			obs.Request(noDialect, unreadable, f.status, took)
		},
		// The header block is read within readHeader; once it is in, the
		// body within read.
		ReadTimeout: t.readHeader,
		HeaderReceived: func(*fasthttp.RequestHeader) fasthttp.RequestConfig {
			return fasthttp.RequestConfig{ReadTimeout: t.read}
		},
		WriteTimeout:   t.write,
		IdleTimeout:    t.idle,
		ReadBufferSize: maxHeaderBytes,
		// Every body is handed to handle as a stream (whatever fasthttp
		// had read of it ahead of a byte), which reads it within the limit.
		StreamRequestBody:  true,
		MaxRequestBodySize: 1,
		// The write buffer and body buffers go back to their pools between
		// requests. (The read buffer stays: with a streamed body fasthttp
		// keeps it. Measured with 3000 idle keep-alive connections: 81 KB of
		// heap and 27 KB resident each, against 86 and 33 with this off; the
		// CPU it costs, a few pool operations a request, was below what the
		// bench can tell apart.)
		ReduceMemoryUsage:            true,
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		DisablePreParseMultipartForm: true,
		Logger:                       fastLogger{log},
		ConnState: func(c net.Conn, st fasthttp.ConnState) {
			s.mu.Lock()
			defer s.mu.Unlock()
			switch st {
			case fasthttp.StateNew:
				if s.closed {
					_ = c.Close()
					return
				}
				s.conns[c] = struct{}{}
			case fasthttp.StateClosed, fasthttp.StateHijacked:
				delete(s.conns, c)
			}
		},
	}
	return s
}

// handle reads the body within the limit, then serves the request on this
// goroutine: the http.Request is convert's (fasthttp's adaptor's conversion,
// with strings of its own), the ResponseWriter fastResponse. (The adaptor's
// own handler runs each request on a goroutine of its own, whose stack then
// grows anew for every request: a tenth of the CPU on the bench.) A body
// that could not be read is handed to the handler as an error, and the
// connection closed after the answer.
func (s *fastServer) handle(ctx *fasthttp.RequestCtx) {
	var body []byte
	var bodyErr error
	if st := ctx.RequestBodyStream(); st != nil {
		bp := bodyBufs.Get().(*[]byte)
		defer func() {
			if cap(*bp) <= 64<<10 {
				bodyBufs.Put(bp)
			}
		}()
		if body, bodyErr = s.readBody(ctx, st, bp); bodyErr != nil {
			body = nil
			ctx.SetConnectionClose()
			if lc, ok := ctx.Conn().(*lingerConn); ok {
				lc.linger.Store(true)
			}
		}
	} else {
		body = ctx.Request.Body()
	}
	x := exchanges.Get().(*fastExchange)
	defer x.release()
	r := &x.req
	if err := x.convert(ctx, body); err != nil {
		f := requestFaultOf(err)
		id := newID()
		s.refused(ctx, f, id)
		writeFastCanonical(ctx, f.status, f.code, f.what, id)
		return
	}
	if bodyErr != nil {
		r = r.WithContext(context.WithValue(context.Background(), bodyErrKey{}, bodyErr))
	}
	w := &x.resp
	w.ctx = ctx
	defer func() {
		// As net/http's server: a handler's panic is logged and its
		// connection closed; the server goes on.
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				s.log.Error("http server: panic serving a request", "panic", fmt.Sprint(v), "method", r.Method)
			}
			ctx.Response.Reset()
			ctx.SetStatusCode(fasthttp.StatusInternalServerError)
			ctx.SetConnectionClose()
		}
	}()
	s.h.ServeHTTP(w, r)
	w.finish()
}

// fastExchange is one request's http.Request and ResponseWriter, pooled
// with their header maps, the request's URL and its body reader.
type fastExchange struct {
	req  http.Request
	resp fastResponse
	url  url.URL
	body bytes.Reader
}

var exchanges = sync.Pool{New: func() any {
	return &fastExchange{req: http.Request{Header: http.Header{}}, resp: fastResponse{header: http.Header{}}}
}}

func (x *fastExchange) release() {
	h, rh := x.req.Header, x.resp.header
	clear(h)
	clear(rh)
	x.req = http.Request{Header: h}
	x.resp = fastResponse{header: rh}
	x.url = url.URL{}
	x.body.Reset(nil)
	exchanges.Put(x)
}

// fastResponse is the http.ResponseWriter of a request served by
// fastServer: the status and header are kept until the handler returns,
// then set on fasthttp's response with the body written to it.
type fastResponse struct {
	ctx         *fasthttp.RequestCtx
	header      http.Header
	status      int
	wroteHeader bool
	wroteBody   bool
}

func (w *fastResponse) Header() http.Header { return w.header }

func (w *fastResponse) WriteHeader(code int) {
	if w.wroteHeader || code < 200 { // informational answers are not sent
		return
	}
	w.status, w.wroteHeader = code, true
}

func (w *fastResponse) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.wroteBody = true
	w.ctx.Response.AppendBody(b)
	return len(b), nil
}

// finish sets the status and the header: as net/http would, with a
// Content-Type sniffed from the body when the handler set none.
func (w *fastResponse) finish() {
	if !w.wroteHeader {
		w.status = http.StatusOK
	}
	resp := &w.ctx.Response
	resp.SetStatusCode(w.status)
	if w.status == 420 {
		// Shift's rate limit; fasthttp would say "Unknown Status Code".
		resp.Header.SetStatusMessage([]byte("Enhance Your Calm"))
	}
	for k, vs := range w.header {
		for _, v := range vs {
			resp.Header.Add(k, v)
		}
	}
	if _, ok := w.header["Content-Type"]; !ok && w.wroteBody {
		body := resp.Body()
		resp.Header.SetContentType(http.DetectContentType(body[:min(len(body), 512)]))
	}
}

// bodyBufs are the buffers bodies are read into.
var bodyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// readBody reads the body from st into *bp, within the limit.
func (s *fastServer) readBody(ctx *fasthttp.RequestCtx, st io.Reader, bp *[]byte) ([]byte, error) {
	limit := s.maxBody.Load()
	if int64(ctx.Request.Header.ContentLength()) > limit {
		return nil, &bodyTooLarge{limit}
	}
	b, err := readAtMost(st, (*bp)[:0], limit)
	*bp = b
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, &bodyTooLarge{limit}
	}
	// fasthttp's stream ends a Content-Length body with io.EOF when the
	// client closes its side early: a body shorter than declared is cut
	// short, never an update to forward.
	if cl := ctx.Request.Header.ContentLength(); cl >= 0 && len(b) != cl {
		return nil, io.ErrUnexpectedEOF
	}
	return b, nil
}

// lingerListener hands out lingerConns.
type lingerListener struct{ net.Listener }

func (l lingerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &lingerConn{Conn: c, remote: c.RemoteAddr().String()}, nil
}

// lingerConn is a connection that, once a request's body was left unread,
// closes as net/http closes one: its sending half first, then, after what
// the client still sends has been read and dropped (for half a second at
// most), the rest. Closed at once with unread data, a connection is reset
// by the kernel, and the client may lose the answer it was sent.
type lingerConn struct {
	net.Conn
	linger atomic.Bool
	remote string // RemoteAddr, formatted once
}

func (c *lingerConn) Close() error {
	if c.linger.Load() {
		if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			_ = c.Conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			_, _ = io.Copy(io.Discard, io.LimitReader(c.Conn, 16<<20))
		}
	}
	return c.Conn.Close()
}

// timeouts are the front end's, from the config.
type timeouts struct{ readHeader, read, write, idle time.Duration }

func (s *fastServer) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return http.ErrServerClosed
	}
	s.ln = ln
	s.mu.Unlock()
	err := s.srv.Serve(lingerListener{ln})
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return http.ErrServerClosed
	}
	return err
}

// Shutdown stops accepting, waits for the requests in flight until ctx
// ends, then closes every connection left.
func (s *fastServer) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	if s.ln != nil {
		// fasthttp closes the listeners it knows; this one it may not know
		// yet, when Serve has only just been called.
		_ = s.ln.Close()
	}
	s.mu.Unlock()
	err := s.srv.ShutdownWithContext(ctx)
	if errors.Is(err, net.ErrClosed) { // the listener, closed above
		err = nil
	}
	if err != nil {
		_ = s.Close()
	}
	return err
}

// Close closes the listener and every connection at once.
func (s *fastServer) Close() error {
	s.mu.Lock()
	s.closed = true
	if s.ln != nil {
		_ = s.ln.Close()
	}
	conns := s.conns
	s.conns = map[net.Conn]struct{}{}
	s.mu.Unlock()
	for c := range conns {
		_ = c.Close()
	}
	// Closes the listener; with the context already done it does not wait.
	done, cancel := context.WithCancel(context.Background())
	cancel()
	_ = s.srv.ShutdownWithContext(done)
	return nil
}

// requestFault is what an error fasthttp met reading a request comes to:
// the status answered, and what went wrong in words of userbridge's own.
// Never the error's text: fasthttp quotes the request in it (its whole
// header block, request line and start of body, "buffer size=…, contents:
// …"; or the offending header's value, which may be a credential), and
// README and docs/security.md promise that no credential, cookie, password
// or body is ever logged.
type requestFault struct {
	status int
	code   string // the envelope's code
	what   string // for the log and the client
	level  slog.Level
}

// requestFaultOf classifies err by fasthttp's sentinel errors and types
// alone. Most of fasthttp's parse errors have no sentinel (an invalid
// header value or name, a bad request URI): those are "malformed request".
func requestFaultOf(err error) requestFault {
	var small *fasthttp.ErrSmallBuffer
	var ne net.Error
	malformed := func(what string) requestFault {
		return requestFault{http.StatusBadRequest, "bad_request", what, slog.LevelWarn}
	}
	switch {
	case errors.As(err, &small):
		return requestFault{http.StatusRequestHeaderFieldsTooLarge, "request_header_fields_too_large",
			"request header block larger than " + itoa(maxHeaderBytes) + " bytes", slog.LevelWarn}
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return requestFault{http.StatusRequestEntityTooLarge, "payload_too_large", "request body too large", slog.LevelWarn}
	case errors.As(err, &ne) && ne.Timeout():
		// A slow or silent client: net/http logs none of these either.
		return requestFault{http.StatusRequestTimeout, "request_timeout", "request not received in time", slog.LevelDebug}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		f := malformed("connection closed mid-request")
		f.level = slog.LevelDebug
		return f
	case errors.Is(err, fasthttp.ErrDuplicateContentLength):
		return malformed("malformed request: duplicate Content-Length")
	case errors.Is(err, fasthttp.ErrNonNumericChars):
		return malformed("malformed request: invalid Content-Length")
	case errors.Is(err, fasthttp.ErrUnsupportedTransferEncoding):
		return malformed("malformed request: unsupported Transfer-Encoding")
	case errors.Is(err, fasthttp.ErrBadTrailer):
		return malformed("malformed request: forbidden trailer")
	case errors.Is(err, fasthttp.ErrMissingRequestMethod), errors.Is(err, fasthttp.ErrUnsupportedRequestMethod),
		errors.Is(err, fasthttp.ErrExtraWhitespaceInRequestLine), errors.Is(err, fasthttp.ErrEmptyRequestURI):
		return malformed("malformed request line")
	}
	return malformed("malformed request: a header or the request line could not be parsed")
}

// refused logs a request fasthttp could not read: the request id it was
// answered with, what went wrong and the client's address, nothing the
// client sent.
func (s *fastServer) refused(ctx *fasthttp.RequestCtx, f requestFault, id string) {
	if !s.log.Enabled(context.Background(), f.level) {
		return
	}
	s.log.Log(context.Background(), f.level, "http server: request refused", "request_id", id,
		"status", f.status, "error", f.what, "remote", ctx.RemoteAddr().String())
}

// writeFastCanonical answers on fasthttp's response what writeCanonical
// answers on gin's, and closes the connection: what follows a request that
// could not be read cannot be trusted to start the next one.
func writeFastCanonical(ctx *fasthttp.RequestCtx, status int, code, msg, id string) {
	ctx.Response.Reset()
	ctx.SetStatusCode(status)
	ctx.Response.Header.Set(HeaderRequestID, id)
	ctx.Response.Header.SetContentType("application/json")
	ctx.Response.SetBodyString(canonicalEnvelope(code, msg))
	ctx.SetConnectionClose()
}

// fastLogger sends fasthttp's own messages to the log, as net/http's
// ErrorLog does: at warn level, except the per-connection "error when
// serving connection" (a client that went away, or a request refused and
// already logged by refused), at debug level. fasthttp's format strings
// are its own constants; their arguments are not logged as fasthttp
// formats them, since a request's bytes may be in any of them (an error's
// text, a request's String()): an address is kept, a number too, an error
// becomes its telemetry.ErrorKind, anything else is withheld.
type fastLogger struct{ log *slog.Logger }

// fastConnError is fasthttp's format for an error serving one connection
// (its workerpool.go).
const fastConnError = "error when serving connection %q<->%q: %v"

func (l fastLogger) Printf(format string, args ...any) {
	level := slog.LevelWarn
	if format == fastConnError {
		level = slog.LevelDebug
	}
	ctx := context.Background()
	if !l.log.Enabled(ctx, level) {
		return
	}
	safe := make([]any, len(args))
	for i, a := range args {
		safe[i] = safeLogArg(a)
	}
	l.log.Log(ctx, level, "http server", "message", fmt.Sprintf(format, safe...))
}

// safeLogArg is what of a fasthttp message's argument may be logged.
func safeLogArg(a any) any {
	switch v := a.(type) {
	case net.Addr:
		return v.String()
	case error:
		return telemetry.ErrorKind(v)
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64, bool, time.Duration:
		return v
	}
	return "[withheld]"
}
