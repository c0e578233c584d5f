package app_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/userbridge/userbridge/mapping/canonical"
)

// Tests of the request's edge through the real server (issue 18, classes 5
// and 6): path values that are not UTF-8, and headers that must say one
// thing sent twice. Each refusal is the dialect's, and the upstream, a
// recorder, receives nothing.

// badUTF8 are path values, as %-escaped in a request path, whose bytes are
// not UTF-8: overlong forms of "/" and ".", a stray byte, a UTF-8-encoded
// surrogate, a truncated sequence.
var badUTF8 = []string{"%C0%AF", "%ff", "a%C0%AEb", "%E0%80%AF", "..%C0%AFadmin", "%ED%A0%80", "jane%C3", "%F8%88%80%80%80"}

// TestPathValuesUTF8 sends every route parameter of every dialect values
// that are not UTF-8: each is refused with the dialect's invalid_field
// naming the parameter (Baasic's tenant as a tenant), and nothing is
// forwarded. Crafter's username comes in the body, whose JSON must be UTF-8
// (and whose escapes may not name a lone surrogate): refused too.
func TestPathValuesUTF8(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, hostileConfig)
	for _, d := range specs {
		hdr := map[string]string{"Content-Type": "application/json"}
		for k, v := range d.header {
			hdr[k] = v
		}
		for _, v := range badUTF8 {
			if d.name == "crafter" {
				continue
			}
			name, path := routeParam(d, v)
			t.Run(d.name+"/"+name+"/"+v, func(t *testing.T) {
				rec.set(nil)
				fieldError(t, d, s.do(t, d.method, path, hdr, d.body), name)
				if n := len(rec.requests()); n != 0 {
					t.Fatalf("the upstream received %d requests: %s", n, rec.requests()[0].RawPath)
				}
			})
			if d.name == "baasic" {
				t.Run("baasic/apiKey/"+v, func(t *testing.T) {
					rec.set(nil)
					a := s.do(t, d.method, strings.Replace(d.path, "demo-app", v, 1), hdr, d.body)
					if want := statusOf(d, canonical.InvalidField); a.Status != want {
						t.Fatalf("status %d, want %d: %s", a.Status, want, a.Body)
					}
					str(t, a.Body, "message", "apiKey is not a valid tenant")
					str(t, a.Body, "details", "apiKey")
					if n := len(rec.requests()); n != 0 {
						t.Fatalf("the upstream received %d requests", n)
					}
				})
			}
		}
	}
	d := specNamed(t, "crafter")
	for _, u := range []string{"\xc0\xaf", "jane\xff", "\xed\xa0\x80", `\ud800`, `a\udc00b`} {
		t.Run("crafter/username "+u, func(t *testing.T) {
			rec.set(nil)
			hdr := map[string]string{"Content-Type": "application/json"}
			a := s.do(t, d.method, d.path, hdr, `{"username":"`+u+`","first_name":"X"}`)
			isError(t, d, a, canonical.BadRequest, "")
			if n := len(rec.requests()); n != 0 {
				t.Fatalf("the upstream received %d requests: %s", n, rec.requests()[0].RawPath)
			}
		})
	}
}

// onceCase is a header sent twice to a dialect, with the name the refusal
// must give.
type onceCase struct {
	dialect, header string
	values          [2]string
	name            string // the header as the message names it
}

// onceCases: for each dialect, every header it forwards or reads a
// credential from, sent twice.
var onceCases = []onceCase{
	{"baasic", "Authorization", [2]string{"BEARER tok-one-zq1", "BEARER tok-two-zq2"}, "Authorization"},
	{"shift", "x-key", [2]string{"key-one-zq1", "key-two-zq2"}, "X-Key"},
	{"shift", "x-secret", [2]string{"sec-one-zq1", "sec-two-zq2"}, "X-Secret"},
	{"shift", "Authorization", [2]string{"Basic b25lOnpxMQ==", "Basic dHdvOnpxMg=="}, "Authorization"},
	{"shift", "MediaSiloSessionKey", [2]string{"sess-one-zq1", "sess-two-zq2"}, "Mediasilosessionkey"},
	{"shift", "MediaSiloHostContext", [2]string{"ctx-one-zq1", "ctx-two-zq2"}, "Mediasilohostcontext"},
	{"shift", "MediaSiloApiKey", [2]string{"api-one-zq1", "api-two-zq2"}, "Mediasiloapikey"},
	{"trustedtwin", "Authorization", [2]string{"tt-one-zq1", "tt-two-zq2"}, "Authorization"},
	{"finix", "Authorization", [2]string{"Basic b25lOnpxMQ==", "Basic dHdvOnpxMg=="}, "Authorization"},
	{"finix", "Finix-Version", [2]string{"2022-02-01", "2018-01-01"}, "Finix-Version"},
	{"crafter", "X-XSRF-TOKEN", [2]string{"xsrf-one-zq1", "xsrf-two-zq2"}, "X-Xsrf-Token"},
	{"crafter", "Authorization", [2]string{"Bearer tok-one-zq1", "Bearer tok-two-zq2"}, "Authorization"},
	{"crafter", "Cookie", [2]string{"JSESSIONID=sess-one-zq1", "JSESSIONID=sess-two-zq2; XSRF-TOKEN=tok-1"}, ""},
	{"crafter", "Cookie", [2]string{"JSESSIONID=sess-one-zq1; XSRF-TOKEN=xsrf-one-zq1", "XSRF-TOKEN=xsrf-two-zq2"}, ""},
}

// sendTwice sends d's request with header h on two lines, over the others
// of the spec.
func sendTwice(t *testing.T, s *started, d dialectSpec, h string, values [2]string) answer {
	t.Helper()
	req, err := http.NewRequest(d.method, s.base+d.path, strings.NewReader(d.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range d.header {
		if !strings.EqualFold(k, h) {
			req.Header.Set(k, v)
		}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Add(h, values[0])
	req.Header.Add(h, values[1])
	return doReq(t, req)
}

// isOnceRefusal asserts the dialect's 400 naming the header, with neither
// value echoed.
func isOnceRefusal(t *testing.T, d dialectSpec, a answer, oc onceCase) {
	t.Helper()
	msg := oc.name + " appears more than once"
	if oc.name == "" {
		msg = "a cookie appears in more than one Cookie header"
	}
	isError(t, d, a, canonical.BadRequest, msg)
	for _, v := range oc.values {
		if strings.Contains(string(a.Body), v) || strings.Contains(string(headerText(a.Header)), v) {
			t.Errorf("the answer echoes a value sent: %s", a.Body)
		}
	}
}

// TestHeadersSentTwice sends each dialect every header it forwards or reads
// a credential from, twice: each is refused with the dialect's 400 naming
// the header (never its values), and nothing reaches the upstream, which
// would otherwise get both. Cookie lines that split distinct cookies, and
// one line naming a cookie twice (same-named cookies of different paths),
// are served and forwarded as sent.
func TestHeadersSentTwice(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, e2eConfig)
	for _, oc := range onceCases {
		d := specNamed(t, oc.dialect)
		t.Run(oc.dialect+"/"+oc.header+"/"+oc.values[0], func(t *testing.T) {
			rec.set(okUser)
			isOnceRefusal(t, d, sendTwice(t, s, d, oc.header, oc.values), oc)
			if reqs := rec.requests(); len(reqs) != 0 {
				t.Fatalf("the upstream received %d requests, %s: %q", len(reqs), oc.header, reqs[0].Header.Values(oc.header))
			}
		})
	}
	d := specNamed(t, "crafter")
	for _, lines := range [][2]string{{"JSESSIONID=abc123", "XSRF-TOKEN=tok-1"}, {"JSESSIONID=abc123; JSESSIONID=def456; XSRF-TOKEN=tok-1", "lang=en"}} {
		t.Run("crafter/Cookie served/"+lines[0], func(t *testing.T) {
			rec.set(okUser)
			a := sendTwice(t, s, d, "Cookie", lines)
			if a.Status != d.success {
				t.Fatalf("status %d: %s", a.Status, a.Body)
			}
			reqs := rec.requests()
			if len(reqs) == 0 {
				t.Fatal("nothing forwarded")
			}
			if got := reqs[len(reqs)-1].Header.Values("Cookie"); !slices.Equal(got, lines[:]) {
				t.Errorf("the upstream got Cookie %q, want %q", got, lines)
			}
		})
	}
}

// TestHeadersSentTwiceVerify: in verify mode the same duplicates are
// refused the same way, before the caller is checked (not as a 401 of the
// credential check): the API key pair and Authorization of Shift, Finix's
// Finix-Version, and an operator's own apiKeys header on Baasic.
func TestHeadersSentTwiceVerify(t *testing.T) {
	rec := newRecorder(t)
	keys := authFile(t, "shift.keys", shiftKeyName+":"+sha256Hex(shiftSecret)+"\n")
	bkeys := authFile(t, "baasic.keys", "app:"+sha256Hex(shiftSecret)+"\n")
	h, err := bcrypt.GenerateFromPassword([]byte(finixPass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	basic := authFile(t, "finix.htpasswd", finixUser+":"+string(h)+"\n")
	s := start(t, `
dialects:
  shift:
    auth: {mode: verify, apiKeys: {file: `+keys+`}}
  finix:
    auth: {mode: verify, basic: {file: `+basic+`}}
  baasic:
    auth: {mode: verify, apiKeys: {file: `+bkeys+`, header: X-Api-Key}}
`, rec.srv.URL, e2eConfig)
	cases := []onceCase{
		{"shift", "x-key", [2]string{shiftKeyName, "svc-other-zq3"}, "X-Key"},
		{"shift", "x-secret", [2]string{shiftSecret, "other-secret-zq3"}, "X-Secret"},
		{"shift", "Authorization", [2]string{"Bearer one-zq1", "Bearer two-zq2"}, "Authorization"},
		{"finix", "Authorization", [2]string{basicValue(finixUser, finixPass), basicValue(finixUser, "other-zq3")}, "Authorization"},
		{"finix", "Finix-Version", [2]string{"2022-02-01", "2018-01-01"}, "Finix-Version"},
		{"baasic", "X-Api-Key", [2]string{shiftSecret, "other-key-zq3"}, "X-Api-Key"},
	}
	for _, oc := range cases {
		d := specNamed(t, oc.dialect)
		// Valid credentials besides the duplicated header.
		d.header = map[string]string{"x-key": shiftKeyName, "x-secret": shiftSecret}
		switch oc.dialect {
		case "finix":
			d.header = map[string]string{"Authorization": basicValue(finixUser, finixPass), "Finix-Version": "2022-02-01"}
		case "baasic":
			d.header = map[string]string{"X-Api-Key": shiftSecret}
		}
		t.Run(oc.dialect+"/"+oc.header, func(t *testing.T) {
			rec.set(okUser)
			isOnceRefusal(t, d, sendTwice(t, s, d, oc.header, oc.values), oc)
			if n := len(rec.requests()); n != 0 {
				t.Fatalf("the upstream received %d requests", n)
			}
		})
	}
}
