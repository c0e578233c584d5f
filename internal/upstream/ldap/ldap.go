// Package ldap is userbridge's `ldap` upstream profile: each canonical
// update becomes one LDAP Modify of the user's entry (plus a ModifyDN for a
// new username that is the entry's RDN, and the group Modifies for roles),
// and the entry, read back, becomes the canonical user.
package ldap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/upstream"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// Client sends canonical updates to an LDAP directory. It implements
// server.Upstream and is safe for concurrent use.
type Client struct {
	cfg         config.LDAP // with its defaults
	pool        *pool
	addr        string // host:port, for Ready
	timeout     time.Duration
	maxAttempts int
	breaker     *upstream.Breaker // nil: disabled
	attrs       []string          // every attribute a user is read with
	entries     *upstream.Stripes // one update of an entry at a time (lockEntry)
	// afterFind, when set (tests only), runs between lockEntry's first
	// find and its lock.
	afterFind func()
	seed      maphash.Seed // of the entries' keys
}

// entryStripes is how many entries may be updated at once, at most: far
// more than poolSize allows.
const entryStripes = 256

// New checks the upstream's ldap keys (config.LDAP.Check and the shared
// ones: timeout, attempts, TLS, breaker) and builds the client. It does not
// connect: Probe does. log, when not nil, is told each change of the
// breaker's state (upstream.NewBreaker).
func New(cfg config.Upstream, log *slog.Logger) (*Client, error) {
	cfg = cfg.WithDefaults()
	var errs []error
	if err := cfg.LDAP.Check(cfg.URL); err != nil {
		errs = append(errs, err)
	}
	u, tlsConf, err := cfg.Endpoint()
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("ldap: %w", errors.Join(errs...))
	}
	pw, _ := cfg.LDAP.BindPassword() // checked above
	l := cfg.LDAP.WithDefaults()
	port := u.Port()
	if port == "" {
		port = "389"
		if u.Scheme == "ldaps" {
			port = "636"
		}
	}
	c := &Client{
		cfg:         l,
		pool:        newPool(u, tlsConf, l.StartTLS, l.BindDN, pw, l.PoolSize, cfg.IdleTimeout.D()),
		addr:        net.JoinHostPort(u.Hostname(), port),
		timeout:     cfg.Timeout.D(),
		maxAttempts: cfg.MaxAttempts,
		entries:     upstream.NewStripes(entryStripes),
		seed:        maphash.MakeSeed(),
	}
	c.attrs = readAttributes(l)
	c.breaker = upstream.NewBreaker(cfg.Breaker, u.Host, upstream.BreakerLog(log, "upstream", u.Host))
	return c, nil
}

// deadline is the call's one deadline: upstream.timeout from now, or the
// caller's when earlier.
func (c *Client) deadline(ctx context.Context) time.Time {
	d := time.Now().Add(c.timeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	return d
}

// CheckUpdate refuses an update the directory cannot store (a field with
// no attribute, a password over an unencrypted connection), as Patch does,
// before any call (server.UpdateChecker).
func (c *Client) CheckUpdate(_ canonical.Target, update []byte) *canonical.Error {
	return c.refuseUnmapped(gjson.ParseBytes(update))
}

// Patch applies the canonical update call.Body to the user's entry and
// answers 200 with the entry read back as the canonical user.
func (c *Client) Patch(ctx context.Context, call *upstream.Call) (*upstream.Result, *canonical.Error) {
	if call.Body == nil || !gjson.ValidBytes(call.Body) {
		return &upstream.Result{}, canonical.Errorf(canonical.Internal, "no update document to send")
	}
	t := &trip{c: c, deadline: c.deadline(ctx), user: call.User()}
	defer t.done()
	doc := gjson.ParseBytes(call.Body)
	if cerr := c.refuseUnmapped(doc); cerr != nil {
		return t.result(), cerr
	}
	entry, unlock, cerr := t.lockEntry(ctx, call)
	if cerr != nil {
		return t.result(), cerr
	}
	defer unlock()
	p, cerr := t.plan(entry, doc)
	if cerr != nil {
		return t.result(), cerr
	}
	dn, cerr := t.apply(p)
	if cerr != nil {
		return t.result(), cerr
	}
	user, cerr := t.readBack(dn)
	if cerr != nil {
		cerr.Applied = true
		return t.result(), cerr
	}
	res := t.result()
	res.Status, res.Body = http.StatusOK, user
	return res, nil
}

// Get reads the user's entry as the canonical user.
func (c *Client) Get(ctx context.Context, call *upstream.Call) (*upstream.Result, *canonical.Error) {
	t := &trip{c: c, deadline: c.deadline(ctx), user: call.User()}
	defer t.done()
	entry, cerr := t.find(call)
	if cerr != nil {
		return t.result(), cerr
	}
	roles, cerr := t.roles(entry.DN)
	if cerr != nil {
		return t.result(), cerr
	}
	res := t.result()
	res.Status, res.Body = http.StatusOK, c.user(entry, roles, t.asked)
	return res, nil
}

// Ready reports whether the directory accepts TCP connections: a dial, no
// bind, so probes leave no trace in the directory's logs. It does not
// consult the breaker.
func (c *Client) Ready(ctx context.Context) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return fmt.Errorf("ldap: not reachable: %w", err)
	}
	return conn.Close()
}

// BreakerState is "closed", "half-open" or "open", or "disabled".
func (c *Client) BreakerState() string { return c.breaker.State() }

// Close closes the idle connections. Calls still running finish.
func (c *Client) Close() { c.pool.close() }

// ProbeError is a directory that cannot serve: Key is the configuration
// key at fault (upstream.url, upstream.ldap.bindDN, upstream.ldap.baseDN).
type ProbeError struct {
	Key     string
	Problem string
}

// Error is one line: "KEY: PROBLEM".
func (e *ProbeError) Error() string { return e.Key + ": " + e.Problem }

// Probe connects, binds and reads the base DN (and the groups' base DN),
// by ctx's deadline or upstream.timeout: what start-up and validate check.
// Its error is a *ProbeError, one line naming the key at fault, or both
// base DNs' joined (errors.Join) when neither can be read.
func (c *Client) Probe(ctx context.Context) error {
	deadline := c.deadline(ctx)
	cn, err := c.pool.get(deadline)
	if err != nil {
		var de *dialError
		errors.As(err, &de)
		var cv *tls.CertificateVerificationError
		switch {
		case errors.As(err, &cv):
			// reached, and TLS spoken: the CA is at fault, whether ldaps:// or StartTLS
			return &ProbeError{"upstream.tls.caFile", "the directory's certificate at " + c.addr + " is not trusted: " + cv.Err.Error()}
		case de != nil && de.stage == "bind" && de.answered():
			return &ProbeError{"upstream.ldap.bindDN", fmt.Sprintf("the directory refused the bind as %s: %s", c.cfg.BindDN, resultName(err))}
		case de != nil && de.stage == "starttls":
			return &ProbeError{"upstream.ldap.startTLS", "StartTLS with " + c.addr + " failed: " + why(de.err)}
		}
		return &ProbeError{"upstream.url", "the directory at " + c.addr + " is unreachable: " + why(errors.Unwrap(err))}
	}
	healthy := true
	defer func() { c.pool.put(cn, healthy) }()
	cn.SetTimeout(time.Until(deadline))
	// Both base DNs are read, and each one at fault reported: validate
	// lists every problem in one run.
	var problems []error
	for _, b := range [...]struct{ key, dn string }{{"upstream.ldap.baseDN", c.cfg.BaseDN}, {"upstream.ldap.groups.baseDN", c.cfg.Groups.BaseDN}} {
		if b.dn == "" {
			continue
		}
		_, err := cn.Search(goldap.NewSearchRequest(b.dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 1, 0, false,
			"(objectClass=*)", []string{"1.1"}, nil))
		switch code := resultCode(err); {
		case err == nil:
		case code == goldap.LDAPResultNoSuchObject:
			problems = append(problems, &ProbeError{b.key, b.dn + " does not exist in the directory"})
		case code != 0 && code < goldap.ErrorNetwork:
			problems = append(problems, &ProbeError{b.key, "reading " + b.dn + ": " + resultName(err)})
		default:
			healthy = false
			return &ProbeError{"upstream.url", "the directory at " + c.addr + " did not answer: " + err.Error()}
		}
	}
	return errors.Join(problems...)
}

// why is err in the operator's words: a failure of the network (or of
// TLS) in its own words, without the library's "Result Code 200 \"Network
// Error\"" (StartTLS keeps the handshake's reason only as text there);
// an LDAP result by its name.
func why(err error) string {
	var le *goldap.Error
	if errors.As(err, &le) && le.ResultCode >= goldap.ErrorNetwork && le.Err != nil {
		return le.Err.Error()
	}
	return resultName(err)
}

// resultName is an LDAP result's name, e.g. "Invalid Credentials".
func resultName(err error) string {
	code := resultCode(err)
	if name, ok := goldap.LDAPResultCodeMap[code]; ok && code != 0 {
		return strings.ToLower(name)
	}
	return err.Error()
}

var _ interface {
	Patch(context.Context, *upstream.Call) (*upstream.Result, *canonical.Error)
	Get(context.Context, *upstream.Call) (*upstream.Result, *canonical.Error)
} = (*Client)(nil)
