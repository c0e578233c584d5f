package server

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
)

// BenchmarkRedact: a clipped 512-byte message quoting a JSON body as it is,
// in base64 and form-encoded, with a request's usual secrets: the cost of
// an upstream 4xx's message.
func BenchmarkRedact(b *testing.B) {
	secrets := append([]string{`Pw"qu0te"!zq81`}, credentialParts("Basic "+base64.StdEncoding.EncodeToString([]byte("alice:s3cret-pw")))...)
	secrets = append(secrets, credentialParts("JSESSIONID=abc123def; XSRF-TOKEN=tok-1-zq")...)
	body := `{"set":{"password":"Pw\"qu0te\"!zq81","givenName":"J\u00f6hnny"}}`
	msg := "refused: " + body + " " + base64.StdEncoding.EncodeToString([]byte(body)) + " " + url.QueryEscape(body) + " "
	msg = (msg + strings.Repeat("request 0b6f4c1e8c2a4d7e9f3b5a1d2e3c4b5a ", 20))[:512] + clipMark
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		redact(msg, secrets)
	}
}

// BenchmarkRedactPlain: an upstream's usual 4xx message, plain words with
// nothing encoded in it, with a request's usual secrets.
func BenchmarkRedactPlain(b *testing.B) {
	secrets := append([]string{`Pw"qu0te"!zq81`}, credentialParts("Basic "+base64.StdEncoding.EncodeToString([]byte("alice:s3cret-pw")))...)
	msg := "the username jane.doe is already taken by another user of this tenant"
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		redact(msg, secrets)
	}
}
