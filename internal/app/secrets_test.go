package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/userbridge/userbridge/mapping/canonical"
)

// The secrets a client sends. Each is distinctive, so that any copy of it,
// anywhere, is found.
const (
	secretPassword  = "Pw-S3cret!zq81"
	secretBearer    = "AUTH-S3CRET-zq82"
	secretSession   = "SESSION-S3CRET-zq83"
	secretXSRF      = "XSRF-S3CRET-zq84"
	secretAPIKey    = "APIKEY-S3CRET-zq85"
	secretAPISecret = "APISECRET-S3CRET-zq86"
	secretTenantKey = "tenantkey-s3cret-zq87"
	secretBasicPass = "BASICPASS-S3CRET-zq88"
	secretTTSecret  = "TTSECRET-S3CRET-zq89"
	secretWeak      = "weak-s3cret-zq90" // a password Shift refuses: no upper case
)

// credentials never leave the request for anywhere but the upstream.
var credentials = []string{secretPassword, secretBearer, secretSession, secretXSRF, secretAPIKey, secretAPISecret,
	secretBasicPass, secretTTSecret, secretWeak, base64.StdEncoding.EncodeToString([]byte("USuser:" + secretBasicPass))}

// identifiers, such as Baasic's application key in the path (the tenant),
// are no credential: the caller may see them again, the logs and metrics
// never.
var identifiers = []string{secretTenantKey}

// secretRequest is one dialect request carrying every secret it can.
type secretRequest struct {
	d      dialectSpec
	path   string
	header map[string]string
	body   string
}

func secretRequests() []secretRequest {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("USuser:"+secretBasicPass))
	return []secretRequest{
		{specs[0], "/v1/" + secretTenantKey + "/users/jane.doe", map[string]string{"Authorization": "BEARER " + secretBearer},
			// Baasic's update ignores passwords: never forwarded either.
			`{"email":"jane@example.org","password":"` + secretPassword + `","confirmPassword":"` + secretPassword + `"}`},
		{specs[1], specs[1].path, map[string]string{"x-key": secretAPIKey, "x-secret": secretAPISecret, "Authorization": basic,
			"MediaSiloSessionKey": secretSession}, `{"firstName":"Johnny","password":"` + secretPassword + `"}`},
		{specs[2], specs[2].path, map[string]string{"Authorization": secretTTSecret}, `{"name":"Jane"}`},
		{specs[3], specs[3].path, map[string]string{"Authorization": basic, "Finix-Version": "2022-02-01"},
			`{"enabled":true,"password":"` + secretPassword + `"}`},
		{specs[4], specs[4].path, map[string]string{"Cookie": "JSESSIONID=" + secretSession + "; XSRF-TOKEN=" + secretXSRF,
			"X-XSRF-TOKEN": secretXSRF}, `{"username":"john.smith","password":"` + secretPassword + `"}`},
	}
}

// noSecret fails when text holds any credential, or any of more.
func noSecret(t *testing.T, where string, text []byte, more ...string) {
	t.Helper()
	for _, s := range append(more, credentials...) {
		if bytes.Contains(text, []byte(s)) {
			t.Errorf("%s holds the secret %q:\n%s", where, s, text)
		}
	}
}

// headerText is a response's headers as text.
func headerText(h http.Header) []byte {
	var b bytes.Buffer
	_ = h.Write(&b)
	return b.Bytes()
}

// TestSecretsStayOut sends every dialect's credentials and passwords
// through success, upstream errors (one of which echoes everything it got)
// and userbridge's own refusals: none appears in a client's answer (body or
// headers), in the logs (at debug level), in the metrics or in the probes.
// Only the upstream receives the credentials, and the password where the
// dialect updates it.
func TestSecretsStayOut(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, e2eConfig)
	echo := func(status int, code string) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			var all bytes.Buffer
			_ = r.Header.Write(&all)
			all.WriteString(r.URL.String())
			for _, got := range rec.requests() {
				all.Write(got.Body)
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("WWW-Authenticate", `Bearer realm="idp"`)
			w.WriteHeader(status)
			msg := strings.NewReplacer(`"`, `'`, "\\", "/", "\r", " ", "\n", " ").Replace(all.String())
			_, _ = w.Write([]byte(`{"error":{"code":"` + code + `","message":"rejected: ` + msg + `","field":"password"}}`))
		}
	}
	replies := []struct {
		name  string
		reply func(w http.ResponseWriter, r *http.Request)
	}{
		{"success", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(userFor(r))
		}},
		{"401 echoing the request", echo(401, "unauthorized")},
		{"400 echoing the request", echo(400, "invalid_field")},
		{"403 echoing the request", echo(403, "forbidden")},
		{"500 echoing the request", echo(500, "internal")},
		{"503 echoing the request", echo(503, "unavailable")},
		// The upstream client keeps 512 bytes of a message: this cut falls
		// inside the password.
		{"400 cut inside the password", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			msg := strings.Repeat("x", 504) + secretPassword
			_, _ = w.Write([]byte(`{"error":{"code":"invalid_field","message":"` + msg + `","field":"password"}}`))
		}},
	}
	for _, sr := range secretRequests() {
		hdr := map[string]string{"Content-Type": "application/json"}
		for k, v := range sr.header {
			hdr[k] = v
		}
		for _, rp := range replies {
			t.Run(sr.d.name+"/"+rp.name, func(t *testing.T) {
				rec.set(rp.reply)
				a := s.do(t, sr.d.method, sr.path, hdr, sr.body)
				var cut []string // where the password went upstream, even its start is redacted
				if sr.d.name == "shift" || sr.d.name == "crafter" {
					cut = append(cut, secretPassword[:8])
				}
				noSecret(t, "the answer's body", a.Body, cut...)
				noSecret(t, "the answer's headers", headerText(a.Header))
				reqs := rec.requests()
				if len(reqs) == 0 {
					t.Fatalf("nothing forwarded: %d %s", a.Status, a.Body)
				}
				var patch []byte
				for _, r := range reqs {
					if r.Method == http.MethodPatch {
						patch = r.Body
					}
				}
				// (Shift's password check GETs the stored user first: on an
				// error reply there is no PATCH.)
				forwardsPassword := sr.d.name == "shift" || sr.d.name == "crafter"
				if got := bytes.Contains(patch, []byte(secretPassword)); patch != nil && got != forwardsPassword {
					t.Errorf("password forwarded: %v, want %v: %s", got, forwardsPassword, patch)
				}
			})
		}
	}

	// userbridge's own refusals of requests holding secrets.
	refusals := []struct {
		d    dialectSpec
		body string
		code canonical.Code
	}{
		{specs[1], `{"password":"` + secretWeak + `"}`, canonical.InvalidField},
		{specs[1], `{"userName":"zq81","password":"` + secretPassword + `"}`, canonical.InvalidField}, // contains the username
		{specs[1], `{"password":["` + secretPassword + `"]}`, canonical.InvalidField},
		{specs[1], `{"password":"` + secretPassword + `","password":"` + secretPassword + `"}`, canonical.InvalidField},
		{specs[1], `{"password":"` + secretPassword + `" "x":1}`, canonical.BadRequest},
		{specs[1], `{"password":"` + secretPassword + "\xff" + `"}`, canonical.BadRequest},
		{specs[4], `{"username":"john.smith","password":` + `{"v":"` + secretPassword + `"}}`, canonical.InvalidField},
		{specs[4], `{"username":"john.smith","password":"` + secretPassword + `",` + strings.Repeat(`"f":1,`, 1) + `"f":2}`, canonical.InvalidField},
		{specs[4], `{"username":"../` + secretPassword + `","password":"x"}`, canonical.InvalidField},
	}
	for i, rf := range refusals {
		sr := secretRequests()[map[string]int{"shift": 1, "crafter": 4}[rf.d.name]]
		hdr := map[string]string{"Content-Type": "application/json"}
		for k, v := range sr.header {
			hdr[k] = v
		}
		rec.set(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(userFor(r)) // the stored user, for the username check
		})
		a := s.do(t, rf.d.method, sr.path, hdr, rf.body)
		if rf.code != "" && a.Status != statusOf(rf.d, rf.code) {
			t.Errorf("refusal %d: status %d, want %d: %s", i, a.Status, statusOf(rf.d, rf.code), a.Body)
		}
		noSecret(t, "a refusal's body", a.Body)
		noSecret(t, "a refusal's headers", headerText(a.Header))
		for _, up := range rec.requests() {
			if up.Method == http.MethodPatch {
				t.Errorf("refusal %d forwarded an update: %s", i, up.Body)
			}
		}
	}

	// Not found and not allowed, outside any dialect.
	for _, p := range []string{"/v1/" + secretTenantKey, "/nowhere/" + secretAPIKey} {
		a := s.do(t, "DELETE", p, map[string]string{"Authorization": "Bearer " + secretBearer}, "")
		noSecret(t, "a 404's headers", headerText(a.Header))
		if bytes.Contains(a.Body, []byte("Bearer")) {
			t.Errorf("a 404 shows the Authorization header: %s", a.Body)
		}
	}

	for _, probe := range []string{"/healthz", "/readyz", "/metrics"} {
		a := s.do(t, "GET", probe, nil, "")
		if a.Status == http.StatusNotFound {
			continue
		}
		noSecret(t, probe, a.Body, identifiers...)
	}
	logs := s.logs.String()
	if !strings.Contains(logs, `"msg":"request"`) {
		t.Fatalf("no access lines captured:\n%s", logs)
	}
	noSecret(t, "the logs", []byte(logs), identifiers...)
}

// testTranslateRedacts runs `userbridge translate` (the built binary, see
// TestBinary) on bodies with a password: the password never appears on its
// output, on success or on refusal.
func testTranslateRedacts(t *testing.T, bin string) {
	cases := []struct {
		dialect, path, body string
		exit                int
	}{
		{"shift", "/v3/users/u1", `{"userName":"bob","password":"` + secretPassword + `"}`, 0},
		{"crafter", "", `{"username":"bob","password":"` + secretPassword + `"}`, 0},
		{"shift", "/v3/users/u1", `{"userName":"zq81","password":"` + secretPassword + `"}`, 1},
		{"shift", "/v3/users/u1", `{"password":"` + secretWeak + `"}`, 1},
		{"shift", "/v3/users/u1", `{"password":"` + secretPassword + `" junk}`, 1},
		{"baasic", "/v1/app/users/bob", `{"password":"` + secretPassword + `","email":"b@example.org"}`, 0},
		{"finix", "/users/US1", `{"password":"` + secretPassword + `","enabled":true}`, 0},
	}
	for _, c := range cases {
		args := []string{"translate", "--dialect", c.dialect}
		if c.path != "" {
			args = append(args, "--path", c.path)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Stdin = strings.NewReader(c.body)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		cancel()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != c.exit {
			t.Errorf("%s %s: exit %d, want %d: %s %s", c.dialect, c.body, code, c.exit, out.String(), errb.String())
		}
		noSecret(t, "translate's output", out.Bytes())
		noSecret(t, "translate's messages", errb.Bytes())
		if code == 0 && (c.dialect == "shift" || c.dialect == "crafter") && !strings.Contains(out.String(), "[redacted]") {
			t.Errorf("%s: no redacted password in %s", c.dialect, out.String())
		}
	}
}
