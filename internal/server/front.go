package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// maxHeaderBytes bounds a request's header block: a larger one is answered
// 431 before any handler runs. (net/http reads up to 4 KiB past it before
// it refuses.)
const maxHeaderBytes = 64 << 10

// A dialect listener is served by net/http's server with four additions,
// all in this file (the admin listener has none of them):
//
//   - framing (RFC 9112 §6.1): a request whose body is chunked, or that
//     said both Transfer-Encoding and Content-Length (net/http then reads
//     the body as chunked and drops Content-Length), or any HTTP/1.0
//     request (net/http drops an HTTP/1.0 Transfer-Encoding before a
//     handler could see it), ends its connection after its answer: the
//     answer says Connection: close, and a request that still arrives on
//     that connection is never served (endsConnection).
//   - refusals: what net/http answers by itself, before any handler runs
//     (a malformed request line or header, a header block over
//     maxHeaderBytes, a Transfer-Encoding other than chunked, an HTTP
//     version it does not serve, an Expect it does not know), it writes in
//     plain text straight to the connection. frontConn recognises those
//     writes, as they are the only ones made on a connection while no
//     handler has run for its current request, and answers in the generic
//     envelope instead, with an X-Request-Id and Connection: close; the
//     refusal is logged (without a byte of the request) and counted as
//     route "unreadable".
//   - reason phrases: net/http writes a status it has no text for as
//     "420 status code 420"; the status line of an answer with such a
//     status that userbridge sends (Shift's 420, "Enhance Your Calm") gets
//     its phrase (reasonPhrases).
//   - lingering close: a connection closed after a refusal or after a
//     request that had to end it is closed as net/http closes one whose
//     body was left unread: its sending half first, then, once the client
//     has closed or after lingerFor, the rest, so that the client reads its
//     answer rather than a reset caused by bytes it sent after it.
type front struct {
	log *slog.Logger
	obs Observer
}

// lingerFor is how long a closing connection waits for its client to close
// (net/http waits as long after a body it did not read).
const lingerFor = 500 * time.Millisecond

// serveFront builds net/http's server of dialect listener l, and wraps ln
// in the front (the admin listener is served as it is).
func (s *Server) serveFront(l string, ln net.Listener) (*http.Server, net.Listener) {
	c := &s.cfg.Server
	srv := &http.Server{Handler: s.Handler(l),
		ReadHeaderTimeout: c.ReadHeaderTimeout.D(), ReadTimeout: c.ReadTimeout.D(),
		WriteTimeout: c.WriteTimeout.D(), IdleTimeout: c.IdleTimeout.D(),
		MaxHeaderBytes: maxHeaderBytes, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	if l == s.admin {
		return srv, ln
	}
	return srv, (&front{log: s.log, obs: s.obs}).install(srv, ln)
}

// install puts the front between srv and its handler, and returns ln
// wrapped for srv to serve.
func (f *front) install(srv *http.Server, ln net.Listener) net.Listener {
	srv.Handler = f.handler(srv.Handler)
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if fc, ok := c.(*frontConn); ok {
			return context.WithValue(ctx, frontConnKey{}, fc)
		}
		return ctx
	}
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		// Idle: the answer is written, the next request not yet read.
		if fc, ok := c.(*frontConn); ok && st == http.StateIdle {
			fc.served.Store(false)
		}
	}
	return frontListener{Listener: ln, f: f}
}

// frontConnKey is the request context key of the request's frontConn.
type frontConnKey struct{}

// handler marks each request's connection as served by a handler, and
// applies the framing rule before next runs.
func (f *front) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fc, _ := r.Context().Value(frontConnKey{}).(*frontConn)
		if fc != nil {
			if fc.ended.Load() {
				// A request read after one that had to end the connection
				// (net/http kept reading because the answer lost its
				// Connection: close): never served, the connection dropped;
				// logged and counted like a request the server could not read.
				if f.log.Enabled(r.Context(), slog.LevelWarn) {
					f.log.LogAttrs(r.Context(), slog.LevelWarn, "http server: request refused",
						slog.String("error", "a request after one that ended its connection; the connection is dropped"),
						slog.String("remote", r.RemoteAddr))
				}
				f.obs.Request(noDialect, unreadable, 0, 0)
				panic(http.ErrAbortHandler)
			}
			fc.served.Store(true)
			fc.statusNext.Store(true)
		}
		if endsConnection(r) {
			w.Header().Set("Connection", "close")
			if fc != nil {
				fc.ended.Store(true)
				fc.linger.Store(true)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// endsConnection reports a request after which nothing on its connection
// can be trusted to start the next request: its body was chunked (with or
// without a Content-Length beside it; net/http reads it as chunked and
// keeps no Content-Length), or it is HTTP/1.0, which net/http reads
// without its Transfer-Encoding, if it had one, and by its Content-Length.
func endsConnection(r *http.Request) bool {
	return len(r.TransferEncoding) > 0 || !r.ProtoAtLeast(1, 1)
}

// frontListener hands out frontConns.
type frontListener struct {
	net.Listener
	f *front
}

// Accept implements net.Listener.
func (l frontListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &frontConn{Conn: c, f: l.f}, nil
}

// frontConn is a dialect listener's connection (see front).
type frontConn struct {
	net.Conn
	f *front
	// served: a handler ran for the request being answered; false from
	// the moment the previous answer was written (StateIdle).
	served atomic.Bool
	// ended: a request on it had to end the connection (endsConnection).
	ended atomic.Bool
	// statusNext: the next write, but for a 1xx, begins with the status
	// line of a handler's answer.
	statusNext atomic.Bool
	// linger: close it as Close says.
	linger atomic.Bool
	// first is what the connection's first byte was: firstUnread until a
	// byte is read, then firstTLS for a TLS handshake record's (a client
	// speaking https to this plain-HTTP listener), else firstOther.
	first atomic.Uint32
}

// The values of frontConn.first.
const (
	firstUnread uint32 = iota
	firstOther
	firstTLS
)

// tlsHandshake is the first byte of a TLS connection: the content type of
// a handshake record (RFC 8446 §5.1), which no HTTP request line begins with.
const tlsHandshake = 0x16

// Read notes whether the connection began with a TLS handshake, so that
// its refusal says so instead of "malformed request".
func (c *frontConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 && c.first.Load() == firstUnread {
		v := firstOther
		if b[0] == tlsHandshake {
			v = firstTLS
		}
		c.first.CompareAndSwap(firstUnread, v)
	}
	return n, err
}

// Write passes the server's writes on, but for net/http's own refusal of a
// request it could not read, which it answers in the generic envelope.
func (c *frontConn) Write(b []byte) (int, error) {
	if !c.served.Load() {
		if status, ok := refusalStatus(b); ok {
			return c.refuse(status, len(b))
		}
	}
	if c.statusNext.Load() && !isInformational(b) {
		c.statusNext.Store(false)
		if rest, phrase, ok := unnamedStatus(b); ok {
			return c.writeStatusLine(b, rest, phrase)
		}
	}
	return c.Conn.Write(b)
}

// reasonPhrases are the phrases of the statuses userbridge answers that
// net/http has no text for.
var reasonPhrases = map[int]string{420: "Enhance Your Calm"}

// isInformational reports a write that begins with a 1xx status line
// (100 Continue, written before the answer itself).
func isInformational(b []byte) bool {
	return len(b) > 9 && (string(b[:9]) == "HTTP/1.1 " || string(b[:9]) == "HTTP/1.0 ") && b[9] == '1'
}

// unnamedStatus reads the status line net/http writes for a status it has
// no text for ("HTTP/1.1 420 status code 420\r\n") at the start of b,
// when reasonPhrases names the status: rest is what follows the line.
func unnamedStatus(b []byte) (rest []byte, phrase string, ok bool) {
	const version = len("HTTP/1.1 ")
	if len(b) < version+3 {
		return nil, "", false
	}
	status, err := strconv.Atoi(string(b[version : version+3]))
	if err != nil {
		return nil, "", false
	}
	phrase, ok = reasonPhrases[status]
	if !ok {
		return nil, "", false
	}
	code := strconv.Itoa(status)
	line := code + " status code " + code + "\r\n"
	if !bytes.HasPrefix(b[version:], []byte(line)) {
		return nil, "", false
	}
	return b[version+len(line):], phrase, true
}

// writeStatusLine writes b with its status line's phrase replaced.
func (c *frontConn) writeStatusLine(b, rest []byte, phrase string) (int, error) {
	out := make([]byte, 0, len(b)+len(phrase))
	out = append(out, b[:len("HTTP/1.1 420 ")]...)
	out = append(out, phrase...)
	out = append(out, "\r\n"...)
	out = append(out, rest...)
	if _, err := c.Conn.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

// CloseWrite closes the sending half, as net/http does before it waits for
// a client it did not read whole.
func (c *frontConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Close closes the connection; after a refusal or a request that had to
// end it, its sending half first, then the rest once the client has closed
// its side or lingerFor has passed, dropping what the client still sends.
//
// The wait is not the caller's: net/http's Server.Close closes every
// connection in turn under its lock, and lingering there would add
// lingerFor per connection to a shutdown. The sending half is closed at
// once (the client reads its answer, then EOF); the rest is drained and
// closed in the background, lingerFor at most.
func (c *frontConn) Close() error {
	if c.linger.Swap(false) {
		if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			_ = c.Conn.SetReadDeadline(time.Now().Add(lingerFor))
			go func() {
				_, _ = io.Copy(io.Discard, io.LimitReader(c.Conn, 16<<20))
				_ = c.Conn.Close()
			}()
			return nil
		}
	}
	return c.Conn.Close()
}

// refusalStatus reads the status of a write made while no handler had run
// for the connection's current request: such a write is net/http's own
// answer to a request it would not serve (see front), one whole reply in
// one write. ok is false for anything else, which is passed on unchanged.
func refusalStatus(b []byte) (int, bool) {
	const prefix = "HTTP/1.1 "
	if len(b) < len(prefix)+4 || string(b[:len(prefix)]) != prefix || b[len(prefix)+3] != ' ' {
		return 0, false
	}
	status, err := strconv.Atoi(string(b[len(prefix) : len(prefix)+3]))
	if err != nil || status < 400 || status > 599 || !bytes.Contains(b, []byte("\r\n\r\n")) {
		return 0, false
	}
	return status, true
}

// refusal is what the envelope and the log say of a refused request, by
// the status net/http chose: userbridge's words, never net/http's text
// (which may change, and is not a protocol).
type refusal struct{ code, what string }

func refusalOf(status int) refusal {
	switch status {
	case http.StatusBadRequest:
		return refusal{"bad_request", "malformed request: the request line or a header could not be parsed"}
	case http.StatusRequestHeaderFieldsTooLarge:
		return refusal{"request_header_fields_too_large", "request header block larger than the server reads (" +
			strconv.Itoa(maxHeaderBytes>>10) + " KiB)"}
	case http.StatusNotImplemented:
		return refusal{"not_implemented", "malformed request: unsupported Transfer-Encoding; send the body with Content-Length or chunked"}
	case http.StatusHTTPVersionNotSupported:
		return refusal{"http_version_not_supported", "unsupported HTTP version; send HTTP/1.1"}
	case http.StatusExpectationFailed:
		return refusal{"expectation_failed", "unsupported Expect header; only 100-continue is understood"}
	}
	return refusal{"bad_request", "request refused by the HTTP server"}
}

// refuse answers, in place of net/http's refusal of n bytes, the generic
// envelope with a new request id, logs and counts the refusal, and has the
// connection linger when it closes (unread bytes may follow).
func (c *frontConn) refuse(status, n int) (int, error) {
	f := refusalOf(status)
	if status == http.StatusBadRequest && c.first.Load() == firstTLS {
		f.what = "a TLS handshake on a plain-HTTP listener: userbridge's listeners speak HTTP without TLS; " +
			"terminate TLS in front of it, or call it with http://"
	}
	id := uuid.NewString()
	c.linger.Store(true)
	if c.f.log.Enabled(context.Background(), slog.LevelWarn) {
		c.f.log.LogAttrs(context.Background(), slog.LevelWarn, "http server: request refused",
			slog.String("request_id", id), slog.Int("status", status), slog.String("error", f.what),
			slog.String("remote", c.RemoteAddr().String()))
	}
	// No latency: net/http does not say when the request began.
	c.f.obs.Request(noDialect, unreadable, status, 0)
	body := canonicalEnvelope(f.code, f.what)
	reply := "HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) +
		"\r\nContent-Type: application/json\r\n" + HeaderRequestID + ": " + id +
		"\r\nConnection: close\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	if _, err := io.WriteString(c.Conn, reply); err != nil {
		return 0, err
	}
	return n, nil
}
