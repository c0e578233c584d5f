package app_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf16"
)

// Redaction that survives escaping (issue 18, class 3), through the real
// server: an upstream 4xx whose message quotes the request it received, in
// the encodings upstreams quote in, with passwords and credential header
// values holding what JSON escapes. The caller's error body holds no form
// of any of them.

// escapingPasswords each hold characters JSON escapes or may escape: a
// quote, a backslash, a slash, non-ASCII (Latin, an astral character), and
// what Shift's password rules ask for.
var escapingPasswords = []string{`Pw"qu0te"!zq81`, `Pw\back\sl4sh\!zq82`, `Pw/Sl4sh</!zq83`, "Pässwörd-9!zq84", "Pw-😀-Astral-9!zq85"}

// asciiJSON writes s as a JSON string body with every non-ASCII character
// and '/' escaped, hex digits in upper case, as Python's json.dumps or a
// Java encoder would (quotes off).
func asciiJSON(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\' || r == '/':
			b.WriteString(`\` + string(r))
		case r < 0x20 || r > 0x7e:
			if r > 0xffff {
				hi, lo := utf16.EncodeRune(r)
				fmt.Fprintf(&b, `\u%04X\u%04X`, hi, lo)
				continue
			}
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// requoted is the JSON the upstream received, re-encoded with asciiJSON's
// escapes: each string member decoded, then written again.
func requoted(body []byte) string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return string(body)
	}
	var w func(v any) string
	w = func(v any) string {
		switch x := v.(type) {
		case string:
			return `"` + asciiJSON(x) + `"`
		case map[string]any:
			var parts []string
			for k, e := range x {
				parts = append(parts, `"`+asciiJSON(k)+`":`+w(e))
			}
			return "{" + strings.Join(parts, ",") + "}"
		case []any:
			var parts []string
			for _, e := range x {
				parts = append(parts, w(e))
			}
			return "[" + strings.Join(parts, ",") + "]"
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	return w(v)
}

// quoting is how the upstream quotes the request in its message.
var quoting = []struct {
	name  string
	quote func(r *http.Request, body []byte) string
}{
	{"the body as received", func(_ *http.Request, body []byte) string { return string(body) }},
	{"the body re-encoded, non-ASCII escaped", func(_ *http.Request, body []byte) string { return requoted(body) }},
	{"the body form-encoded", func(_ *http.Request, body []byte) string { return url.QueryEscape(string(body)) }},
	{"the body in base64", func(_ *http.Request, body []byte) string { return base64.StdEncoding.EncodeToString(body) }},
	{"the headers as JSON", func(r *http.Request, _ []byte) string {
		b, _ := json.Marshal(r.Header)
		return string(b)
	}},
	{"the headers re-encoded, non-ASCII escaped", func(r *http.Request, _ []byte) string {
		var b strings.Builder
		for k, vs := range r.Header {
			for _, v := range vs {
				b.WriteString(`"` + k + `":"` + asciiJSON(v) + `" `)
			}
		}
		return b.String()
	}},
}

// forms are the ways a secret could show in a client's error body.
func forms(s string) []string {
	js, _ := json.Marshal(s)
	lower := strings.NewReplacer(`\u`, `\u`).Replace(strings.ToLower(asciiJSON(s)))
	return []string{s, string(js[1 : len(js)-1]), asciiJSON(s), lower, url.QueryEscape(s), url.PathEscape(s),
		base64.StdEncoding.EncodeToString([]byte(s)), base64.RawStdEncoding.EncodeToString([]byte(s))}
}

// TestRedactEscapedSecrets: for Shift and Crafter, which forward a
// password, each password above and escaping credential header values,
// quoted by an upstream 400 in each way above: the caller gets the
// dialect's 400 with the upstream's message, [redacted] where a secret
// was, and no form of any secret anywhere in its answer.
func TestRedactEscapedSecrets(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, e2eConfig)
	const xsecret, xsrf = `SEC"RET\x-9-zq86`, `xsrf"tok\en-zq87`
	const session = "s%C3%A9ss%22ion-zq88" // a cookie value %-encoded: "séss\"ion-zq88"
	for _, q := range quoting {
		rec.set(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if r.Method == http.MethodGet { // Shift's password check reads the stored user
				_, _ = w.Write(userFor(r))
				return
			}
			var body []byte
			for _, got := range rec.requests() {
				if got.Method == http.MethodPatch {
					body = got.Body
				}
			}
			msg, _ := json.Marshal("refused: " + q.quote(r, body))
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":{"code":"invalid_field","message":` + string(msg) + `}}`))
		})
		for _, pw := range escapingPasswords {
			reqs := []struct {
				d      dialectSpec
				header map[string]string
				body   string
			}{
				{specNamed(t, "shift"), map[string]string{"x-key": "k-123", "x-secret": xsecret},
					`{"firstName":"Johnny","password":` + jsonQuote(pw) + `}`},
				{specNamed(t, "crafter"), map[string]string{"Cookie": "JSESSIONID=" + session + "; XSRF-TOKEN=x", "X-XSRF-TOKEN": xsrf},
					`{"username":"john.smith","password":` + jsonQuote(pw) + `}`},
			}
			for _, sr := range reqs {
				t.Run(sr.d.name+"/"+q.name+"/"+pw, func(t *testing.T) {
					hdr := map[string]string{"Content-Type": "application/json"}
					for k, v := range sr.header {
						hdr[k] = v
					}
					a := s.do(t, sr.d.method, sr.d.path, hdr, sr.body)
					if a.Status != http.StatusBadRequest {
						t.Fatalf("status %d: %s", a.Status, a.Body)
					}
					if !bytes.Contains(a.Body, []byte("refused: ")) || !bytes.Contains(a.Body, []byte("[redacted]")) {
						t.Fatalf("the upstream's message is not shown, redacted: %s", a.Body)
					}
					var shown any // the answer's text, its JSON escapes decoded
					_ = json.Unmarshal(a.Body, &shown)
					text := fmt.Sprint(shown)
					for _, secret := range []string{pw, xsecret, xsrf, session, "séss\"ion-zq88"} {
						for _, f := range forms(secret) {
							if bytes.Contains(a.Body, []byte(f)) || strings.Contains(text, f) {
								t.Errorf("the answer holds %q (a form of %q): %s", f, secret, a.Body)
							}
						}
					}
				})
			}
		}
	}
}

// jsonQuote is s as a JSON string.
func jsonQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestRedactEchoedField: an upstream 4xx that names, as its offending
// field, what the request sent (the password itself, or a credential) does
// not get it shown: the field is redacted as the message is.
func TestRedactEchoedField(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, e2eConfig)
	const pw, xsecret = "Field-Echo-Pw!zq91", "field-echo-secret-zq92"
	for _, echo := range []string{pw, xsecret} {
		rec.set(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if r.Method == http.MethodGet {
				_, _ = w.Write(userFor(r))
				return
			}
			w.WriteHeader(http.StatusBadRequest)
			_, _ = fmt.Fprintf(w, `{"error":{"code":"invalid_field","field":%s,"message":"bad value"}}`, jsonQuote(echo))
		})
		d := specNamed(t, "shift") // Shift keys its error body by the field
		a := s.do(t, d.method, d.path, map[string]string{"Content-Type": "application/json", "x-key": "k-123", "x-secret": xsecret},
			`{"firstName":"Johnny","password":`+jsonQuote(pw)+`}`)
		if a.Status != http.StatusBadRequest {
			t.Fatalf("status %d: %s", a.Status, a.Body)
		}
		if bytes.Contains(a.Body, []byte(echo)) {
			t.Errorf("the answer shows the echoed %q: %s", echo, a.Body)
		}
	}
}
