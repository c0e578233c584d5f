package upstream

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/userbridge/userbridge/config"
)

const maxReplyHeaderBytes = 64 << 10

// newTransport builds the connection pool of one upstream: net/http's
// Transport, tuned for a keep-alive pool to one backend. Pool: up to
// maxIdleConns idle connections kept (never more than maxConns, which
// caps the open ones). HTTP/2 where an https upstream offers it (ALPN),
// HTTP/1.1 otherwise: plain http is never upgraded. The proxy is the
// environment's, as net/http reads it (HTTPS_PROXY, HTTP_PROXY, NO_PROXY;
// never for a loopback upstream). No transparent gzip: the reply is read
// as sent and its size checked as sent. No per-phase timeout beyond dial
// and TLS handshake: the call's context deadline bounds the rest.
func newTransport(cfg config.Upstream, https bool, d *net.Dialer, tlsConf *tls.Config) *http.Transport {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(https)
	idle := cfg.MaxIdleConns
	if cfg.MaxConns > 0 {
		idle = min(idle, cfg.MaxConns)
	}
	return &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            d.DialContext,
		TLSClientConfig:        tlsConf,
		TLSHandshakeTimeout:    DefaultTLSHandshakeTimeout,
		DisableCompression:     true,
		MaxIdleConns:           idle, // one host
		MaxIdleConnsPerHost:    idle,
		MaxConnsPerHost:        cfg.MaxConns,
		IdleConnTimeout:        cfg.IdleTimeout.D(),
		MaxResponseHeaderBytes: maxReplyHeaderBytes,
		Protocols:              &protocols,
	}
}

// roundTripper hides the transport's CloseIdleConnections from
// go-retryablehttp, which calls it whenever a call gives up and would so
// empty the whole keep-alive pool on every failed update. Client.Close
// still closes idle connections.
//
// With upstream.maxConns it also holds the cap: slots has one place per
// connection, taken before a request is handed to the transport and given
// back when its reply's body is closed (or the attempt failed). The
// transport's own cap (the same number) then never makes a request wait,
// so a request that waited for a place until its deadline is known never to
// have been sent (errPoolBusy): not an upstream failure, not an attempt.
type roundTripper struct {
	t     http.RoundTripper
	slots chan struct{} // nil: no cap
}

// errPoolBusy: every connection the cap allows stayed busy until the
// request's deadline; the request was not sent.
var errPoolBusy = errors.New("upstream: every connection (upstream.maxConns) stayed busy until the deadline")

func (rt roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	if rt.slots == nil {
		return rt.t.RoundTrip(r)
	}
	select {
	case rt.slots <- struct{}{}:
	default:
		select {
		case rt.slots <- struct{}{}:
		case <-r.Context().Done():
			if r.Body != nil {
				_ = r.Body.Close()
			}
			return nil, errPoolBusy
		}
	}
	// A place had with the deadline gone or about to go (select picks at
	// random between a free place and a done context): too late to send.
	if d, ok := r.Context().Deadline(); r.Context().Err() != nil || ok && time.Until(d) < minAttempt {
		<-rt.slots
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, errPoolBusy
	}
	resp, err := rt.t.RoundTrip(r)
	if err != nil {
		<-rt.slots
		return nil, err
	}
	resp.Body = &slotBody{ReadCloser: resp.Body, slots: rt.slots}
	return resp, nil
}

// slotBody gives its request's place back when closed.
type slotBody struct {
	io.ReadCloser
	slots chan struct{}
	done  bool
}

func (b *slotBody) Close() error {
	err := b.ReadCloser.Close()
	if !b.done {
		b.done = true
		<-b.slots
	}
	return err
}

var _ http.RoundTripper = roundTripper{}
