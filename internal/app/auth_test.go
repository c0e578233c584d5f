package app_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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
	"golang.org/x/crypto/bcrypt"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// The inbound auth modes through the real server: for each, callers that
// are accepted reach the upstream with userbridge's own credentials and
// X-Userbridge-Principal (never their own), and callers that are refused
// get the dialect's status and shape while the upstream receives nothing.

// Distinctive credentials: any copy of them upstream or in a log is found.
const (
	shiftKeyName   = "svc-shift-zq91"
	shiftSecret    = "SHIFT-S3CRET-zq92"
	upBearer       = "UP-BEARER-zq93"
	ttKey          = "TT-KEY-zq94"
	finixUser      = "USalice-zq95"
	finixPass      = "FINIX-PASS-zq96"
	upBasicPass    = "UP-BASIC-zq97"
	oauthSecret    = "OAUTH-CLIENT-S3CRET-zq98"
	oauthToken     = "at-zq99"
	jwtIssuer      = "https://idp.example.com/realms/acme"
	jwtAudience    = "userbridge"
	spoofPrincipal = "root"
)

func authFile(t *testing.T, name, content string) string {
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

func basicValue(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// authCase is one request and what must come of it.
type authCase struct {
	name   string
	header map[string]string // besides Content-Type
	body   string            // "" : the spec's
	path   string            // "" : the spec's
	// Accepted: the principal and the Authorization the upstream must see
	// ("" for none).
	principal, upAuth string
	// Refused: the canonical code and message the caller must be shown.
	code canonical.Code
	msg  string
}

// okUser answers every upstream call with the canonical user.
func okUser(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(userFor(r))
}

// runAuth sends each case and checks the answer and what the upstream got.
func runAuth(t *testing.T, s *started, rec *recorder, d dialectSpec, method string, cases []authCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec.set(okUser)
			hdr := map[string]string{"Content-Type": "application/json"}
			for k, v := range tc.header {
				hdr[k] = v
			}
			body, path := or(tc.body, d.body), or(tc.path, d.path)
			a := s.do(t, d.method, path, hdr, body)
			reqs := rec.requests()
			if tc.code != "" {
				want := tc.code.Status()
				if st, ok := d.status[tc.code]; ok {
					want = st
				}
				if a.Status != want {
					t.Fatalf("status %d, want %d: %s", a.Status, want, a.Body)
				}
				d.checkError(t, a, tc.code, tc.msg)
				if len(reqs) != 0 {
					t.Fatalf("a refused request reached the upstream: %d calls, first %s %s %v", len(reqs), reqs[0].Method, reqs[0].RawPath, reqs[0].Header)
				}
				return
			}
			if a.Status != d.success {
				t.Fatalf("status %d, want %d: %s", a.Status, d.success, a.Body)
			}
			if len(reqs) == 0 {
				t.Fatal("the upstream got nothing")
			}
			for _, up := range reqs {
				if got := up.Header.Get("X-Userbridge-Principal"); got != tc.principal {
					t.Errorf("%s: X-Userbridge-Principal %q, want %q", up.Method, got, tc.principal)
				}
				if got := up.Header.Values("Authorization"); strings.Join(got, ",") != tc.upAuth {
					t.Errorf("%s: Authorization %q, want %q", up.Method, got, tc.upAuth)
				}
				// None of the caller's credentials, under any name.
				for k, v := range tc.header {
					if strings.EqualFold(k, "Finix-Version") {
						if up.Header.Get(k) != v {
							t.Errorf("%s: %s not forwarded", up.Method, k)
						}
						continue
					}
					for name, vals := range up.Header {
						if name == "X-Userbridge-Principal" {
							continue // checked above; an API key's name is the principal
						}
						for _, uv := range vals {
							if strings.Contains(uv, v) || (len(uv) > 8 && strings.Contains(v, uv)) {
								t.Errorf("%s: the caller's %s reached the upstream as %s", up.Method, k, name)
							}
						}
					}
				}
			}
			if method != "" && !strings.Contains(s.logs.String(), `"auth":"`+method+`"`) {
				t.Errorf("no access line with auth %s", method)
			}
		})
	}
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// noPrincipalsLogged checks that the logs name no caller.
func noPrincipalsLogged(t *testing.T, s *started, names ...string) {
	t.Helper()
	logs := s.logs.String()
	for _, n := range names {
		if strings.Contains(logs, n) {
			t.Errorf("the logs name %q", n)
		}
	}
	for _, secret := range []string{shiftSecret, upBearer, ttKey, finixPass, upBasicPass, oauthSecret, oauthToken} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs hold a secret %q", secret)
		}
	}
}

// TestAuthShiftAPIKeys: Shift's x-key/x-secret pair, verified by userbridge,
// replaced upstream by its own bearer token.
func TestAuthShiftAPIKeys(t *testing.T) {
	rec, s := startShiftVerify(t)
	d := specNamed(t, "shift")
	runAuth(t, s, rec, d, "apikey", []authCase{
		{name: "key pair", header: map[string]string{"x-key": shiftKeyName, "x-secret": shiftSecret, "MediaSiloHostContext": "acme"},
			principal: shiftKeyName, upAuth: "Bearer " + upBearer},
		{name: "spoofed principal", header: map[string]string{"x-key": shiftKeyName, "x-secret": shiftSecret, "X-Userbridge-Principal": spoofPrincipal},
			principal: shiftKeyName, upAuth: "Bearer " + upBearer},
		{name: "wrong secret", header: map[string]string{"x-key": shiftKeyName, "x-secret": shiftSecret + "x"},
			code: canonical.Unauthorized, msg: "invalid credentials"},
		{name: "unknown key", header: map[string]string{"x-key": "svc-nobody", "x-secret": shiftSecret},
			code: canonical.Unauthorized, msg: "invalid credentials"},
		{name: "secret without its key", header: map[string]string{"x-secret": shiftSecret},
			code: canonical.Unauthorized, msg: "invalid credentials"},
		{name: "session key only", header: map[string]string{"MediaSiloSessionKey": "sess-1", "MediaSiloHostContext": "acme"},
			code: canonical.Unauthorized, msg: "authentication required"},
		{name: "nothing", code: canonical.Unauthorized, msg: "authentication required"},
		// Checked before the body: an unverified caller learns nothing of
		// the dialect's rules.
		{name: "invalid body, no credentials", body: `{"email":""`, code: canonical.Unauthorized, msg: "authentication required"},
	})
	noPrincipalsLogged(t, s, shiftKeyName)
}

// TestAuthTrustedTwinAPIKey: Trusted Twin's schemeless Authorization value
// is the key; without auth.upstream the upstream gets no credential, only
// the principal.
func TestAuthTrustedTwinAPIKey(t *testing.T) {
	rec := newRecorder(t)
	keys := authFile(t, "tt.keys", "tt-client:"+sha256Hex(ttKey)+":reader\n")
	s := start(t, `
dialects:
  trustedtwin:
    auth:
      mode: verify
      apiKeys: {file: `+keys+`}
`, rec.srv.URL, e2eConfig)
	d := specNamed(t, "trustedtwin")
	runAuth(t, s, rec, d, "apikey", []authCase{
		{name: "schemeless key", header: map[string]string{"Authorization": ttKey}, principal: "tt-client"},
		{name: "wrong key", header: map[string]string{"Authorization": ttKey + "0"}, code: canonical.Unauthorized, msg: "invalid credentials"},
		{name: "nothing", code: canonical.Unauthorized, msg: "authentication required"},
	})
}

// TestAuthFinixBasic: Finix's Basic credentials against a bcrypt file;
// userbridge's own Basic credentials upstream, Finix-Version still passed on.
func TestAuthFinixBasic(t *testing.T) {
	rec := newRecorder(t)
	h, err := bcrypt.GenerateFromPassword([]byte(finixPass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := authFile(t, "finix.htpasswd", finixUser+":"+string(h)+":admin\n")
	pw := authFile(t, "up.pw", upBasicPass+"\n")
	s := start(t, `
dialects:
  finix:
    auth:
      mode: verify
      basic: {file: `+htpasswd+`}
      upstream: {basic: {user: userbridge, passwordFile: `+pw+`}}
`, rec.srv.URL, e2eConfig)
	d := specNamed(t, "finix")
	own := basicValue("userbridge", upBasicPass)
	runAuth(t, s, rec, d, "basic", []authCase{
		{name: "basic", header: map[string]string{"Authorization": basicValue(finixUser, finixPass), "Finix-Version": "2022-02-01"},
			principal: finixUser, upAuth: own},
		{name: "again, remembered", header: map[string]string{"Authorization": basicValue(finixUser, finixPass), "Finix-Version": "2022-02-01"},
			principal: finixUser, upAuth: own},
		{name: "wrong password", header: map[string]string{"Authorization": basicValue(finixUser, finixPass+"!"), "Finix-Version": "2022-02-01"},
			code: canonical.Unauthorized, msg: "invalid credentials"},
		{name: "unknown user", header: map[string]string{"Authorization": basicValue("USmallory", finixPass)},
			code: canonical.Unauthorized, msg: "invalid credentials"},
		{name: "bearer instead", header: map[string]string{"Authorization": "Bearer " + finixPass},
			code: canonical.Unauthorized, msg: "invalid credentials"},
		{name: "nothing", code: canonical.Unauthorized, msg: "authentication required"},
	})
	noPrincipalsLogged(t, s, finixUser)
}

// idp is a test identity provider: an RSA key and its JWKS.
type idp struct {
	srv *httptest.Server
	key *rsa.PrivateKey
	kid string
}

func newIDP(t *testing.T) *idp {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &idp{key: k, kid: "k1"}
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, _ := json.Marshal(map[string]any{"keys": []any{map[string]any{"kty": "RSA", "kid": p.kid, "use": "sig", "alg": "RS256",
		"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}}})
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// token signs claims for a user (sub u-<user>, preferred_username user),
// valid for an hour; over overrides them, a nil value deletes.
func (p *idp) token(t *testing.T, user string, over map[string]any) string {
	t.Helper()
	return signToken(t, p.key, p.kid, user, over)
}

func signToken(t *testing.T, key *rsa.PrivateKey, kid, user string, over map[string]any) string {
	t.Helper()
	now := time.Now()
	c := jwt.MapClaims{"iss": jwtIssuer, "aud": jwtAudience, "sub": "u-" + user, "preferred_username": user,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range over {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tokenEndpoint is an OAuth2 token endpoint for the client credentials
// grant: it checks the client and counts what it issued. fail makes it
// refuse the client.
type tokenEndpoint struct {
	srv    *httptest.Server
	issued atomic.Int32
	mu     sync.Mutex
	scopes []string
	fail   bool
}

func newTokenEndpoint(t *testing.T, fail bool) *tokenEndpoint {
	t.Helper()
	te := &tokenEndpoint{fail: fail}
	te.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		w.Header().Set("Content-Type", "application/json")
		if te.fail || r.PostForm.Get("grant_type") != "client_credentials" || id != "userbridge" || secret != oauthSecret {
			w.WriteHeader(http.StatusUnauthorized)
			// An endpoint that echoes the secret: it must not be logged.
			_, _ = w.Write([]byte(`{"error":"invalid_client","error_description":"bad secret ` + secret + `"}`))
			return
		}
		te.mu.Lock()
		te.scopes = append(te.scopes, r.PostForm.Get("scope"))
		te.mu.Unlock()
		te.issued.Add(1)
		_, _ = w.Write([]byte(`{"access_token":"` + oauthToken + `","token_type":"Bearer","expires_in":3600}`))
	}))
	t.Cleanup(te.srv.Close)
	return te
}

func jwtBlock(p *idp) string {
	return `      jwt:
        jwksUrl: ` + p.srv.URL + `
        issuer: ` + jwtIssuer + `
        audience: [` + jwtAudience + `]
        rolesClaim: realm_access.roles
`
}

// TestAuthCrafterJWT: Crafter's "Required Role: Admin, self" with JWT
// callers and an OAuth2 client-credentials token upstream.
func TestAuthCrafterJWT(t *testing.T) {
	p := newIDP(t)
	te := newTokenEndpoint(t, false)
	rec := newRecorder(t)
	secret := authFile(t, "client.secret", oauthSecret+"\n")
	s := start(t, `
dialects:
  crafter:
    auth:
      mode: verify
`+jwtBlock(p)+`      upstream:
        oauth2: {tokenUrl: `+te.srv.URL+`, clientId: userbridge, clientSecretFile: `+secret+`, scopes: [users:write, users:read]}
      policy:
        roles: [admin]
        self: true
        selfCannotChange: [roles, active, extensions.crafter.externally_managed]
`, rec.srv.URL, e2eConfig)
	d := specNamed(t, "crafter")
	admin := p.token(t, "root.admin", map[string]any{"realm_access": map[string]any{"roles": []string{"admin"}}})
	john := p.token(t, "john.smith", map[string]any{"realm_access": map[string]any{"roles": []string{"editor"}}})
	expired := p.token(t, "john.smith", map[string]any{"exp": time.Now().Add(-time.Hour).Unix(), "iat": time.Now().Add(-2 * time.Hour).Unix()})
	otherAud := p.token(t, "root.admin", map[string]any{"aud": "another-app", "realm_access": map[string]any{"roles": []string{"admin"}}})
	// Dates no clock holds: golang-jwt wrapped them into the far past.
	farExp := p.token(t, "root.admin", map[string]any{"exp": 1e300, "realm_access": map[string]any{"roles": []string{"admin"}}})
	farNbf := p.token(t, "root.admin", map[string]any{"nbf": 1e300, "realm_access": map[string]any{"roles": []string{"admin"}}})
	stranger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	forged := signToken(t, stranger, p.kid, "root.admin", map[string]any{"realm_access": map[string]any{"roles": []string{"admin"}}})
	session := map[string]string{"Cookie": "JSESSIONID=abc123; XSRF-TOKEN=tok-1", "X-XSRF-TOKEN": "tok-1"}
	with := func(tok string) map[string]string {
		h := map[string]string{"Authorization": "Bearer " + tok}
		for k, v := range session {
			h[k] = v
		}
		return h
	}
	own := "Bearer " + oauthToken
	janeBody := `{"username":"jane.doe","first_name":"Janet"}`
	runAuth(t, s, rec, d, "jwt", []authCase{
		{name: "admin updates anyone", header: with(admin), body: janeBody, principal: "u-root.admin", upAuth: own},
		{name: "admin updates a protected field", header: with(admin), body: `{"username":"john.smith","externally_managed":"true"}`,
			principal: "u-root.admin", upAuth: own},
		{name: "self", header: with(john), principal: "u-john.smith", upAuth: own},
		{name: "someone else", header: with(john), body: janeBody, code: canonical.Forbidden, msg: "the caller may update only their own user"},
		{name: "self, a protected field", header: with(john), body: `{"username":"john.smith","externally_managed":"true"}`,
			code: canonical.Forbidden, msg: "a caller updating their own user may not change externally_managed"},
		{name: "expired", header: with(expired), code: canonical.Unauthorized},
		{name: "another audience", header: with(otherAud), body: janeBody, code: canonical.Unauthorized},
		{name: "exp 1e300", header: with(farExp), body: janeBody, code: canonical.Unauthorized, msg: "the token is not valid"},
		{name: "nbf 1e300", header: with(farNbf), body: janeBody, code: canonical.Unauthorized, msg: "the token is not valid"},
		{name: "forged signature", header: with(forged), body: janeBody, code: canonical.Unauthorized},
		{name: "session only", header: session, code: canonical.Unauthorized},
	})
	if n := te.issued.Load(); n != 1 {
		t.Errorf("the token endpoint issued %d tokens, want 1 (cached)", n)
	}
	te.mu.Lock()
	if len(te.scopes) != 1 || te.scopes[0] != "users:write users:read" {
		t.Errorf("scopes requested %q", te.scopes)
	}
	te.mu.Unlock()
	noPrincipalsLogged(t, s, "u-root.admin", "u-john.smith")
}

// TestAuthBaasicJWTScopes: Baasic's "BEARER <jwt>" (scheme in any case), a
// scope policy, and a static upstream token from the environment.
func TestAuthBaasicJWTScopes(t *testing.T) {
	p := newIDP(t)
	rec := newRecorder(t)
	t.Setenv("USERBRIDGE_TEST_BAASIC_TOKEN", upBearer)
	s := start(t, `
dialects:
  baasic:
    auth:
      mode: verify
`+jwtBlock(p)+`      upstream: {bearer: {env: USERBRIDGE_TEST_BAASIC_TOKEN}}
      policy: {scopes: [users:write]}
`, rec.srv.URL, e2eConfig)
	d := specNamed(t, "baasic")
	writer := p.token(t, "app-writer", map[string]any{"scope": "profile users:write"})
	reader := p.token(t, "app-reader", map[string]any{"scope": "profile users:read"})
	own := "Bearer " + upBearer
	runAuth(t, s, rec, d, "jwt", []authCase{
		{name: "scoped", header: map[string]string{"Authorization": "BEARER " + writer}, principal: "u-app-writer", upAuth: own},
		{name: "scoped, lower case scheme", header: map[string]string{"Authorization": "bearer " + writer}, principal: "u-app-writer", upAuth: own},
		{name: "without the scope", header: map[string]string{"Authorization": "BEARER " + reader},
			code: canonical.Forbidden, msg: "the caller lacks a required scope"},
		{name: "not a token", header: map[string]string{"Authorization": "BEARER 2a1b3c"}, code: canonical.Unauthorized, msg: "the token is not valid"},
		{name: "nothing", code: canonical.Unauthorized, msg: "authentication required"},
	})
	// The tenant still travels: verify does not bind callers to tenants.
	rec.set(okUser)
	s.do(t, d.method, d.path, map[string]string{"Content-Type": "application/json", "Authorization": "BEARER " + writer}, d.body)
	if reqs := rec.requests(); len(reqs) != 1 || reqs[0].Header.Get("X-Userbridge-Tenant") != d.upTenant {
		t.Errorf("tenant upstream: %v", reqs)
	}
}

// TestAuthOAuth2Refused: when the token endpoint refuses userbridge, a
// verified caller gets a 502 in its dialect and the upstream gets nothing;
// nothing the endpoint answered is logged.
func TestAuthOAuth2Refused(t *testing.T) {
	p := newIDP(t)
	te := newTokenEndpoint(t, true)
	rec := newRecorder(t)
	secret := authFile(t, "client.secret", oauthSecret+"\n")
	s := start(t, `
dialects:
  baasic:
    auth:
      mode: verify
`+jwtBlock(p)+`      upstream:
        oauth2: {tokenUrl: `+te.srv.URL+`, clientId: userbridge, clientSecretFile: `+secret+`}
`, rec.srv.URL, e2eConfig)
	d := specNamed(t, "baasic")
	runAuth(t, s, rec, d, "jwt", []authCase{
		{name: "no upstream token", header: map[string]string{"Authorization": "Bearer " + p.token(t, "app", nil)},
			code: canonical.BadGateway, msg: "userbridge could not obtain its credentials for the upstream"},
	})
	logs := s.logs.String()
	if !strings.Contains(logs, "invalid_client") {
		t.Errorf("the log does not say why: %s", logs)
	}
	noPrincipalsLogged(t, s, "u-app")
}

// TestAuthPassthrough: by default the caller's credential headers go
// upstream unchanged, and a caller can never set X-Userbridge-Principal.
func TestAuthPassthrough(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, e2eConfig)
	for _, name := range []string{"shift", "finix"} {
		d := specNamed(t, name)
		t.Run(name, func(t *testing.T) {
			rec.set(okUser)
			hdr := map[string]string{"Content-Type": "application/json", "X-Userbridge-Principal": spoofPrincipal}
			for k, v := range d.header {
				hdr[k] = v
			}
			if a := s.do(t, d.method, d.path, hdr, d.body); a.Status != d.success {
				t.Fatalf("status %d: %s", a.Status, a.Body)
			}
			up := rec.requests()[0]
			for k, v := range d.header {
				if up.Header.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, up.Header.Get(k), v)
				}
			}
			if got := up.Header.Values("X-Userbridge-Principal"); len(got) != 0 {
				t.Errorf("a caller set the principal: %q", got)
			}
		})
	}
	if !strings.Contains(s.logs.String(), `"auth":"passthrough"`) {
		t.Error("no access line with auth passthrough")
	}
}

// TestAuthConfigRefused: configuration that would lend userbridge's own
// upstream credentials to unchecked callers, or otherwise cannot work, is
// refused at once with every problem and where it is.
func TestAuthConfigRefused(t *testing.T) {
	cfg, err := config.Parse(config.Source{Name: "auth.yaml"}, []byte(`
upstream: {url: http://idp.internal}
dialects:
  shift:
    auth:
      upstream: {bearer: {env: TOKEN}}
  finix:
    auth:
      mode: passthrough
      basic: {file: /etc/htpasswd}
      policy: {roles: [admin]}
  crafter:
    enabled: false
    auth:
      mode: verify
      jwt: {jwksUrl: "http://idp.example.com/jwks", issuer: x}
  baasic:
    auth:
      mode: verify
      apiKeys: {file: /etc/keys}
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = cfg.Resolve(config.Source{Name: "auth.yaml"})
	if err == nil {
		t.Fatal("refused configuration resolved")
	}
	if !errors.Is(err, config.ErrInvalid) {
		t.Errorf("not ErrInvalid: %v", err)
	}
	for _, want := range []string{
		"dialects.shift.auth.upstream: userbridge's own upstream credentials need mode verify",
		"dialects.finix.auth.mode: apiKeys, basic and jwt check callers only in mode verify",
		"dialects.finix.auth.policy: a policy needs mode verify",
		"dialects.crafter.auth.jwt.jwksUrl: must be https",
		"dialects.crafter.auth.jwt.audience: required",
		"dialects.baasic.auth.apiKeys.header: required: dialect baasic has no default",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}

	// A bad duration is one more problem, not the only one reported.
	_, err = config.Parse(config.Source{Name: "d.yaml"}, []byte(`
dialects:
  crafter:
    auth: {jwt: {clockSkew: soon, refreshInterval: later}}
`))
	if err == nil || strings.Count(err.Error(), "is not a duration") != 2 {
		t.Errorf("durations: %v", err)
	}

	// The dialects' API key headers are their defaults.
	cfg, err = config.Parse(config.Source{Name: "ok.yaml"}, []byte(`
dialects:
  shift: {auth: {mode: verify, apiKeys: {file: /k}}}
  trustedtwin: {auth: {mode: verify, apiKeys: {file: /k}}}
  finix: {auth: {mode: verify, apiKeys: {file: /k, header: X-Api-Key}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	mounts, err := cfg.Resolve(config.Source{Name: "ok.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{"shift": {"x-secret", "x-key"}, "trustedtwin": {"Authorization", ""}, "finix": {"X-Api-Key", ""}}
	for _, m := range mounts {
		w, ok := want[m.Dialect.Name()]
		if !ok {
			continue
		}
		k := m.Auth.APIKeys
		if k == nil || k.Header != w[0] || k.IDHeader != w[1] {
			t.Errorf("%s: apiKeys %+v, want %v", m.Dialect.Name(), k, w)
		}
	}
	if cfg.Dialects["shift"].Auth.APIKeys.Header != "" {
		t.Error("the defaults changed the configuration as written")
	}
}

// TestAuthReload: a reload turns verify on (files named relative to the
// config file, read again), and one whose files cannot be read is refused
// while the running configuration keeps verifying.
func TestAuthReload(t *testing.T) {
	rec := okUpstream(t)
	h, err := bcrypt.GenerateFromPassword([]byte(finixPass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	base := "listen: 127.0.0.1:0\nupstream: {url: " + rec.srv.URL + "}\n"
	verify := base + "dialects:\n  finix:\n    auth: {mode: verify, basic: {file: %s}}\n"
	f := startFile(t, fileSetup{yaml: base, files: map[string]string{"finix.htpasswd": finixUser + ":" + string(h) + "\n"}})
	put := func(hdr map[string]string) (answer, int) {
		rec.set(okUser)
		a := finixPut(t, f.started, "/users/"+finixID, hdr)
		return a, len(rec.requests())
	}
	creds := map[string]string{"Authorization": basicValue(finixUser, finixPass)}
	if a, n := put(nil); a.Status != 200 || n == 0 {
		t.Fatalf("passthrough: %d, %d upstream calls", a.Status, n)
	}
	f.write(t, "config.yaml", fmt.Sprintf(verify, "finix.htpasswd"))
	if err := f.app.Reload(); err != nil {
		t.Fatal(err)
	}
	if a, n := put(nil); a.Status != 401 || n != 0 {
		t.Fatalf("verify, no credentials: %d, %d upstream calls", a.Status, n)
	}
	if a, n := put(creds); a.Status != 200 || n == 0 {
		t.Fatalf("verify: %d %s, %d upstream calls", a.Status, a.Body, n)
	}
	f.write(t, "config.yaml", fmt.Sprintf(verify, "missing.htpasswd"))
	if err := f.app.Reload(); err == nil || !strings.Contains(err.Error(), "dialects.finix.auth.basic.file") {
		t.Fatalf("a missing file reloaded: %v", err)
	}
	if a, n := put(nil); a.Status != 401 || n != 0 {
		t.Fatalf("after a refused reload: %d, %d upstream calls", a.Status, n)
	}
	if a, _ := put(creds); a.Status != 200 {
		t.Fatalf("after a refused reload, with credentials: %d %s", a.Status, a.Body)
	}
}

// TestOwnUpstreamCredentialRedacted: in verify mode the upstream receives
// userbridge's own credential; an upstream that echoes it in a 4xx message
// does not get it shown to the caller (it is no secret of the caller's,
// but it is userbridge's).
func TestOwnUpstreamCredentialRedacted(t *testing.T) {
	rec, s := startShiftVerify(t)
	rec.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":{"code":"bad_request","message":"rejected credential ` + r.Header.Get("Authorization") + `"}}`))
	})
	d := specNamed(t, "shift")
	a := s.do(t, d.method, d.path, map[string]string{"Content-Type": "application/json", "x-key": shiftKeyName, "x-secret": shiftSecret},
		`{"firstName":"Johnny"}`)
	if a.Status != http.StatusBadRequest || !strings.Contains(string(a.Body), "rejected credential") {
		t.Fatalf("status %d: %s", a.Status, a.Body)
	}
	if strings.Contains(string(a.Body), upBearer) {
		t.Errorf("the answer shows userbridge's own upstream credential: %s", a.Body)
	}
}

// startShiftVerify serves the e2e configuration with Shift in verify mode:
// its x-key/x-secret pair checked against a key file, userbridge's own
// bearer token sent upstream in its place; rec records the upstream.
func startShiftVerify(t *testing.T) (*recorder, *started) {
	t.Helper()
	rec := newRecorder(t)
	keys := authFile(t, "shift.keys", "# name:sha256(secret)\n"+shiftKeyName+":"+sha256Hex(shiftSecret)+"\n")
	tok := authFile(t, "up.token", upBearer+"\n")
	s := start(t, `
dialects:
  shift:
    auth:
      mode: verify
      apiKeys: {file: `+keys+`}
      upstream: {bearer: {file: `+tok+`}}
`, rec.srv.URL, e2eConfig)
	return rec, s
}
