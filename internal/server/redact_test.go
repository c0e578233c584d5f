package server

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

// encoding is one way a message may quote a value. perChar: the encoding
// of a prefix of the value is a prefix of the value's (a clip that falls
// inside the encoded value leaves the encoding of a start of it). binary:
// the redactor reads it as binary (a cut start of minSecretLen bytes or
// more is redacted).
type encoding struct {
	name    string
	enc     func(string) string
	perChar bool
	binary  bool // its bytes are base64 or hex digits
}

// jsonString is s as Go's encoder writes it in a JSON string, quotes off.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// jsonASCII is s in a JSON string with every character outside printable
// ASCII, and '/', escaped (\uXXXX in hex digits of the given case, a
// surrogate pair above U+FFFF), as Python's json.dumps or Java encoders do.
func jsonASCII(upper bool) func(string) string {
	return func(s string) string {
		var b strings.Builder
		u := func(r rune) {
			f := "\\u%04x"
			if upper {
				f = "\\u%04X"
			}
			fmt.Fprintf(&b, f, r)
		}
		for _, r := range s {
			switch {
			case r == '"' || r == '\\' || r == '/':
				b.WriteByte('\\')
				b.WriteRune(r)
			case r < 0x20 || r >= 0x7f:
				if r > 0xffff {
					hi, lo := utf16.EncodeRune(r)
					u(hi)
					u(lo)
					continue
				}
				u(r)
			default:
				b.WriteRune(r)
			}
		}
		return b.String()
	}
}

// numericHTML is every character of s as a decimal character reference.
func numericHTML(s string) string {
	var b strings.Builder
	for _, r := range s {
		fmt.Fprintf(&b, "&#%d;", r)
	}
	return b.String()
}

func unquote(q string) string { return q[1 : len(q)-1] }

var encodings = []encoding{
	{"raw", func(s string) string { return s }, true, false},
	{"json", jsonString, true, false},
	{"json ascii", jsonASCII(false), true, false},
	{"json ASCII", jsonASCII(true), true, false},
	{"json in json", func(s string) string { return jsonString(`{"password":"` + jsonString(s) + `"}`) }, false, false},
	{"go %q", func(s string) string { return unquote(strconv.Quote(s)) }, true, false},
	{"go ascii %+q", func(s string) string { return unquote(strconv.QuoteToASCII(s)) }, true, false},
	{"query", url.QueryEscape, true, false},
	{"path", url.PathEscape, true, false},
	{"json in query", func(s string) string { return url.QueryEscape(`{"password":"` + jsonString(s) + `"}`) }, false, false},
	{"html", html.EscapeString, true, false},
	{"html numeric", numericHTML, true, false},
	{"base64", func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }, false, false},
	{"base64 url", func(s string) string { return base64.URLEncoding.EncodeToString([]byte(s)) }, false, false},
	{"base64 raw, offset", func(s string) string { return base64.RawStdEncoding.EncodeToString([]byte("x:" + s)) }, false, false},
	{"json body in base64", func(s string) string {
		return base64.StdEncoding.EncodeToString([]byte(`{"set":{"password":"` + jsonASCII(false)(s) + `"}}`))
	}, false, false},
	{"base64 in json", func(s string) string { return jsonASCII(true)(base64.StdEncoding.EncodeToString([]byte(s))) }, false, false},
	{"hex", func(s string) string { return hex.EncodeToString([]byte(s)) }, true, true},
	{"HEX", func(s string) string { return strings.ToUpper(hex.EncodeToString([]byte(s))) }, true, true},
}

// passwords: one of each escape class.
var passwords = []string{
	`pa"ss"word`, `back\slash\`, `sl/ash/pw`, `pässwörd`, `日本語のパスワード`, "emoji😀pass", "tab\tnew\nline",
	`a<b>&c'd`, "plus+and space", `%41percent%zz`, `\u00e9literal`, `&quot;literal`, `"\\/\"`, "nul\u0001ctl\u007f",
	`ÿ\"é😀/`, "\u2028sep\u2029", "Zm9vYmFy", "deadbeef",
}

// leaks fails when msg, with each [redacted] taken out, still holds pw in
// the encoding or as it is, or in any view the redactor decodes.
func leaks(msg, pw, encoded string) string {
	m := strings.ReplaceAll(msg, redacted, "\xff")
	if strings.Contains(m, encoded) {
		return "its encoding"
	}
	if strings.Contains(m, pw) {
		return "it as it is"
	}
	for _, v := range views(m) {
		if strings.Contains(string(v.text), pw) {
			return "a decoding of it"
		}
	}
	return ""
}

// TestRedactEncodings quotes each password in each encoding inside a
// message: none survives, in any form, and the words around it do.
func TestRedactEncodings(t *testing.T) {
	for _, pw := range passwords {
		for _, e := range encodings {
			enc := e.enc(pw)
			msg := `rejected: {"message":"` + enc + `"} (request ` + enc + `)`
			got := redact(msg, []string{pw})
			if what := leaks(got, pw, enc); what != "" {
				t.Errorf("%s %q: %s survives in %q", e.name, pw, what, got)
			}
			if !strings.HasPrefix(got, "rejected: ") || !strings.Contains(got, redacted) {
				t.Errorf("%s %q: %q", e.name, pw, got)
			}
		}
	}
}

// TestRedactCut: a message clipped inside a quoted password loses the
// start of it, with an escape the clip cut short.
func TestRedactCut(t *testing.T) {
	for _, pw := range passwords {
		for _, e := range encodings {
			if !e.perChar {
				continue
			}
			enc := e.enc(pw)
			for n := 1; n < len(enc); n++ {
				if !utf8.RuneStart(enc[n]) {
					continue
				}
				cutRedacts(t, e, pw, "the upstream said: ", n)
			}
		}
	}
}

// cutRedacts checks one cut: prefix, then the first n bytes of pw's
// encoding, clipped. When they encode minCutLen bytes of pw or more, the
// message ends with [redacted] and holds none of them.
func cutRedacts(t *testing.T, e encoding, pw, prefix string, n int) {
	t.Helper()
	enc := e.enc(pw)
	d := 0 // bytes of pw whose whole encoding is in enc[:n]
	for i := range pw {
		if strings.HasPrefix(enc[:n], e.enc(pw[:i])) {
			d = i
		}
	}
	if strings.HasPrefix(enc[:n], enc) {
		d = len(pw)
	}
	least := minCutLen
	if e.binary {
		least = minSecretLen
	}
	if d < least || !utf8.ValidString(pw[:d]) {
		return
	}
	msg := prefix + " " + enc[:n] + clipMark
	got := redact(msg, []string{pw})
	if !strings.HasSuffix(got, redacted+clipMark) {
		t.Errorf("%s %q cut at %d: %q", e.name, pw, n, got)
	}
	if start := e.enc(pw[:d]); !strings.Contains(prefix+" ", start) && strings.Contains(strings.ReplaceAll(got, redacted, "\xff"), start) {
		t.Errorf("%s %q cut at %d: %q survives in %q", e.name, pw, n, start, got)
	}
}

// TestRedactCredentials: credential header values are found decoded and in
// any encoding: a Basic credential's password, a %-encoded cookie's value.
func TestRedactCredentials(t *testing.T) {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(`alice:pa"ss\wörd`))
	cookie := "JSESSIONID=s%C3%A9ss%22ion-zq; XSRF-TOKEN=\"tok\\en-zq\""
	var secrets []string
	for _, v := range []string{basic, cookie} {
		secrets = append(secrets, credentialParts(v)...)
	}
	for _, msg := range []string{
		`bad credentials for alice:pa\"ss\\w\u00f6rd`,
		`user alice password pa&quot;ss\w&#246;rd`,
		`session "s\u00e9ss\"ion-zq" unknown`,
		`session s%c3%a9ss%22ion-zq unknown`,
		`token tok\\en-zq`,
	} {
		got := redact(msg, secrets)
		for _, s := range []string{`pa"ss\wörd`, `sess"ion-zq`, `séss"ion-zq`, `tok\en-zq`} {
			if what := leaks(got, s, s); what != "" && strings.Contains(msg, s[:3]) {
				t.Errorf("%q: %s of %q survives in %q", msg, what, s, got)
			}
		}
		if !strings.Contains(got, redacted) {
			t.Errorf("nothing redacted in %q", got)
		}
	}
}

// TestRedactKeepsText: a message that quotes no secret, or one too short,
// is unchanged; replacements merge into one marker.
func TestRedactKeepsText(t *testing.T) {
	for _, msg := range []string{"", "email must not be empty", `field "email" \u00e9 %41 &amp; Zm9vYmFyYmF6`, "cut…"} {
		if got := redact(msg, []string{"Pw-S3cret!zq81", "abc"}); got != msg {
			t.Errorf("%q became %q", msg, got)
		}
	}
	if got := redact("x Pw-S3cret!zq81Pw-S3cret!zq81 y", []string{"Pw-S3cret!zq81"}); got != "x "+redacted+" y" {
		t.Errorf("got %q", got)
	}
}

// FuzzRedact embeds a password in a message in one of the encodings, with
// any text around it: after redaction no form of it is left (its
// encoding, itself, or any decoding the redactor reads); clipped inside it,
// its start is gone.
func FuzzRedact(f *testing.F) {
	for i, pw := range passwords {
		for j := range encodings {
			f.Add(pw, uint8(j), `{"error":"bad \`, `"} and more`, uint16(i*7+j))
		}
	}
	f.Fuzz(func(t *testing.T, pw string, which uint8, prefix, suffix string, cut uint16) {
		if len(pw) < minSecretLen || !utf8.ValidString(pw) || strings.ContainsRune(pw, utf8.RuneError) ||
			len(prefix)+len(suffix) > 600 || len(pw) > 100 {
			return
		}
		e := encodings[int(which)%len(encodings)]
		enc := e.enc(pw)
		// As upstream.Clip leaves every message: valid UTF-8.
		prefix, suffix = strings.ToValidUTF8(prefix, ""), strings.ToValidUTF8(suffix, "")
		msg := prefix + " " + enc + " " + suffix
		got := redact(msg, []string{pw})
		if what := leaks(got, pw, enc); what != "" {
			t.Fatalf("%s: %s survives in %q (from %q)", e.name, what, got, msg)
		}
		if e.perChar && len(enc) > 1 {
			n := 1 + int(cut)%(len(enc)-1)
			if utf8.RuneStart(enc[n]) {
				cutRedacts(t, e, pw, prefix, n)
			}
		}
	})
}

// bodySecrets finds the values of a body's members named like a secret
// at any depth, everything under one, and what a body that breaks off
// gave before; a body nested far deeper than any rule allows costs no
// recursion.
func TestBodySecrets(t *testing.T) {
	for _, c := range []struct {
		body string
		want []string
	}{
		{`{"password":"p-1","email":""}`, []string{"p-1"}},
		{`{"a":[{"b":{"x-api-key":"k-1","n":"plain"}}],"c":"plain"}`, []string{"k-1"}},
		{`{"auth":{"user":"u-1","pin":12345678,"list":["l-1",{"z":"l-2"}]},"after":"plain"}`, []string{"u-1", "12345678", "l-1", "l-2"}},
		{`{"user":{"newPwd":"n-1"},"password":"p-2","email":`, []string{"n-1", "p-2"}},
		{`{"name":"password","value":"plain"}`, nil},
		{`not json`, nil},
		{strings.Repeat(`[`, 1<<20), nil},
	} {
		got := bodySecrets([]byte(c.body), nil)
		if !slices.Equal(got, c.want) {
			t.Errorf("%.40s: %q, want %q", c.body, got, c.want)
		}
	}
}
