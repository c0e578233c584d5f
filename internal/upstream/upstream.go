// Package upstream is userbridge's client for the `canonical` upstream
// profile: it sends one canonical update (or a GET) to the identity backend,
// retries only when that cannot apply an update twice, and reports every
// outcome as a *canonical.Error. Its Do lends the same transport, retry
// policy and breaker to the other profiles (internal/upstream/scim and
// internal/upstream/rest).
package upstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/userbridge/userbridge/mapping/canonical"
)

// Config configures the client of one upstream. A zero field takes the
// default its comment names.
type Config struct {
	// URL is the upstream's base URL, http or https, for instance
	// "https://idp.internal:8443/api". The path templates are appended to its
	// path. It carries no query, fragment or user:password: credentials
	// travel in the headers the caller builds.
	URL string
	// ByIDPath is the path template of a user named by id. Default
	// "/users/{id}". It must use {id} and may use {tenant}.
	ByIDPath string
	// ByUsernamePath is the path template of a user named by username.
	// Default "/users/by-username/{username}". It must use {username} and
	// may use {tenant}.
	ByUsernamePath string

	// Timeout bounds one inbound request's whole exchange with the upstream:
	// every attempt and every wait between attempts. Default 5s. A shorter
	// deadline on the caller's context wins.
	Timeout time.Duration
	// MaxAttempts is the most HTTP attempts one call makes; 1 never retries.
	// Default 3, at most 10.
	MaxAttempts int
	// BackoffMin and BackoffMax bound the wait before a retry: a random
	// duration (full jitter) below BackoffMin·2ⁿ⁻¹, capped at BackoffMax.
	// Defaults 50ms and 1s. On 429 and 503 the upstream's Retry-After is
	// used instead.
	BackoffMin, BackoffMax time.Duration

	// MaxIdleConnsPerHost is the size of the keep-alive pool. Default 256.
	MaxIdleConnsPerHost int
	// MaxConnsPerHost caps the connections open to the upstream; 0 is no cap.
	MaxConnsPerHost int
	// IdleConnTimeout closes a keep-alive connection idle this long. Keep it
	// below the upstream's own keep-alive timeout. Default 30s.
	IdleConnTimeout time.Duration
	// DialTimeout bounds one TCP connect. Default 2s.
	DialTimeout time.Duration
	// TLSHandshakeTimeout bounds one TLS handshake. Default 3s.
	TLSHandshakeTimeout time.Duration
	// MaxReplyBytes caps an upstream reply body; a longer one is a
	// bad_gateway. Default 4 MiB.
	MaxReplyBytes int64

	// TLS configures https upstreams.
	TLS TLSConfig
	// Breaker stops calling an upstream that keeps failing.
	Breaker BreakerConfig

	// Transport is the connection pool: TransportFast (fasthttp's
	// HostClient, the default) or TransportStandard (net/http's Transport).
	Transport string

	// WrapTransport, when set, wraps the transport every attempt goes
	// through (tracing: one client span per attempt, its context injected
	// into the attempt's headers). It may add headers to its own copy of
	// the request and must hand each request to the wrapped transport
	// exactly once: retries are the client's alone.
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

// TLSConfig configures the TLS side of an https upstream. TLS 1.2 is the
// minimum; HTTP/2 is not negotiated.
type TLSConfig struct {
	// CAFile is a PEM bundle of the CAs trusted for the upstream's
	// certificate; it replaces the system roots. Empty: system roots.
	CAFile string
	// CertFile and KeyFile are the PEM client certificate and key shown to
	// an upstream that asks for one. Both or neither.
	CertFile, KeyFile string
	// InsecureSkipVerify accepts any upstream certificate. Tests only.
	InsecureSkipVerify bool
	// ServerName overrides the name checked in the upstream's certificate
	// (and sent as SNI). Empty: the URL's host.
	ServerName string
}

// BreakerConfig configures the circuit breaker in front of the upstream.
// Only upstream failures count: a 5xx reply, an unreachable upstream, a
// timeout. A 4xx reply, a 429 included, is a working upstream.
type BreakerConfig struct {
	// Enabled turns the breaker on.
	Enabled bool
	// Failures is how many calls in a row must fail to open it. Default 5.
	Failures uint32
	// OpenFor is how long it stays open before one trial call is let
	// through (half-open). Default 10s.
	OpenFor time.Duration
}

// Defaults.
const (
	DefaultByIDPath            = "/users/{id}"
	DefaultByUsernamePath      = "/users/by-username/{username}"
	DefaultTimeout             = 5 * time.Second
	DefaultMaxAttempts         = 3
	DefaultBackoffMin          = 50 * time.Millisecond
	DefaultBackoffMax          = time.Second
	DefaultMaxIdleConnsPerHost = 256
	DefaultIdleConnTimeout     = 30 * time.Second
	DefaultDialTimeout         = 2 * time.Second
	DefaultTLSHandshakeTimeout = 3 * time.Second
	DefaultMaxReplyBytes       = 4 << 20
	DefaultBreakerFailures     = 5
	DefaultBreakerOpenFor      = 10 * time.Second

	maxAttemptsLimit = 10
)

// Client calls one upstream. It is safe for concurrent use.
type Client struct {
	base        string      // scheme://host[:port][/path], no trailing slash
	scheme      string      // of base
	host        string      // of base: host[:port]
	basePath    string      // of base: its path as written (escaped), no trailing slash
	baseDecoded string      // basePath decoded
	paths       [3]template // indexed by canonical.Target
	addr        string      // host:port, for Ready
	timeout     time.Duration
	maxAttempts int
	backoffMin  time.Duration
	backoffMax  time.Duration
	maxReply    int64

	dialer    *net.Dialer
	transport pool
	exchanges sync.Pool // of *exchange, hooks bound
	http      *http.Client
	breaker   *gobreaker.CircuitBreaker[*Result] // nil: disabled
	openFor   time.Duration                      // breaker.openFor
	openedAt  atomic.Int64                       // when the breaker last opened, Unix ns
}

// New checks cfg, compiles its path templates, loads its TLS files and
// builds the client. The error lists every problem, each naming its field.
func New(cfg Config) (*Client, error) {
	cfg.setDefaults()
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("upstream: %s: %s", field, fmt.Sprintf(format, args...)))
	}

	c := &Client{
		timeout:     cfg.Timeout,
		maxAttempts: cfg.MaxAttempts,
		backoffMin:  cfg.BackoffMin,
		backoffMax:  cfg.BackoffMax,
		maxReply:    cfg.MaxReplyBytes,
	}
	u := checkURL(cfg.URL, bad)
	https := u != nil && u.Scheme == "https"
	if u != nil {
		c.base = u.Scheme + "://" + u.Host + strings.TrimSuffix(u.EscapedPath(), "/")
		c.scheme, c.host = u.Scheme, strings.TrimSuffix(u.Host, ":")
		c.basePath = strings.TrimSuffix(u.EscapedPath(), "/")
		c.baseDecoded = strings.TrimSuffix(u.Path, "/")
		port := u.Port()
		if port == "" {
			port = "80"
			if https {
				port = "443"
			}
		}
		c.addr = net.JoinHostPort(u.Hostname(), port)
	}
	var err error
	if c.paths[canonical.ByID], err = compileTemplate(cfg.ByIDPath, phID); err != nil {
		bad("ByIDPath", "%v", err)
	}
	if c.paths[canonical.ByUsername], err = compileTemplate(cfg.ByUsernamePath, phUsername); err != nil {
		bad("ByUsernamePath", "%v", err)
	}

	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"Timeout", cfg.Timeout}, {"BackoffMin", cfg.BackoffMin}, {"BackoffMax", cfg.BackoffMax},
		{"IdleConnTimeout", cfg.IdleConnTimeout}, {"DialTimeout", cfg.DialTimeout},
		{"TLSHandshakeTimeout", cfg.TLSHandshakeTimeout}, {"Breaker.OpenFor", cfg.Breaker.OpenFor},
	} {
		if d.v < 0 {
			bad(d.field, "must not be negative")
		}
	}
	if cfg.BackoffMin > cfg.BackoffMax {
		bad("BackoffMin", "%v is above BackoffMax %v", cfg.BackoffMin, cfg.BackoffMax)
	}
	if cfg.MaxAttempts < 0 || cfg.MaxAttempts > maxAttemptsLimit {
		bad("MaxAttempts", "must be between 1 and %d", maxAttemptsLimit)
	}
	if cfg.MaxIdleConnsPerHost < 0 {
		bad("MaxIdleConnsPerHost", "must not be negative")
	}
	if cfg.MaxConnsPerHost < 0 {
		bad("MaxConnsPerHost", "must not be negative")
	}
	if cfg.MaxReplyBytes < 0 {
		bad("MaxReplyBytes", "must not be negative")
	}

	switch cfg.Transport {
	case TransportFast, TransportStandard:
	default:
		bad("Transport", "must be %q or %q", TransportFast, TransportStandard)
	}

	tlsConf := loadTLS(cfg.TLS, https || u == nil, bad)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	c.dialer = &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}
	if cfg.Transport == TransportStandard {
		c.transport = newTransport(cfg, c.dialer, tlsConf)
	} else {
		c.transport = newFastTransport(cfg, c.addr, https, c.dialer, tlsConf)
	}
	var rt http.RoundTripper = roundTripper{t: c.transport}
	if cfg.MaxConnsPerHost > 0 {
		rt = roundTripper{t: c.transport, slots: make(chan struct{}, cfg.MaxConnsPerHost)}
	}
	if cfg.WrapTransport != nil {
		rt = cfg.WrapTransport(rt)
	}
	c.http = &http.Client{
		Transport: rt,
		// A redirect is an unexpected reply, not an invitation to send the
		// update somewhere else.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if cfg.Breaker.Enabled {
		c.breaker = newBreaker(cfg.Breaker, u.Host, &c.openedAt)
		c.openFor = cfg.Breaker.OpenFor
	}
	return c, nil
}

func (cfg *Config) setDefaults() {
	setDefault(&cfg.Transport, TransportFast)
	setDefault(&cfg.ByIDPath, DefaultByIDPath)
	setDefault(&cfg.ByUsernamePath, DefaultByUsernamePath)
	setDefault(&cfg.Timeout, DefaultTimeout)
	setDefault(&cfg.MaxAttempts, DefaultMaxAttempts)
	setDefault(&cfg.BackoffMin, DefaultBackoffMin)
	setDefault(&cfg.BackoffMax, DefaultBackoffMax)
	setDefault(&cfg.MaxIdleConnsPerHost, DefaultMaxIdleConnsPerHost)
	setDefault(&cfg.IdleConnTimeout, DefaultIdleConnTimeout)
	setDefault(&cfg.DialTimeout, DefaultDialTimeout)
	setDefault(&cfg.TLSHandshakeTimeout, DefaultTLSHandshakeTimeout)
	setDefault(&cfg.MaxReplyBytes, DefaultMaxReplyBytes)
	setDefault(&cfg.Breaker.Failures, DefaultBreakerFailures)
	setDefault(&cfg.Breaker.OpenFor, DefaultBreakerOpenFor)
}

func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}

// CheckTLS makes the checks New makes of an upstream's TLS settings (the
// files read and parsed, TLS only for https), so that validate and a
// reload refuse what start-up would. Each problem names its field as
// Config does ("TLS.CAFile").
func CheckTLS(t TLSConfig, https bool) []string {
	var out []string
	loadTLS(t, https, func(field, format string, args ...any) { out = append(out, field+": "+fmt.Sprintf(format, args...)) })
	return out
}

// CheckURL reports what makes raw unusable as an upstream's base URL (the
// checks New makes), in words that never quote it: it may carry a
// credential. nil when it is usable.
func CheckURL(raw string) error {
	var problems []string
	checkURL(raw, func(_, format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) })
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, "; "))
}

// checkURL parses the base URL; nil when it is unusable.
func checkURL(raw string, bad func(field, format string, args ...any)) *url.URL {
	if raw == "" {
		bad("URL", "required")
		return nil
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		// url.Parse's error repeats the URL; say less.
		bad("URL", "not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		bad("URL", "scheme must be http or https")
	case u.Host == "" || u.Hostname() == "":
		bad("URL", "has no host")
	case u.User != nil:
		bad("URL", "must not carry credentials; send them as headers")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		bad("URL", "must not have a query or a fragment")
	default:
		return u
	}
	return nil
}

// Close closes the idle keep-alive connections. Calls still running finish.
func (c *Client) Close() { c.transport.CloseIdleConnections() }

// BreakerState is "closed", "half-open" or "open", or "disabled" when the
// breaker is off.
func (c *Client) BreakerState() string {
	if c.breaker == nil {
		return "disabled"
	}
	return c.breaker.State().String()
}

// Ready reports whether the upstream accepts TCP connections: a dial, no
// HTTP request, so probes leave no trace in the upstream's logs. It does not
// consult the breaker.
func (c *Client) Ready(ctx context.Context) error {
	conn, err := c.dialer.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return fmt.Errorf("upstream: not reachable: %w", err)
	}
	return conn.Close()
}
