package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/testutil"
	"go.uber.org/goleak"
	"golang.org/x/crypto/bcrypt"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// writeFile writes content to a file in a test directory and returns its
// path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func bcryptHash(t *testing.T, pw string, cost int) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// newAuth builds an Authenticator that is closed when the test ends.
func newAuth(t *testing.T, c config.Auth, o Options) *Authenticator {
	t.Helper()
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	a, err := New(context.Background(), c, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(a.Close)
	return a
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// logBuffer is a logger that keeps what was logged.
type logBuffer struct{ testutil.LogBuffer }

func (l *logBuffer) logger() *slog.Logger { return l.Logger() }

func request(headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPut, "/users/42", nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

// signingKey is a key the test identity provider signs with.
type signingKey struct {
	kid    string
	alg    jwt.SigningMethod
	signer any
	jwk    map[string]any
}

func newRSAKey(t *testing.T, kid string) *signingKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &signingKey{kid: kid, alg: jwt.SigningMethodRS256, signer: k, jwk: map[string]any{
		"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes()),
	}}
}

func newECKey(t *testing.T, kid string) *signingKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := k.PublicKey.Bytes() // uncompressed point: 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	return &signingKey{kid: kid, alg: jwt.SigningMethodES256, signer: k, jwk: map[string]any{
		"kty": "EC", "kid": kid, "use": "sig", "alg": "ES256", "crv": "P-256",
		"x": b64(pub[1:33]), "y": b64(pub[33:]),
	}}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// sign makes a token with the key; claims may override the defaults.
func (k *signingKey) sign(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(k.alg, claims)
	tok.Header["kid"] = k.kid
	s, err := tok.SignedString(k.signer)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// idp is a test identity provider serving a JWKS that can be changed.
type idp struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []*signingKey
	fetches atomic.Int32
}

func newIDP(t *testing.T, keys ...*signingKey) *idp {
	t.Helper()
	p := &idp{keys: keys}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fetches.Add(1)
		p.mu.Lock()
		set := map[string]any{"keys": []any{}}
		for _, k := range p.keys {
			set["keys"] = append(set["keys"].([]any), k.jwk)
		}
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *idp) setKeys(keys ...*signingKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = keys
}

const (
	testIssuer   = "https://idp.example.com/"
	testAudience = "userbridge"
)

// claims are valid claims for alice, with overrides; a nil value deletes.
func claims(over map[string]any) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"iss": testIssuer, "aud": []string{"other", testAudience}, "sub": "u-alice",
		"preferred_username": "alice", "iat": now.Unix(), "nbf": now.Unix(),
		"exp":          now.Add(time.Hour).Unix(),
		"realm_access": map[string]any{"roles": []string{"editor"}},
		"scope":        "users:write profile",
	}
	for k, v := range over {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

func jwtConfig(url string) config.Auth {
	return config.Auth{Mode: config.ModeVerify, JWT: &config.JWT{
		JWKSURL: url, Issuer: testIssuer, Audience: []string{testAudience},
		RolesClaim: "realm_access.roles",
	}}
}
