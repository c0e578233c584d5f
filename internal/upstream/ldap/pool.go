package ldap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/userbridge/userbridge/internal/telemetry"
)

// pool keeps at most cap(slots) bound connections to the directory, the
// idle ones in idle. A connection is bound as the service account before
// it is used, and closed after any failure that leaves its state unknown.
type pool struct {
	url         *url.URL
	tls         *tls.Config // ldaps or StartTLS; nil for plain ldap://
	startTLS    bool
	bindDN      string
	password    string // never logged
	idleTimeout time.Duration
	slots       chan struct{}
	idle        chan *conn
}

// conn is one pooled connection.
type conn struct {
	*goldap.Conn
	since time.Time // back in the pool
}

// errPoolBusy: every connection stayed busy until the deadline; nothing
// was sent.
var errPoolBusy error = kindError("every pooled connection busy (upstream.ldap.poolSize)")

// dialError is a failure to get a bound connection: nothing of the call
// was sent, so it may be retried.
type dialError struct {
	stage string // "connect", "starttls", "bind"
	err   error
}

func (e *dialError) Error() string { return "ldap: " + e.stage + ": " + e.err.Error() }

// answered reports whether the directory answered the StartTLS or bind
// with a result (a refusal), rather than not at all.
func (e *dialError) answered() bool {
	code := resultCode(e.err)
	return code != 0 && code < goldap.ErrorNetwork
}
func (e *dialError) Unwrap() error { return e.err }

func newPool(u *url.URL, tlsConf *tls.Config, startTLS bool, bindDN, password string, size int, idle time.Duration) *pool {
	if tlsConf != nil && tlsConf.ServerName == "" {
		tlsConf = tlsConf.Clone()
		tlsConf.ServerName = u.Hostname()
	}
	return &pool{url: u, tls: tlsConf, startTLS: startTLS, bindDN: bindDN, password: password,
		idleTimeout: idle, slots: make(chan struct{}, size), idle: make(chan *conn, size)}
}

// get takes a slot and an idle connection, or dials and binds a new one,
// by the deadline.
func (p *pool) get(deadline time.Time) (*conn, error) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
	case <-t.C:
		return nil, errPoolBusy
	}
	for {
		select {
		case c := <-p.idle:
			if c.IsClosing() || (p.idleTimeout > 0 && time.Since(c.since) > p.idleTimeout) {
				c.Close()
				continue
			}
			return c, nil
		default:
		}
		c, err := p.dial(deadline)
		if err != nil {
			<-p.slots
			return nil, err
		}
		return c, nil
	}
}

// dial connects (TLS for ldaps), upgrades with StartTLS when configured,
// and binds as the service account.
func (p *pool) dial(deadline time.Time) (*conn, error) {
	left := time.Until(deadline)
	if left <= 0 {
		return nil, &dialError{"connect", errTimeout}
	}
	d := &net.Dialer{Timeout: min(left, 2*time.Second), Deadline: deadline}
	opts := []goldap.DialOpt{goldap.DialWithDialer(d)}
	if p.url.Scheme == "ldaps" {
		opts = append(opts, goldap.DialWithTLSConfig(p.tls))
	}
	c, err := goldap.DialURL(p.url.Scheme+"://"+p.url.Host, opts...)
	if err != nil {
		return nil, &dialError{"connect", err}
	}
	c.SetTimeout(time.Until(deadline))
	if p.startTLS {
		if err := c.StartTLS(p.tls); err != nil {
			c.Close()
			return nil, &dialError{"starttls", err}
		}
	}
	if err := c.Bind(p.bindDN, p.password); err != nil {
		c.Close()
		return nil, &dialError{"bind", err}
	}
	return &conn{Conn: c}, nil
}

// put gives a connection back: to the idle ones when healthy, else closed.
func (p *pool) put(c *conn, healthy bool) {
	if healthy && !c.IsClosing() {
		c.since = time.Now()
		select {
		case p.idle <- c:
		default:
			c.Close()
		}
	} else {
		c.Close()
	}
	<-p.slots
}

// close closes the idle connections.
func (p *pool) close() {
	for {
		select {
		case c := <-p.idle:
			c.Close()
		default:
			return
		}
	}
}

// protected reports whether the connection is encrypted (ldaps or
// StartTLS): only then may a password be sent, unless allowed.
func (p *pool) protected() bool { return p.tls != nil && (p.startTLS || p.url.Scheme == "ldaps") }

// errTimeout is the call's deadline reached: context.DeadlineExceeded, so
// that the access line's upstream_error says "timeout" as for every
// profile (telemetry.ErrorKind).
var errTimeout = fmt.Errorf("deadline reached: %w", context.DeadlineExceeded)

// jitter is the wait before retry n (1 for the first): uniform in
// [0, min(1s, 50ms·2ⁿ⁻¹)].
func jitter(n int) time.Duration {
	ceil := 50 * time.Millisecond << min(n-1, 5)
	return rand.N(min(ceil, time.Second) + 1)
}

// describe is an error for logs: an LDAP result by its code and name only
// (the directory's diagnostic may quote a DN, hence a username), any other
// failure (a connection's) as it is; never the password, which the
// library never repeats.
func describe(err error) error {
	var le *goldap.Error
	if errors.As(err, &le) && le.ResultCode < goldap.ErrorNetwork {
		var de *dialError
		stage := "result"
		if errors.As(err, &de) {
			stage = de.stage
		}
		return &resultError{stage: stage, code: le.ResultCode}
	}
	return fmt.Errorf("ldap: %w", err)
}

// resultError is an LDAP result for logs: the stage it came at ("bind",
// "starttls", "result") and its code, never the directory's diagnostic.
type resultError struct {
	stage string
	code  uint16
}

func (e *resultError) Error() string {
	return fmt.Sprintf("ldap: %s: result %d (%s)", e.stage, e.code, goldap.LDAPResultCodeMap[e.code])
}

// ErrorKind is what the access line's upstream_error says of it
// (telemetry.KindedError): the stage and the result's name, e.g. "bind:
// invalid credentials"; words from the protocol's fixed table.
func (e *resultError) ErrorKind() telemetry.Kind {
	name, ok := goldap.LDAPResultCodeMap[e.code]
	if !ok {
		name = fmt.Sprintf("result %d", e.code)
	}
	return telemetry.Kind(e.stage + ": " + strings.ToLower(name))
}

// kindError is an error of userbridge's own words, which upstream_error
// repeats (telemetry.KindedError).
type kindError string

func (e kindError) Error() string             { return "ldap: " + string(e) }
func (e kindError) ErrorKind() telemetry.Kind { return telemetry.Kind(e) }

var (
	_ telemetry.KindedError = (*resultError)(nil)
	_ telemetry.KindedError = kindError("")
)
