package auth

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/mapping/canonical"
)

func TestJWTAccepted(t *testing.T) {
	rsaKey, ecKey := newRSAKey(t, "rsa-1"), newECKey(t, "ec-1")
	p := newIDP(t, rsaKey, ecKey)
	a := newAuth(t, jwtConfig(p.URL), Options{Dialect: Dialect{Name: "baasic"}})
	for _, tc := range []struct {
		name, header string
	}{
		{"RS256, Bearer", "Bearer " + rsaKey.sign(t, claims(nil))},
		{"ES256, Bearer", "Bearer " + ecKey.sign(t, claims(nil))},
		{"Baasic's BEARER", "BEARER " + rsaKey.sign(t, claims(nil))},
		{"lower case bearer", "bearer " + ecKey.sign(t, claims(nil))},
		{"no scheme word (Trusted Twin)", rsaKey.sign(t, claims(nil))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr, e := a.Authenticate(request("Authorization", tc.header))
			if e != nil {
				t.Fatalf("refused: %v", e)
			}
			if pr.Subject != "u-alice" || pr.Username != "alice" || pr.ID != "u-alice" || pr.Method != MethodJWT {
				t.Errorf("principal %+v", pr)
			}
			if !slices.Equal(pr.Roles, []string{"editor"}) || !slices.Equal(pr.Scopes, []string{"users:write", "profile"}) {
				t.Errorf("roles %v scopes %v", pr.Roles, pr.Scopes)
			}
		})
	}
}

func TestJWTClaimsMapping(t *testing.T) {
	k := newRSAKey(t, "k")
	p := newIDP(t, k)
	c := jwtConfig(p.URL)
	c.JWT.UsernameClaim, c.JWT.IDClaim, c.JWT.RolesClaim = "email", "uid", "roles"
	c.JWT.RequiredClaims = map[string]string{"email_verified": "true", "groups": "staff", "tenant": "", "realm_access.level": "3"}
	a := newAuth(t, c, Options{})
	tok := k.sign(t, claims(map[string]any{
		"email": "alice@example.com", "uid": "42", "roles": "admin editor", "scope": nil,
		"scp": []string{"a", "b"}, "email_verified": true, "groups": []string{"x", "staff"}, "tenant": "t1",
		"realm_access": map[string]any{"level": 3},
	}))
	pr, e := a.Authenticate(request("Authorization", "Bearer "+tok))
	if e != nil {
		t.Fatal(e)
	}
	if pr.Username != "alice@example.com" || pr.ID != "42" || !slices.Equal(pr.Roles, []string{"admin", "editor"}) || !slices.Equal(pr.Scopes, []string{"a", "b"}) {
		t.Errorf("principal %+v", pr)
	}
}

func TestJWTRefused(t *testing.T) {
	k, ec := newRSAKey(t, "rsa-1"), newECKey(t, "ec-1")
	p := newIDP(t, k, ec)
	c := jwtConfig(p.URL)
	c.JWT.RequiredClaims = map[string]string{"email_verified": "true"}
	logs := &logBuffer{}
	a := newAuth(t, c, Options{Logger: logs.logger()})
	now := time.Now()
	ok := map[string]any{"email_verified": true}
	with := func(over map[string]any) jwt.MapClaims {
		m := map[string]any{"email_verified": true}
		for k, v := range over {
			m[k] = v
		}
		return claims(m)
	}
	if _, e := a.Authenticate(request("Authorization", "Bearer "+k.sign(t, claims(ok)))); e != nil {
		t.Fatalf("the control token is refused: %v", e)
	}
	pub := &k.signer.(*rsa.PrivateKey).PublicKey
	der, _ := x509.MarshalPKIXPublicKey(pub)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	hs := func(secret []byte) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, with(nil))
		tok.Header["kid"] = "rsa-1"
		s, err := tok.SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	none := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, with(nil))
		tok.Header["kid"] = "rsa-1"
		s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	stranger := newRSAKey(t, "rsa-1") // same kid, key not in the JWKS
	tampered := func() string {
		parts := strings.Split(k.sign(t, with(nil)), ".")
		body := claims(map[string]any{"email_verified": true, "sub": "u-admin"})
		other := strings.Split(k.sign(t, body), ".")
		return parts[0] + "." + other[1] + "." + parts[2]
	}
	ecWithRSAKid := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, with(nil))
		tok.Header["kid"] = "rsa-1"
		s, _ := tok.SignedString(ec.signer)
		return s
	}
	for _, tc := range []struct {
		name, token, reason string
		want                *canonical.Error
	}{
		{"expired", k.sign(t, with(map[string]any{"exp": now.Add(-time.Minute).Unix()})), "expired", errExpired},
		{"expired beyond the skew only", k.sign(t, with(map[string]any{"exp": now.Add(-31 * time.Second).Unix(), "iat": now.Add(-time.Hour).Unix(), "nbf": nil})), "expired", errExpired},
		{"exp beyond the dates a clock holds", k.sign(t, with(map[string]any{"exp": 1e300})), "invalid exp claim: not a date", errToken},
		{"exp before year 1", k.sign(t, with(map[string]any{"exp": -1e300})), "invalid exp claim: not a date", errToken},
		{"nbf beyond the dates a clock holds", k.sign(t, with(map[string]any{"nbf": 1e300})), "invalid nbf claim: not a date", errToken},
		{"iat beyond the dates a clock holds", k.sign(t, with(map[string]any{"iat": 1e19})), "invalid iat claim: not a date", errToken},
		{"not yet valid", k.sign(t, with(map[string]any{"nbf": now.Add(time.Hour).Unix()})), "not valid yet", errToken},
		{"issued in the future", k.sign(t, with(map[string]any{"iat": now.Add(time.Hour).Unix()})), "issued in the future", errToken},
		{"no exp", k.sign(t, with(map[string]any{"exp": nil})), "required claim", errToken},
		{"wrong issuer", k.sign(t, with(map[string]any{"iss": "https://evil.example.com/"})), "wrong issuer", errToken},
		{"no issuer", k.sign(t, with(map[string]any{"iss": nil})), "wrong issuer", errToken},
		{"wrong audience", k.sign(t, with(map[string]any{"aud": "someone-else"})), "wrong audience", errToken},
		{"no audience", k.sign(t, with(map[string]any{"aud": nil})), "wrong audience", errToken},
		{"required claim missing", k.sign(t, claims(nil)), "required claim email_verified", errToken},
		{"required claim different", k.sign(t, with(map[string]any{"email_verified": false})), "required claim email_verified", errToken},
		{"alg none", none(), "bad signature or algorithm", errToken},
		{"HS256 keyed with the public key (PEM)", hs(pemKey), "bad signature or algorithm", errToken},
		{"HS256 keyed with the public key (DER)", hs(der), "bad signature or algorithm", errToken},
		{"ES256 under an RSA key's kid", ecWithRSAKid(), "", errToken},
		{"unknown kid", newRSAKey(t, "nobody").sign(t, with(nil)), "unknown key id", errToken},
		{"signed by another key under a known kid", stranger.sign(t, with(nil)), "bad signature", errToken},
		{"claims swapped under a valid signature", tampered(), "bad signature", errToken},
		{"no subject nor username", k.sign(t, with(map[string]any{"sub": nil, "preferred_username": nil})), "no usable sub", errToken},
		{"garbage", "Bearer not-a-token", "malformed", errToken},
		{"JWE-shaped", "Bearer a.b.c.d.e", "malformed", errToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tokHeader := tc.token
			if !strings.HasPrefix(tokHeader, "Bearer ") {
				tokHeader = "Bearer " + tokHeader
			}
			pr, e := a.Authenticate(request("Authorization", tokHeader))
			if e == nil {
				t.Fatalf("accepted as %+v", pr)
			}
			if e != tc.want || e.HTTPStatus() != 401 {
				t.Errorf("got %v (%d), want %v", e, e.HTTPStatus(), tc.want)
			}
			tok := strings.TrimPrefix(tokHeader, "Bearer ")
			if strings.Contains(e.Error(), tok) {
				t.Error("the error echoes the token")
			}
			if !strings.Contains(logs.String(), tc.reason) {
				t.Errorf("the log does not say %q:\n%s", tc.reason, logs.String())
			}
			if len(tok) > 20 && strings.Contains(logs.String(), tok) {
				t.Error("the log holds the token")
			}
		})
	}
}

func TestJWTAlgorithmsConfigured(t *testing.T) {
	k, ec := newRSAKey(t, "rsa-1"), newECKey(t, "ec-1")
	p := newIDP(t, k, ec)
	c := jwtConfig(p.URL)
	c.JWT.Algorithms = []string{"ES256"}
	a := newAuth(t, c, Options{})
	if _, e := a.Authenticate(request("Authorization", "Bearer "+ec.sign(t, claims(nil)))); e != nil {
		t.Errorf("ES256 refused: %v", e)
	}
	if _, e := a.Authenticate(request("Authorization", "Bearer "+k.sign(t, claims(nil)))); e == nil {
		t.Error("RS256 accepted though only ES256 is configured")
	}
}

func TestJWTKeyRotation(t *testing.T) {
	old, next := newRSAKey(t, "2024"), newECKey(t, "2025")
	p := newIDP(t, old)
	a := newAuth(t, jwtConfig(p.URL), Options{})
	auth := func(k *signingKey) *canonical.Error {
		_, e := a.Authenticate(request("Authorization", "Bearer "+k.sign(t, claims(nil))))
		return e
	}
	if e := auth(old); e != nil {
		t.Fatalf("old key refused: %v", e)
	}
	// The provider rotates: it publishes the new key, and tokens signed
	// by it arrive before the periodic refresh. The first unknown kid
	// fetches the JWKS at once.
	p.setKeys(old, next)
	before := p.fetches.Load()
	if e := auth(next); e != nil {
		t.Fatalf("after rotation, the new kid is refused: %v", e)
	}
	if p.fetches.Load() != before+1 {
		t.Errorf("rotation fetched the JWKS %d times, want once", p.fetches.Load()-before)
	}
	if e := auth(old); e != nil {
		t.Errorf("the old key, still published, is refused: %v", e)
	}

	// A flood of unknown kids does not reach the provider again within the
	// minute, and is refused without waiting.
	stranger := newRSAKey(t, "x").sign(t, claims(nil))
	before = p.fetches.Load()
	start := time.Now()
	for i := 0; i < 20; i++ {
		if _, e := a.Authenticate(request("Authorization", "Bearer "+stranger)); e == nil {
			t.Fatal("unknown kid accepted")
		}
	}
	if n := p.fetches.Load() - before; n != 0 {
		t.Errorf("unknown kids fetched the JWKS %d more times", n)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("refusing unknown kids took %s", d)
	}
}

func TestJWTPeriodicRefresh(t *testing.T) {
	old, next := newRSAKey(t, "old"), newRSAKey(t, "new")
	p := newIDP(t, old)
	c := jwtConfig(p.URL)
	c.JWT.RefreshInterval = config.Duration(50 * time.Millisecond)
	a := newAuth(t, c, Options{})
	tok := old.sign(t, claims(nil))
	if _, e := a.Authenticate(request("Authorization", "Bearer "+tok)); e != nil {
		t.Fatal(e)
	}
	// The provider revokes the old key: the refresh drops it.
	p.setKeys(next)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, e := a.Authenticate(request("Authorization", "Bearer "+tok))
		if e != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a revoked key is still accepted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, e := a.Authenticate(request("Authorization", "Bearer "+next.sign(t, claims(nil)))); e != nil {
		t.Errorf("the new key is refused: %v", e)
	}
	// Close stops the refresh.
	a.Close()
	time.Sleep(100 * time.Millisecond)
	n := p.fetches.Load()
	time.Sleep(200 * time.Millisecond)
	if p.fetches.Load() != n {
		t.Error("the JWKS is still fetched after Close")
	}
}

func TestJWTProviderDownAtStart(t *testing.T) {
	k := newRSAKey(t, "k")
	p := newIDP(t, k)
	url := p.URL
	p.Close()
	logs := &logBuffer{}
	a := newAuth(t, jwtConfig(url), Options{Logger: logs.logger()})
	if _, e := a.Authenticate(request("Authorization", "Bearer "+k.sign(t, claims(nil)))); e != errToken {
		t.Errorf("got %v, want %v", e, errToken)
	}
	if !strings.Contains(logs.String(), "fetching the JWKS failed") {
		t.Errorf("the failure is not logged:\n%s", logs.String())
	}
}

func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		in, tok string
		ok      bool
	}{
		{"Bearer a.b.c", "a.b.c", true},
		{"BEARER a.b.c", "a.b.c", true},
		{"bEaReR   a.b.c", "a.b.c", true},
		{"a.b.c", "a.b.c", true},
		{"Bearer opaque", "opaque", true},
		{"Bearer ", "", false},
		{"opaque-secret", "opaque-secret", false},
		{"Basic dXNlcjpwdw==", "", false},
		{"a..c", "a..c", false},
		{"a.b.c.d", "a.b.c.d", false},
	} {
		tok, ok := bearerToken(tc.in)
		if tok != tc.tok || ok != tc.ok {
			t.Errorf("bearerToken(%q) = %q, %v; want %q, %v", tc.in, tok, ok, tc.tok, tc.ok)
		}
	}
}
