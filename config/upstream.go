package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// Upstream is the identity backend. It is the upstream client's own
// configuration: internal/upstream builds the client from it
// (upstream.New), after Resolve has checked it (Check).
type Upstream struct {
	// Profile is the upstream's protocol: "canonical" (docs/canonical.md),
	// "scim" (a SCIM 2.0 service provider) or "rules" (a JSON REST API
	// described by the Rules file); docs/upstreams.md.
	Profile string `yaml:"profile"`
	// Rules is profile rules' upstream rule file, relative to the config
	// file (e.g. examples/upstreams/keycloak.yaml).
	Rules string `yaml:"rules"`
	// SCIM tunes profile scim.
	SCIM SCIM `yaml:"scim"`
	// LDAP configures profile ldap (config/ldap.go).
	LDAP LDAP `yaml:"ldap"`
	// LookupTTL is how long profiles scim and rules remember the id a
	// username resolved to (default 30s; negative: never). A 404 on a
	// remembered id looks the username up again.
	LookupTTL Duration `yaml:"lookupTTL"`
	// URL is the backend's base URL, http or https (e.g.
	// "https://idp.internal:8443/api"): no query, fragment or
	// user:password (credentials travel in headers). Empty, or "demo",
	// runs the reference backend in-process with demo users.
	URL string `yaml:"url"`
	// ByIDPath and ByUsernamePath are the path templates ({id},
	// {username}, {tenant}); defaults /users/{id} and
	// /users/by-username/{username}.
	ByIDPath       string `yaml:"byIdPath"`
	ByUsernamePath string `yaml:"byUsernamePath"`
	// Timeout is one deadline for all attempts of one request (default 5s).
	// A shorter deadline of the caller's wins.
	Timeout Duration `yaml:"timeout"`
	// MaxAttempts is the most attempts per call (default 3; 1 never
	// retries; at most 10).
	MaxAttempts int `yaml:"maxAttempts"`
	// MaxIdleConns is how many idle keep-alive connections to the upstream
	// the pool keeps for the next requests (default 256; with maxConns
	// set, at most maxConns).
	MaxIdleConns int `yaml:"maxIdleConns"`
	// IdleTimeout closes a pooled keep-alive connection idle this long
	// (default 30s). Below the upstream's own keep-alive timeout, the pool
	// drops connections before the upstream does.
	IdleTimeout Duration `yaml:"idleTimeout"`
	// MaxConns caps the connections open to the upstream (default 0: no
	// cap); a call that finds them all busy waits for one within its
	// timeout, and is answered unavailable, not sent, if none frees in
	// time.
	MaxConns int `yaml:"maxConns"`
	// TLS for https upstreams. HTTP/2 is used where the upstream offers it
	// (ALPN); plain http upstreams are called over HTTP/1.1.
	TLS TLS `yaml:"tls"`
	// Breaker stops calling an upstream that keeps failing.
	Breaker Breaker `yaml:"breaker"`

	// transport was removed: the upstream is called with net/http only.
	removedUpstreamKeys `yaml:",inline"`
}

// SCIM tunes profile scim.
type SCIM struct {
	// ExtensionSchema is the URN of the User schema extension that holds
	// the canonical fields SCIM has no attribute for: locked, deleted,
	// attributes, extensions (default
	// urn:userbridge:params:scim:schemas:extension:2.0:User).
	ExtensionSchema string `yaml:"extensionSchema"`
	// Unmapped is "extension" (default: those fields go to
	// ExtensionSchema) or "reject" (an update that sets or unsets one is
	// refused with invalid_field naming it).
	Unmapped string `yaml:"unmapped"`
	// Discover reads the provider's /ServiceProviderConfig, /ResourceTypes
	// and /Schemas at start (default true): a field the provider's User
	// cannot hold is refused by name before anything is sent, and PATCH is
	// used only when the provider supports it (else GET + PUT). false pins
	// the capabilities with Extension, Patch and ETag instead, for a
	// provider that does not serve the discovery endpoints.
	Discover *bool `yaml:"discover"`
	// DiscoveryCredentials is the credential discovery presents on its
	// three GETs, for a provider that wants one on every endpoint (RFC
	// 7644 leaves that to the provider): exactly one of bearer, basic and
	// oauth2, as a dialect's auth.upstream block (its files relative to
	// the config file; read, and an oauth2 token fetched, at start).
	// Only with Discover. It is never sent to /Users: those calls carry
	// what the dialect's auth decides. Default: none, discovery sends no
	// credential.
	DiscoveryCredentials *UpstreamCreds `yaml:"discoveryCredentials"`
	// StartUndiscovered lets userbridge start when discovery fails (the
	// provider down): /readyz answers 503 and updates are answered
	// unavailable, nothing sent, until a discovery (retried on each
	// /readyz and update) succeeds. Default false: start-up fails, in one
	// line.
	StartUndiscovered bool `yaml:"startUndiscovered"`
	// Extension pins, with Discover false, whether the provider's User
	// holds ExtensionSchema (default true); false refuses locked, deleted,
	// attributes and extensions by name, nothing sent.
	Extension *bool `yaml:"extension"`
	// Patch pins, with Discover false, whether the provider supports
	// PATCH (default true); false sends GET + PUT of the whole user.
	Patch *bool `yaml:"patch"`
	// ETag pins, with Discover false, whether the provider honours
	// If-Match on PUT (default false: a change made between the GET and
	// the PUT is overwritten).
	ETag *bool `yaml:"etag"`
}

// Discovers is whether the provider's capabilities are discovered
// (upstream.scim.discover, default true).
func (s SCIM) Discovers() bool { return s.Discover == nil || *s.Discover }

// TLS configures an https upstream. TLS 1.2 is the minimum.
type TLS struct {
	// CAFile is a PEM bundle that replaces the system roots.
	CAFile string `yaml:"caFile"`
	// CertFile and KeyFile are a client certificate and key (both or neither).
	CertFile string `yaml:"certFile"`
	KeyFile  string `yaml:"keyFile"`
	// ServerName overrides the name checked in the upstream's certificate
	// (and sent as SNI).
	ServerName string `yaml:"serverName"`
}

// The upstream defaults, for a key left unset.
const (
	DefaultByIDPath        = "/users/{id}"
	DefaultByUsernamePath  = "/users/by-username/{username}"
	DefaultTimeout         = 5 * time.Second
	DefaultMaxAttempts     = 3
	DefaultMaxIdleConns    = 256
	DefaultIdleTimeout     = 30 * time.Second
	DefaultBreakerFailures = 5
	DefaultBreakerOpenFor  = 10 * time.Second

	maxAttemptsLimit = 10
)

// WithDefaults returns u with every unset key at its default: what the
// upstream client is built from. (Parse leaves the path templates and the
// pool and breaker keys unset, so that a reload reports what was written.)
func (u Upstream) WithDefaults() Upstream {
	setDefault(&u.ByIDPath, DefaultByIDPath)
	setDefault(&u.ByUsernamePath, DefaultByUsernamePath)
	setDefault(&u.Timeout, Duration(DefaultTimeout))
	setDefault(&u.MaxAttempts, DefaultMaxAttempts)
	setDefault(&u.MaxIdleConns, DefaultMaxIdleConns)
	setDefault(&u.IdleTimeout, Duration(DefaultIdleTimeout))
	u.Breaker = u.Breaker.withDefaults()
	return u
}

func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}

// KeyError is a problem with one configuration key. Resolve reports it with
// the file's name; the upstream client, built from a configuration that
// was not resolved (tests, tools), reports it as it is.
type KeyError struct {
	// Key is the dotted YAML name, e.g. "upstream.tls.caFile".
	Key string
	// Problem says what is wrong, never quoting a secret.
	Problem string
}

// Error is "config: KEY: PROBLEM".
func (e *KeyError) Error() string { return "config: " + e.Key + ": " + e.Problem }

// Check reports every problem of the upstream's HTTP settings (the URL,
// TLS with its files read and parsed, the timeouts, attempts and pool
// sizes), each a *KeyError, joined; nil when there is none. A demo
// upstream has no URL to check (its TLS keys are checked as for https).
// The profile's own keys are Resolve's.
func (u Upstream) Check(demo bool) error {
	_, _, err := u.check(demo)
	return err
}

// Endpoint checks u as Check does and returns what the upstream client is
// built from: the base URL and, for https, the TLS configuration with its
// files loaded (nil for http).
func (u Upstream) Endpoint() (*url.URL, *tls.Config, error) { return u.check(false) }

func (u Upstream) check(demo bool) (base *url.URL, conf *tls.Config, _ error) {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &KeyError{Key: key, Problem: fmt.Sprintf(format, args...)})
	}
	https := demo
	if !demo {
		var err error
		if base, err = u.BaseURL(); err != nil {
			errs = append(errs, err)
		} else {
			https = base.Scheme == "https" || u.ldapTLS(base)
		}
	}
	if !https && u.Profile == ProfileLDAP && u.TLS != (TLS{}) {
		bad("upstream.tls", "set, but the directory is reached without TLS: use ldaps://, or upstream.ldap.startTLS: true")
	} else {
		var err error
		if conf, err = u.TLS.ClientConfig(https); err != nil {
			errs = append(errs, err)
		}
	}
	// The ranges (ranges.go); 0 is a key left unset, which takes its default.
	for _, k := range [...]struct {
		key string
		v   int64
	}{{"upstream.timeout", int64(u.Timeout)}, {"upstream.maxAttempts", int64(u.MaxAttempts)},
		{"upstream.maxIdleConns", int64(u.MaxIdleConns)}, {"upstream.idleTimeout", int64(u.IdleTimeout)}} {
		if err := rangeOf(k.key).check(k.v); k.v != 0 && err != nil {
			bad(k.key, "%v", err)
		}
	}
	if u.MaxConns < 0 {
		bad("upstream", "maxConns must not be negative (0: no cap)")
	}
	errs = append(errs, u.Breaker.check()...)
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	return base, conf, nil
}

// BaseURL parses and checks URL: http or https, a host, no credentials,
// query or fragment. Its error (a *KeyError) never quotes the URL: it may
// carry a credential.
func (u Upstream) BaseURL() (*url.URL, error) {
	bad := func(problem string) (*url.URL, error) {
		return nil, &KeyError{Key: "upstream.url", Problem: problem}
	}
	if u.Profile == ProfileLDAP {
		return LDAPURL(u.URL)
	}
	if u.URL == "" {
		return bad("required")
	}
	base, err := url.Parse(u.URL)
	switch {
	case err != nil:
		// url.Parse's error repeats the URL; say less.
		return bad("not a valid URL")
	case base.Scheme != "http" && base.Scheme != "https":
		return bad("scheme must be http or https")
	case base.Host == "" || base.Hostname() == "":
		return bad("has no host")
	case base.User != nil:
		return bad("must not carry credentials; send them as headers")
	case base.RawQuery != "" || base.ForceQuery || base.Fragment != "":
		return bad("must not have a query or a fragment")
	}
	return base, nil
}

// ClientConfig reads the TLS files and returns the TLS configuration of
// an https upstream (TLS 1.2 at least, a session cache); nil for http,
// where setting any TLS key is an error. Every problem is a *KeyError
// naming its key, joined.
func (t TLS) ClientConfig(https bool) (*tls.Config, error) {
	if !https {
		if t != (TLS{}) {
			return nil, &KeyError{Key: "upstream.tls", Problem: "set, but URL is not https"}
		}
		return nil, nil
	}
	var errs []error
	conf := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		ClientSessionCache: tls.NewLRUClientSessionCache(0),
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		switch {
		case err != nil:
			errs = append(errs, &KeyError{Key: "upstream.tls.caFile", Problem: err.Error()})
		default:
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				errs = append(errs, &KeyError{Key: "upstream.tls.caFile", Problem: t.CAFile + " holds no PEM certificate"})
			}
			conf.RootCAs = pool
		}
	}
	switch {
	case (t.CertFile == "") != (t.KeyFile == ""):
		errs = append(errs, &KeyError{Key: "upstream.tls.certFile", Problem: "CertFile and KeyFile go together"})
	case t.CertFile != "":
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			errs = append(errs, &KeyError{Key: "upstream.tls.certFile", Problem: err.Error()})
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return conf, nil
}

// removedUpstreamKeys are the upstream keys userbridge no longer reads.
type removedUpstreamKeys struct {
	Transport removedUpstreamTransport `yaml:"transport"`
}

type removedUpstreamTransport struct{}

// UnmarshalYAML refuses the key, on its line.
func (*removedUpstreamTransport) UnmarshalYAML(n *yaml.Node) error {
	return removedKey(n, "upstream.transport")
}

// keyErrors lists the *KeyError problems err joins, so that Resolve can
// report each with the file's name.
func keyErrors(err error) []*KeyError {
	var out []*KeyError
	for _, e := range Problems(err) {
		var ke *KeyError
		if errors.As(e, &ke) {
			out = append(out, ke)
		}
	}
	return out
}

// Problems lists every problem err joins (errors.Join, nested or not), one
// error each, in order; nil for nil. One problem wraps ErrInvalid and its
// cause together (fmt.Errorf("%w: …: %w", ErrInvalid, …, cause)): it
// stays whole, the cause's own problems in its text.
func Problems(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		parts := j.Unwrap()
		for _, x := range parts {
			if x == ErrInvalid {
				return []error{err}
			}
		}
		var out []error
		for _, x := range parts {
			out = append(out, Problems(x)...)
		}
		return out
	}
	return []error{err}
}
