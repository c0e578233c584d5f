// Package upstream is userbridge's client for the `canonical` upstream
// profile: it sends one canonical update (or a GET) to the identity backend,
// retries only when that cannot apply an update twice, and reports every
// outcome as a *canonical.Error. Its DoFor lends the same transport, retry
// policy and breaker to the other profiles (internal/upstream/scim and
// internal/upstream/rest), each request saying which user it is for, and
// its Breaker guards profile ldap's calls by the same rule.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// Options are what a Client needs besides its configuration
// (config.Upstream). Every field is optional.
type Options struct {
	// URL, when set, replaces the configured URL: the address of the
	// in-process demo backend.
	URL string
	// WrapTransport, when set, wraps the transport every attempt goes
	// through (tracing: one client span per attempt, its context injected
	// into the attempt's headers). It may add headers to its own copy of
	// the request and must hand each request to the wrapped transport
	// exactly once: retries are the client's alone.
	WrapTransport func(http.RoundTripper) http.RoundTripper

	// BackoffMin and BackoffMax bound the wait before a retry: a random
	// duration (full jitter) below BackoffMin·2ⁿ⁻¹, capped at BackoffMax.
	// Defaults 50ms and 1s. On 429 and 503 the upstream's Retry-After is
	// used instead. Tests shorten them.
	BackoffMin, BackoffMax time.Duration
	// MaxReplyBytes caps an upstream reply body; a longer one is a
	// bad_gateway. Default 4 MiB.
	MaxReplyBytes int64
	// Logger, when set, is told each change of the breaker's state
	// (NewBreaker).
	Logger *slog.Logger
}

// Defaults of what the configuration does not set.
const (
	DefaultBackoffMin          = 50 * time.Millisecond
	DefaultBackoffMax          = time.Second
	DefaultDialTimeout         = 2 * time.Second
	DefaultTLSHandshakeTimeout = 3 * time.Second
	DefaultMaxReplyBytes       = 4 << 20
)

// Client calls one upstream. It is safe for concurrent use.
type Client struct {
	base        string // scheme://host[:port][/path], no trailing slash
	scheme      string // of base
	host        string // of base: host[:port]
	basePath    string // of base: its path as written (escaped), no trailing slash
	baseDecoded string // basePath decoded
	// baseSentAsWritten: basePath is not what Go encodes baseDecoded to
	// (defaultEncoded): a URL under it keeps a RawPath.
	baseSentAsWritten bool
	paths             [3]template // indexed by canonical.Target
	addr              string      // host:port, for Ready
	timeout           time.Duration
	maxAttempts       int
	backoffMin        time.Duration
	backoffMax        time.Duration
	maxReply          int64

	dialer    *net.Dialer
	transport *http.Transport
	exchanges sync.Pool // of *exchange, hooks bound
	http      *http.Client
	breaker   *Breaker // nil: disabled
}

// New builds the client of the upstream cfg configures, its unset keys at
// their defaults (config.Upstream.WithDefaults). It checks cfg as Resolve
// does and takes the base URL and TLS configuration that built
// (config.Upstream.Endpoint), and compiles the path templates. The error
// lists every problem, each naming its key.
func New(cfg config.Upstream, opts Options) (*Client, error) {
	if opts.URL != "" {
		cfg.URL = opts.URL
	}
	cfg = cfg.WithDefaults()
	setDefault(&opts.BackoffMin, DefaultBackoffMin)
	setDefault(&opts.BackoffMax, DefaultBackoffMax)
	setDefault(&opts.MaxReplyBytes, DefaultMaxReplyBytes)
	var errs []error
	u, tlsConf, err := cfg.Endpoint() // the checks Resolve makes
	if err != nil {
		errs = append(errs, err)
	}
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("upstream: %s: %s", key, fmt.Sprintf(format, args...)))
	}
	if opts.BackoffMin < 0 || opts.BackoffMin > opts.BackoffMax {
		bad("BackoffMin", "%v is not in [0, BackoffMax %v]", opts.BackoffMin, opts.BackoffMax)
	}

	c := &Client{
		timeout:     cfg.Timeout.D(),
		maxAttempts: cfg.MaxAttempts,
		backoffMin:  opts.BackoffMin,
		backoffMax:  opts.BackoffMax,
		maxReply:    opts.MaxReplyBytes,
	}
	https := u != nil && u.Scheme == "https"
	if u != nil {
		c.base = u.Scheme + "://" + u.Host + strings.TrimSuffix(u.EscapedPath(), "/")
		c.scheme, c.host = u.Scheme, strings.TrimSuffix(u.Host, ":")
		c.basePath = strings.TrimSuffix(u.EscapedPath(), "/")
		c.baseDecoded = strings.TrimSuffix(u.Path, "/")
		c.baseSentAsWritten = !defaultEncoded(c.basePath)
		port := u.Port()
		if port == "" {
			port = "80"
			if https {
				port = "443"
			}
		}
		c.addr = net.JoinHostPort(u.Hostname(), port)
	}
	if c.paths[canonical.ByID], err = compileTemplate(cfg.ByIDPath, phID); err != nil {
		bad("upstream.byIdPath", "%v", err)
	}
	if c.paths[canonical.ByUsername], err = compileTemplate(cfg.ByUsernamePath, phUsername); err != nil {
		bad("upstream.byUsernamePath", "%v", err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	c.dialer = &net.Dialer{Timeout: DefaultDialTimeout, KeepAlive: 30 * time.Second}
	c.transport = newTransport(cfg, https, c.dialer, tlsConf)
	var rt http.RoundTripper = roundTripper{t: c.transport}
	if cfg.MaxConns > 0 {
		rt = roundTripper{t: c.transport, slots: make(chan struct{}, cfg.MaxConns)}
	}
	if opts.WrapTransport != nil {
		rt = opts.WrapTransport(rt)
	}
	c.http = &http.Client{
		Transport: rt,
		// A redirect is an unexpected reply, not an invitation to send the
		// update somewhere else.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	c.breaker = NewBreaker(cfg.Breaker, u.Host, BreakerLog(opts.Logger, "upstream", u.Host))
	return c, nil
}

func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}

// Close closes the idle keep-alive connections. Calls still running finish.
func (c *Client) Close() { c.transport.CloseIdleConnections() }

// BreakerState is "closed", "half-open" or "open", or "disabled" when the
// breaker is off.
func (c *Client) BreakerState() string { return c.breaker.State() }

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
