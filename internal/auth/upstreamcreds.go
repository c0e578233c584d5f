package auth

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/userbridge/userbridge/config"
)

// credSource gives the Authorization value userbridge sends upstream.
type credSource interface {
	authorization(ctx context.Context) (string, error)
}

// Credential is one of userbridge's own credentials for the upstream,
// outside a dialect's auth block (upstream.scim.discoveryCredentials). It
// is safe for concurrent use.
type Credential struct{ src credSource }

// NewCredential checks u (config.UpstreamCreds.Validate) and reads the
// files it names: the credential an auth block's upstream key would give,
// with o's HTTPClient and CredentialTimeout for an OAuth2 token fetch.
// o.Where names the block in errors (e.g.
// "upstream.scim.discoveryCredentials"; default "upstream"); every
// problem is reported at once, none naming a secret.
func NewCredential(u *config.UpstreamCreds, o Options) (*Credential, error) {
	where := cmp.Or(o.Where, "upstream")
	if u == nil {
		return nil, fmt.Errorf("%s: no credential", where)
	}
	if errs := u.Validate(where); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	src, err := newCredSource(u, o.httpClient(), o.credentialTimeout())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return &Credential{src: src}, nil
}

// Authorization is the value of the Authorization header to send: a
// static one, or an OAuth2 token fetched, cached and refreshed. Its error
// (a token that cannot be had) names no secret; it is ErrNoAnswer when the
// token endpoint gave no usable answer (unreachable, timed out, a 5xx).
func (c *Credential) Authorization(ctx context.Context) (string, error) {
	return c.src.authorization(ctx)
}

func newCredSource(u *config.UpstreamCreds, client *http.Client, timeout time.Duration) (credSource, error) {
	switch {
	case u.Bearer != nil:
		tok, err := bearerSecret(u.Bearer)
		if err != nil {
			return nil, &KeyError{Key: "bearer", Err: err}
		}
		return staticCred("Bearer " + tok), nil
	case u.Basic != nil:
		pw, err := readSecret(u.Basic.PasswordFile)
		if err != nil {
			return nil, &KeyError{Key: "basic.passwordFile", Err: err}
		}
		return staticCred("Basic " + base64.StdEncoding.EncodeToString([]byte(u.Basic.User+":"+pw))), nil
	case u.OAuth2 != nil:
		o := u.OAuth2
		secret, err := readSecret(o.ClientSecretFile)
		if err != nil {
			return nil, &KeyError{Key: "oauth2.clientSecretFile", Err: err}
		}
		return &oauth2Source{
			cfg:     clientcredentials.Config{ClientID: o.ClientID, ClientSecret: secret, TokenURL: o.TokenURL, Scopes: o.Scopes},
			client:  client,
			timeout: timeout,
			lock:    make(chan struct{}, 1),
		}, nil
	}
	return nil, errors.New("no credential")
}

func bearerSecret(b *config.Bearer) (string, error) {
	if b.Env != "" {
		v := strings.TrimSpace(os.Getenv(b.Env))
		if v == "" {
			return "", fmt.Errorf("auth: environment variable %s is empty or unset", b.Env)
		}
		if !validHeaderValue(v) {
			return "", fmt.Errorf("auth: environment variable %s holds characters a header cannot carry", b.Env)
		}
		return v, nil
	}
	v, err := readSecret(b.File)
	if err == nil && !validHeaderValue(v) {
		err = fmt.Errorf("auth: %s holds characters a header cannot carry", b.File)
	}
	return v, err
}

// staticCred is a precomputed Authorization value.
type staticCred string

func (s staticCred) authorization(context.Context) (string, error) { return string(s), nil }

// oauth2Source runs the client credentials grant and keeps the token until
// shortly (10s) before it expires. One fetch runs at a time, bounded by
// timeout (the upstream's: a request's one deadline); the callers waiting
// for it get its token, or its failure, rather than fetching again one
// after the other. After a failure, callers get it at once for
// tokenRetryAfter, so a token endpoint that is down is not called once per
// request.
type oauth2Source struct {
	cfg     clientcredentials.Config
	client  *http.Client
	timeout time.Duration
	lock    chan struct{}
	tok     *oauth2.Token
	failed  error     // the last fetch's failure
	failAt  time.Time // when it ended
}

// tokenRetryAfter is how long a failed token fetch is reported to callers
// before the next one is tried.
const tokenRetryAfter = time.Second

func (s *oauth2Source) authorization(ctx context.Context) (string, error) {
	start := time.Now()
	select {
	case s.lock <- struct{}{}:
	default: // a fetch is running: wait for it, within this request's deadline
		wait := time.NewTimer(s.timeout)
		defer wait.Stop()
		select {
		case s.lock <- struct{}{}:
		case <-ctx.Done():
			return "", noAnswer{fmt.Errorf("auth: oauth2: %w", ctx.Err())}
		case <-wait.C:
			return "", noAnswer{errors.New("auth: oauth2: timed out waiting for the token endpoint")}
		}
	}
	defer func() { <-s.lock }()
	if !s.tok.Valid() {
		if s.failed != nil && (s.failAt.After(start) || time.Since(s.failAt) < tokenRetryAfter) {
			return "", s.failed // the fetch this call waited for, or one just before it, failed
		}
		fctx, cancel := context.WithTimeout(context.WithValue(ctx, oauth2.HTTPClient, s.client), s.timeout)
		tok, err := s.cfg.Token(fctx)
		cancel()
		if err != nil {
			s.failed, s.failAt = tokenError(err), time.Now()
			return "", s.failed
		}
		s.failed = nil
		if !validHeaderValue(tok.AccessToken) || !validHeaderValue(tok.Type()) {
			return "", errors.New("auth: oauth2: the token endpoint answered a token a header cannot carry")
		}
		s.tok = tok
	}
	return s.tok.Type() + " " + s.tok.AccessToken, nil
}

// tokenError describes a failed token request without anything the token
// endpoint sent back (which may echo the request, secret included).
func tokenError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		// The error code is logged only when it is a short RFC 9110
		// token (the characters of a header name).
		code := re.ErrorCode
		if len(code) > 64 || !httpguts.ValidHeaderFieldName(code) {
			code = "-"
		}
		err := fmt.Errorf("auth: oauth2: the token endpoint refused: status %d, error %s", status, code)
		if status >= 500 {
			return noAnswer{err}
		}
		return err
	}
	for _, c := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, c) {
			return noAnswer{fmt.Errorf("auth: oauth2: token request: %w", c)}
		}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// The transport's own error (dial, TLS, timeout): it names the
		// token URL at most, which holds no credential (Validate).
		return noAnswer{fmt.Errorf("auth: oauth2: the token endpoint is unreachable: %v", ue.Err)}
	}
	return errors.New("auth: oauth2: the token endpoint's answer is not a usable token")
}

// ErrNoAnswer is what a credential's error is (errors.Is) when the token
// endpoint gave no usable answer: unreachable, timed out, or a 5xx. It is
// down, rather than refusing userbridge.
var ErrNoAnswer = errors.New("auth: the token endpoint gave no answer")

// noAnswer is a token fetch that got no usable answer: ErrNoAnswer, with
// its own text.
type noAnswer struct{ error }

func (e noAnswer) Is(target error) bool { return target == ErrNoAnswer }
func (e noAnswer) Unwrap() error        { return e.error }

// validHeaderValue reports whether s can be sent in a header as is.
func validHeaderValue(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

var (
	_ credSource = staticCred("")
	_ credSource = (*oauth2Source)(nil)
)
