package upstream

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
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
type roundTripper struct{ t http.RoundTripper }

func (rt roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return rt.t.RoundTrip(r) }

// pool is what Client keeps of its transport.
type pool interface {
	http.RoundTripper
	CloseIdleConnections()
}

var _ http.RoundTripper = roundTripper{}
