package server

import (
	"encoding/base64"
	"sort"
	"strings"
)

// redacted replaces a secret in a message shown to the client.
const redacted = "[redacted]"

// minSecretLen is the shortest value redacted: shorter ones are words.
const minSecretLen = 4

// redactSecrets removes from msg, an upstream's own words passed on to the
// client, the secrets this request carried: the password it sets and the
// values of its credential headers (the dialect's credentialHeaders, and
// any forwarded header named like one). An upstream that echoes what it
// received ("bad token Bearer abc…") would otherwise have userbridge put it
// in an error body.
func (h *handler) redactSecrets(x *exchange, msg string) string {
	if msg == "" {
		return msg
	}
	var secrets []string
	if x.res != nil {
		if pw := x.res.Password(); pw != "" {
			secrets = append(secrets, pw)
		}
	}
	names := h.p.CredentialHeaders() // forwarded or not: an upstream may echo either way
	for _, name := range h.forward {
		if credentialHeader(name) {
			names = append(names[:len(names):len(names)], name)
		}
	}
	for _, name := range names {
		for _, v := range x.c.Request.Header.Values(name) {
			secrets = append(secrets, credentialParts(v)...)
		}
	}
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) }) // whole values first
	for _, s := range secrets {
		if len(s) >= minSecretLen {
			msg = strings.ReplaceAll(msg, s, redacted)
		}
	}
	// The upstream client clips long messages ("…"): the cut may have
	// left the start of a secret.
	if body, ok := strings.CutSuffix(msg, "…"); ok {
		for _, s := range secrets {
			for n := len(s) - 1; n >= minSecretLen; n-- {
				if strings.HasSuffix(body, s[:n]) {
					return body[:len(body)-n] + redacted + "…"
				}
			}
		}
	}
	return msg
}

// credentialHeader reports a header that carries a credential, by name:
// Authorization, Cookie, x-key, x-secret, X-XSRF-TOKEN, MediaSiloSessionKey…
func credentialHeader(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"auth", "cookie", "key", "secret", "token", "session", "xsrf", "csrf", "pass"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// credentialParts are the forms a credential header value may be echoed
// in: whole, without its scheme, each cookie's value, and a Basic
// credential decoded (user:password, and the password).
func credentialParts(v string) []string {
	parts := []string{v}
	if scheme, cred, ok := strings.Cut(v, " "); ok {
		parts = append(parts, strings.TrimSpace(cred))
		if strings.EqualFold(scheme, "basic") {
			if dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred)); err == nil {
				parts = append(parts, string(dec))
				if _, pw, ok := strings.Cut(string(dec), ":"); ok {
					parts = append(parts, pw)
				}
			}
		}
	}
	for _, c := range strings.Split(v, ";") {
		if _, val, ok := strings.Cut(c, "="); ok {
			parts = append(parts, strings.TrimSpace(val))
		}
	}
	return parts
}
