// Package auth is userbridge's inbound authentication and authorization:
// per dialect, either pass the caller's credentials upstream unchanged, or
// verify the caller (API keys, Basic, JWT), apply a policy and call the
// upstream with userbridge's own credentials (docs/security.md). New builds
// a dialect's Authenticator from its config.Auth block.
package auth

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// HeaderPrincipal tells the upstream who acts, in verify mode. It is
// removed from every upstream call in both modes before userbridge sets it,
// so a caller can never set it.
const HeaderPrincipal = "X-Userbridge-Principal"

// How a principal proved who they are.
const (
	MethodAPIKey = "apikey"
	MethodBasic  = "basic"
	MethodJWT    = "jwt"
)

// Principal is a verified caller. It holds no secret.
type Principal struct {
	// Subject names the caller upstream (X-Userbridge-Principal): the key's
	// or user's name in the file, the token's "sub".
	Subject string
	// Username and ID are compared with the user a request names, under
	// policy.self.
	Username string
	ID       string
	// Roles and Scopes the caller holds.
	Roles  []string
	Scopes []string
	// Method is MethodAPIKey, MethodBasic or MethodJWT.
	Method string
}

// Dialect is what the serving dialect knows of its clients' credentials.
type Dialect struct {
	// Name is the dialect's name, for logs.
	Name string
	// CredentialHeaders are the headers its clients send credentials in
	// (Shift: x-key, x-secret, MediaSiloSessionKey, ...; Crafter:
	// X-XSRF-TOKEN). In verify mode they are removed from the upstream
	// call, as are Authorization, Proxy-Authorization and Cookie always.
	CredentialHeaders []string
	// APIKeyHeader and APIKeyIDHeader are apiKeys.header and
	// apiKeys.idHeader when the configuration leaves apiKeys.header empty
	// (Shift: x-secret and x-key; Trusted Twin: Authorization).
	APIKeyHeader   string
	APIKeyIDHeader string
	// FieldName names a canonical field path as the dialect's clients
	// know it (Shift's status for active), for the policy's refusals.
	// Nil: the canonical path.
	FieldName func(canonical string) string
}

// Options build an Authenticator.
type Options struct {
	// Where names the configuration block in errors, e.g.
	// "dialects.crafter.auth" (default "auth").
	Where string
	// Dialect is the dialect served.
	Dialect Dialect
	// Logger receives refusals (debug, without credentials) and JWKS or
	// token endpoint failures (warn). Default slog.Default().
	Logger *slog.Logger
	// HTTPClient fetches the JWKS and OAuth2 tokens. Default: a client
	// with a 10s timeout that follows no redirect.
	HTTPClient *http.Client
	// CredentialTimeout bounds what a request waits for userbridge's own
	// upstream credential (an OAuth2 token fetch, or the one another
	// request is making): the upstream's timeout, one deadline for the
	// whole call. Default 5s.
	CredentialTimeout time.Duration
	// Check builds the authenticator only to see that it can be built, as
	// `userbridge validate` does: every file is read and checked as for
	// serving, but the JWKS is not fetched and nothing runs in the
	// background. Such an authenticator cannot verify a JWT: close it.
	Check bool
}

// KeyError is a problem of one key of an auth block, found when New reads
// what it names: a credential file that cannot be read or holds a bad line,
// an empty environment variable. Key is dotted from Options.Where (e.g.
// "dialects.shift.auth.apiKeys.file"); Err is what is wrong, one error per
// bad line of a file (joined), and never quotes a secret or a hash.
type KeyError struct {
	Key string
	Err error
}

// Error is "KEY: PROBLEM".
func (e *KeyError) Error() string { return e.Key + ": " + e.Err.Error() }

func (e *KeyError) Unwrap() error { return e.Err }

// httpClient is o.HTTPClient or its default.
func (o Options) httpClient() *http.Client {
	if o.HTTPClient != nil {
		return o.HTTPClient
	}
	return &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// credentialTimeout is o.CredentialTimeout or its default.
func (o Options) credentialTimeout() time.Duration { return cmp.Or(o.CredentialTimeout, 5*time.Second) }

// Authenticator applies one dialect's auth configuration. It is safe for
// concurrent use. A nil *Authenticator is passthrough.
type Authenticator struct {
	verify   bool
	dialect  string
	name     func(string) string // Dialect.FieldName, never nil
	log      *slog.Logger
	keys     *credStore
	keyHdr   string // canonical header name
	keyIDHdr string
	keyAuthz bool // the key travels in Authorization
	basic    *credStore
	jwt      *jwtVerifier
	creds    credSource
	policy   policy
	strip    []string
	cancel   context.CancelFunc
	once     sync.Once
}

// New builds the authenticator of one dialect's auth block: it validates c
// (config.Auth.Validate), reads the files it names and, for jwt, fetches
// the JWKS and starts refreshing it until ctx ends or Close is called
// (unless o.Check). Every problem is reported at once, each problem of what
// the block names a *KeyError. No error names a secret.
func New(ctx context.Context, c config.Auth, o Options) (*Authenticator, error) {
	where := cmp.Or(o.Where, "auth")
	if errs := c.Validate(where); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	a := &Authenticator{verify: c.Mode == config.ModeVerify, dialect: o.Dialect.Name, log: log, name: o.Dialect.FieldName}
	if a.name == nil {
		a.name = func(f string) string { return f }
	}
	if !a.verify {
		return a, nil
	}
	client := o.httpClient()
	var errs []error
	fail := func(field string, err error) {
		errs = append(errs, &KeyError{Key: where + "." + field, Err: err})
	}
	if k := c.APIKeys; k != nil {
		// The dialect's headers come as a pair: a configured header
		// never inherits the dialect's id header.
		a.keyHdr, a.keyIDHdr = k.Header, k.IDHeader
		if k.Header == "" {
			a.keyHdr, a.keyIDHdr = o.Dialect.APIKeyHeader, cmp.Or(k.IDHeader, o.Dialect.APIKeyIDHeader)
		}
		if a.keyHdr != "" {
			a.keyHdr = http.CanonicalHeaderKey(a.keyHdr)
		}
		if a.keyIDHdr != "" {
			a.keyIDHdr = http.CanonicalHeaderKey(a.keyIDHdr)
		}
		a.keyAuthz = a.keyHdr == "Authorization"
		kinds := allowSHA256
		if a.keyIDHdr != "" {
			kinds |= allowBcrypt
		}
		switch {
		case a.keyHdr == "":
			fail("apiKeys.header", fmt.Errorf("required: dialect %q has no default", o.Dialect.Name))
		case a.keyHdr == a.keyIDHdr:
			fail("apiKeys.idHeader", errors.New("must differ from header"))
		}
		if entries, err := readEntries(k.File, kinds); err != nil {
			fail("apiKeys.file", err)
		} else if a.keys, err = newCredStore(entries); err != nil {
			fail("apiKeys.file", err)
		}
	}
	if b := c.Basic; b != nil {
		if entries, err := readEntries(b.File, allowBcrypt); err != nil {
			fail("basic.file", err)
		} else if a.basic, err = newCredStore(entries); err != nil {
			fail("basic.file", err)
		}
	}
	if u := c.Upstream; u != nil {
		var err error
		if a.creds, err = newCredSource(u, client, o.credentialTimeout()); err != nil {
			var ke *KeyError
			if errors.As(err, &ke) {
				fail("upstream."+ke.Key, ke.Err)
			} else {
				fail("upstream", err)
			}
		}
	}
	a.policy = compilePolicy(&c.Policy)
	if f := a.policy.loosened(); len(f) > 0 {
		log.Warn("auth: policy.self: a caller allowed only as itself may change these protected fields, and so who it is or what it may do",
			"dialect", o.Dialect.Name, "where", where+".policy", "fields", f)
	}
	a.strip = stripList(o.Dialect.CredentialHeaders, a.keyHdr, a.keyIDHdr)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if j := c.JWT; j != nil && !o.Check {
		jctx, cancel := context.WithCancel(ctx)
		v, err := newJWTVerifier(jctx, j, client, log)
		if err != nil {
			cancel()
			return nil, &KeyError{Key: where + ".jwt", Err: err}
		}
		a.jwt, a.cancel = v, cancel
	}
	return a, nil
}

// Close stops the JWKS refresh. It is safe to call more than once.
func (a *Authenticator) Close() {
	if a == nil {
		return
	}
	a.once.Do(func() {
		if a.cancel != nil {
			a.cancel()
		}
	})
}

// Verifies reports whether the authenticator is in verify mode.
func (a *Authenticator) Verifies() bool { return a != nil && a.verify }

// The 401 messages. They never echo what the caller sent.
var (
	errMissing = canonical.Errorf(canonical.Unauthorized, "authentication required")
	errInvalid = canonical.Errorf(canonical.Unauthorized, "invalid credentials")
	errToken   = canonical.Errorf(canonical.Unauthorized, "the token is not valid")
	errExpired = canonical.Errorf(canonical.Unauthorized, "the token has expired")
)

// Authenticate checks the caller. In passthrough it returns (nil, nil). In
// verify mode it returns the caller, or an Unauthorized error whose message
// never echoes a credential. Which check runs is decided by what the
// request carries, in this order:
//
//   - "Authorization: Basic ..." (any case), when basic is configured;
//   - a bearer token, when jwt is configured: "Authorization: Bearer <t>"
//     (any case), or a schemeless Authorization value shaped like a JWT
//     (Trusted Twin clients send no scheme word); when apiKeys also use
//     Authorization, a bearer value that is not shaped like a JWT is a key;
//   - the apiKeys header (with its idHeader).
//
// A credential that is present and wrong is refused; no other check is
// then tried.
func (a *Authenticator) Authenticate(r *http.Request) (*Principal, *canonical.Error) {
	if a == nil || !a.verify {
		return nil, nil
	}
	p, e, reason := a.authenticate(r)
	if e != nil {
		a.log.DebugContext(r.Context(), "auth: caller refused", "dialect", a.dialect, "reason", reason)
	}
	return p, e
}

func (a *Authenticator) authenticate(r *http.Request) (*Principal, *canonical.Error, string) {
	authz := r.Header.Values("Authorization")
	if len(authz) > 1 {
		return nil, errInvalid, "more than one Authorization header"
	}
	av := ""
	if len(authz) == 1 {
		av = strings.TrimSpace(authz[0])
	}
	scheme, _, hasScheme := strings.Cut(av, " ")
	if !hasScheme {
		scheme = ""
	}
	if av != "" && a.basic != nil && strings.EqualFold(scheme, "Basic") {
		user, pass, ok := r.BasicAuth()
		if !ok || user == "" {
			return nil, errInvalid, "malformed basic credentials"
		}
		e := a.basic.check(user, pass)
		if e == nil {
			return nil, errInvalid, "wrong basic credentials"
		}
		return e.principal(MethodBasic), nil, ""
	}
	if av != "" && a.jwt != nil {
		if tok, ok := bearerToken(av); ok && (looksLikeJWT(tok) || !a.keyAuthz) {
			p, err := a.jwt.verify(r.Context(), tok)
			if err != nil {
				if errors.Is(err, jwt.ErrTokenExpired) {
					return nil, errExpired, err.Error()
				}
				return nil, errToken, err.Error()
			}
			return p, nil, ""
		}
	}
	if a.keys != nil {
		vals := r.Header.Values(a.keyHdr)
		if len(vals) > 1 {
			return nil, errInvalid, "more than one API key header"
		}
		if len(vals) == 1 {
			key := strings.TrimSpace(vals[0])
			if a.keyAuthz {
				key = av
				if s, rest, ok := strings.Cut(av, " "); ok && strings.EqualFold(s, "Bearer") {
					key = strings.TrimSpace(rest)
				}
			}
			if key == "" {
				return nil, errInvalid, "empty API key"
			}
			var e *entry
			if a.keyIDHdr != "" {
				id := r.Header.Values(a.keyIDHdr)
				if len(id) != 1 || id[0] == "" {
					return nil, errInvalid, "API key without its id header"
				}
				e = a.keys.check(strings.TrimSpace(id[0]), key)
			} else {
				e = a.keys.byKey(key)
			}
			if e == nil {
				return nil, errInvalid, "wrong API key"
			}
			return e.principal(MethodAPIKey), nil, ""
		}
	}
	if av != "" {
		return nil, errInvalid, "unsupported Authorization scheme"
	}
	return nil, errMissing, "no credentials"
}

// UpstreamHeader prepares the headers of the upstream call h. It always
// removes X-Userbridge-Principal. In verify mode it also removes every
// header that may carry the caller's credentials (Authorization,
// Proxy-Authorization, Cookie, the dialect's credential headers and the
// apiKeys headers), then sets userbridge's own Authorization (an OAuth2
// token is fetched, cached and refreshed here) and X-Userbridge-Principal
// to p.Subject. It fails only when an OAuth2 token cannot be had: a
// BadGateway error whose message names no secret (the cause is logged).
func (a *Authenticator) UpstreamHeader(ctx context.Context, h http.Header, p *Principal) *canonical.Error {
	// Every name here is canonical (stripList): deleted and set straight
	// in the map, with none of Header.Del's and Set's canonicalising.
	delete(h, HeaderPrincipal)
	if a == nil || !a.verify {
		return nil
	}
	for _, name := range a.strip {
		delete(h, name)
	}
	if a.creds != nil {
		v, err := a.creds.authorization(ctx)
		if err != nil {
			a.log.WarnContext(ctx, "auth: no upstream credential", "dialect", a.dialect, "error", err)
			return canonical.Errorf(canonical.BadGateway, "userbridge could not obtain its credentials for the upstream")
		}
		h["Authorization"] = []string{v}
	}
	if p != nil {
		h[HeaderPrincipal] = []string{p.Subject}
	}
	return nil
}

// stripList is every header verify mode removes upstream, canonical and
// without duplicates.
func stripList(dialect []string, extra ...string) []string {
	out := []string{"Authorization", "Proxy-Authorization", "Cookie"}
	for _, n := range append(append([]string(nil), dialect...), extra...) {
		if n == "" {
			continue
		}
		n = http.CanonicalHeaderKey(n)
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
