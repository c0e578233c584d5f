package auth

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/userbridge/userbridge/config"
)

// unknownKIDRefresh is the least time between two JWKS fetches caused by
// tokens naming a key id the set does not hold (a rotation at the
// provider); more often would let anyone make userbridge hammer it.
const unknownKIDRefresh = time.Minute

// jwtVerifier checks bearer tokens against a JWKS.
type jwtVerifier struct {
	keys     keyfunc.Keyfunc
	parser   *jwt.Parser
	required map[string]string
	username string
	id       string
	roles    string
	scope    string
}

func newJWTVerifier(ctx context.Context, j *config.JWT, client *http.Client, log *slog.Logger) (*jwtVerifier, error) {
	refresh := j.RefreshInterval.D()
	if refresh == 0 {
		refresh = config.DefaultRefreshInterval
	}
	skew := j.ClockSkew.D()
	if skew == 0 {
		skew = config.DefaultClockSkew
	}
	algs := j.Algorithms
	if len(algs) == 0 {
		algs = config.JWTAlgorithms()
	}
	url := j.JWKSURL
	noErr := true // a provider down at start must not stop userbridge; tokens fail until it answers
	keys, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{url}, keyfunc.Override{
		Client:                    client,
		HTTPTimeout:               10 * time.Second,
		NoErrorReturnFirstHTTPReq: &noErr,
		RefreshInterval:           refresh,
		RefreshUnknownKID:         rate.NewLimiter(rate.Every(unknownKIDRefresh), 1),
		// Bounds both the wait for the limiter and the fetch itself: a
		// token with an unknown kid is refused at once when the next
		// fetch is allowed later than this.
		RateLimitWaitMax: 5 * time.Second,
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				log.WarnContext(ctx, "auth: fetching the JWKS failed", "url", redactURL(u), "error", err)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("auth: jwt: %w", err)
	}
	v := &jwtVerifier{
		keys: keys,
		parser: jwt.NewParser(
			jwt.WithValidMethods(algs),
			jwt.WithIssuer(j.Issuer),
			jwt.WithAudience(j.Audience...),
			jwt.WithLeeway(skew),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
		),
		required: j.RequiredClaims,
		username: cmp.Or(j.UsernameClaim, config.DefaultUsernameClaim),
		id:       cmp.Or(j.IDClaim, config.DefaultIDClaim),
		roles:    j.RolesClaim,
		scope:    j.ScopeClaim,
	}
	return v, nil
}

// errJWT says why a token was refused, for logs; callers get one message.
// err is the library's error the reason was read from, if one was: callers
// tell an expired token by it (errors.Is), never by the reason's words.
type errJWT struct {
	reason string
	err    error
}

func (e *errJWT) Error() string { return "auth: jwt: " + e.reason }
func (e *errJWT) Unwrap() error { return e.err }

// verify checks a compact JWS and returns its principal.
func (v *jwtVerifier) verify(ctx context.Context, raw string) (*Principal, error) {
	claims := jwt.MapClaims{}
	_, err := v.parser.ParseWithClaims(raw, claims, v.keys.KeyfuncCtx(ctx))
	if err == nil || errors.Is(err, jwt.ErrTokenInvalidClaims) { // signed by the provider: its claims are read
		if name := dateOutOfRange(claims); name != "" {
			return nil, &errJWT{reason: "invalid " + name + " claim: not a date (out of range)"}
		}
	}
	if err != nil {
		return nil, &errJWT{reason: jwtReason(err), err: err}
	}
	for name, want := range v.required {
		got, ok := claimAt(claims, name)
		if !ok || (want != "" && !claimHolds(got, want)) {
			return nil, &errJWT{reason: "required claim " + name + " missing or different"}
		}
	}
	sub, _ := claims["sub"].(string)
	p := &Principal{Subject: sub, Method: MethodJWT}
	p.Username = claimString(claims, v.username)
	p.ID = claimString(claims, v.id)
	if p.Subject == "" {
		p.Subject = p.Username
	}
	if !validHeaderValue(p.Subject) || p.Subject != strings.TrimSpace(p.Subject) || len(p.Subject) > 256 {
		return nil, &errJWT{reason: "no usable sub or username claim"}
	}
	if v.roles != "" {
		if c, ok := claimAt(claims, v.roles); ok {
			p.Roles = claimList(c)
		}
	}
	if v.scope != "" {
		if c, ok := claimAt(claims, v.scope); ok {
			p.Scopes = claimList(c)
		}
	} else if c, ok := claims["scope"]; ok {
		p.Scopes = claimList(c)
	} else if c, ok := claims["scp"]; ok {
		p.Scopes = claimList(c)
	}
	return p, nil
}

// The dates a NumericDate claim may hold, in seconds since 1970: years 1
// to 9999. golang-jwt turns seconds into an int64 without a check, and one
// beyond it wraps into the far past: an exp of 1e300 read as expired long
// ago, an nbf or iat of 1e300 as long past, so such a token was said to
// have expired, or not refused at all.
const (
	minNumericDate = -62135596800
	maxNumericDate = 253402300799
)

// dateOutOfRange names the first of exp, nbf and iat that is a number
// outside the dates a clock holds, or "" when none is.
func dateOutOfRange(claims jwt.MapClaims) string {
	for _, name := range []string{"exp", "nbf", "iat"} {
		if f, ok := claims[name].(float64); ok && (f < minNumericDate || f > maxNumericDate) {
			return name
		}
	}
	return ""
}

// jwtReason names why jwt refused a token, in words safe to log.
func jwtReason(err error) string {
	for _, r := range []struct {
		err    error
		reason string
	}{
		{jwt.ErrTokenExpired, "expired"},
		{jwt.ErrTokenNotValidYet, "not valid yet"},
		{jwt.ErrTokenUsedBeforeIssued, "issued in the future"},
		{jwt.ErrTokenInvalidIssuer, "wrong issuer"},
		{jwt.ErrTokenInvalidAudience, "wrong audience"},
		{jwt.ErrTokenRequiredClaimMissing, "a required claim is missing"},
		{jwt.ErrTokenMalformed, "malformed"},
		{jwkset.ErrKeyNotFound, "unknown key id"},
		{jwt.ErrTokenSignatureInvalid, "bad signature or algorithm"},
		{jwt.ErrTokenUnverifiable, "unverifiable"},
		{jwt.ErrInvalidKeyType, "algorithm does not fit the key"},
	} {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return "invalid"
}

// claimAt finds a claim by a dotted path into nested objects. A claim
// whose own name holds a dot is found first.
func claimAt(claims map[string]any, path string) (any, bool) {
	if v, ok := claims[path]; ok {
		return v, true
	}
	var cur any = claims
	for _, seg := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[seg]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func claimString(claims map[string]any, path string) string {
	v, ok := claimAt(claims, path)
	if !ok {
		return ""
	}
	s, _ := scalarString(v)
	return s
}

// claimHolds reports whether a claim is, or (an array) holds, want.
func claimHolds(v any, want string) bool {
	if arr, ok := v.([]any); ok {
		for _, x := range arr {
			if s, ok := scalarString(x); ok && s == want {
				return true
			}
		}
		return false
	}
	s, ok := scalarString(v)
	return ok && s == want
}

func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	return "", false
}

// claimList reads an array of strings or a space-separated string.
func claimList(v any) []string {
	switch x := v.(type) {
	case string:
		return strings.Fields(x)
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// bearerToken returns the token of an Authorization value: what follows a
// "Bearer " of any case, or (schemeless, as Trusted Twin clients send) the
// whole value when it is shaped like a compact JWS.
func bearerToken(v string) (string, bool) {
	if scheme, rest, ok := strings.Cut(v, " "); ok {
		if strings.EqualFold(scheme, "Bearer") {
			rest = strings.TrimSpace(rest)
			return rest, rest != ""
		}
		return "", false
	}
	return v, looksLikeJWT(v)
}

// looksLikeJWT reports whether s is three non-empty base64url segments.
func looksLikeJWT(s string) bool {
	parts := 0
	seg := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if seg == 0 {
				return false
			}
			parts++
			seg = 0
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			seg++
		default:
			return false
		}
	}
	return parts == 2 && seg > 0
}
