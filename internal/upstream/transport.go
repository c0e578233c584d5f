package upstream

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

const maxReplyHeaderBytes = 64 << 10

// newTransport builds the connection pool of one upstream: HTTP/1.1 only
// (keep-alive, no HTTP/2 multiplexing), no proxy from the environment, no
// transparent gzip (the reply is read as sent and its size checked as sent).
// No per-phase timeout beyond dial and TLS: the call's context deadline
// bounds the rest.
func newTransport(cfg Config, d *net.Dialer, tlsConf *tls.Config) *http.Transport {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	return &http.Transport{
		DialContext:            d.DialContext,
		TLSClientConfig:        tlsConf,
		TLSHandshakeTimeout:    cfg.TLSHandshakeTimeout,
		DisableCompression:     true,
		MaxIdleConns:           cfg.MaxIdleConnsPerHost, // one host
		MaxIdleConnsPerHost:    cfg.MaxIdleConnsPerHost,
		MaxConnsPerHost:        cfg.MaxConnsPerHost,
		IdleConnTimeout:        cfg.IdleConnTimeout,
		MaxResponseHeaderBytes: maxReplyHeaderBytes,
		Protocols:              &protocols,
	}
}

// loadTLS builds the TLS configuration of an https upstream; nil for http,
// where setting any TLS field is a mistake.
func loadTLS(t TLSConfig, https bool, bad func(field, format string, args ...any)) *tls.Config {
	if !https {
		if t != (TLSConfig{}) {
			bad("TLS", "set, but URL is not https")
		}
		return nil
	}
	conf := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // operator's explicit choice, documented as tests only
		ClientSessionCache: tls.NewLRUClientSessionCache(0),
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		switch {
		case err != nil:
			bad("TLS.CAFile", "%v", err)
		default:
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				bad("TLS.CAFile", "%s holds no PEM certificate", t.CAFile)
			}
			conf.RootCAs = pool
		}
	}
	switch {
	case (t.CertFile == "") != (t.KeyFile == ""):
		bad("TLS.CertFile", "CertFile and KeyFile go together")
	case t.CertFile != "":
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			bad("TLS.CertFile", "%v", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf
}

// roundTripper hides the transport's CloseIdleConnections from
// go-retryablehttp, which calls it whenever a call gives up and would so
// empty the whole keep-alive pool on every failed update. Client.Close
// still closes idle connections.
//
// With upstream.maxConns it also holds the cap: slots has one place per
// connection, taken before a request is handed to the transport and given
// back when its reply's body is closed (or the attempt failed). The
// transports' own caps (the same number) then never make a request wait,
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

// pool is what Client keeps of its transport.
type pool interface {
	http.RoundTripper
	CloseIdleConnections()
}

var _ http.RoundTripper = roundTripper{}
