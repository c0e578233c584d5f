package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/userbridge/userbridge/mapping"
)

// redacted replaces a secret in a message shown to the client.
const redacted = "[redacted]"

// minSecretLen is the shortest value redacted: shorter ones are words.
const minSecretLen = 4

// minCutLen is the shortest start of a secret redacted at the end of a
// message the upstream client clipped ("…"): the clip may fall inside one.
// In a base64 or hex view, whose bytes are noise where they encode nothing,
// it is minSecretLen.
const minCutLen = 2

// clipMark ends a message the upstream client clipped (upstream.Clip).
const clipMark = "…"

// requestSecrets are the secrets this request carried, which upstreamFail
// removes from an upstream's own words passed on to the client (an
// upstream that echoes what it received, "bad token Bearer abc…" or the
// request's JSON, would otherwise have userbridge put it in an error body;
// redact finds them whatever the encoding quotes them in), and the diff
// log from a vendor's answer: the password it
// sets, the string values of its body's members named like a secret
// (mapping.SecretName) at any depth — found in the body itself, so also
// when translation refused it or never ran —, and the values of its
// credential headers (the dialect's credentialHeaders, any forwarded
// header named like one, and with every, any header of the request named
// like one: the legacy vendor got them all).
func (h *handler) requestSecrets(x *exchange, every bool) []string {
	var secrets []string
	if x.res != nil {
		if pw := x.res.Password(); pw != "" {
			secrets = append(secrets, pw)
		}
	}
	secrets = bodySecrets(x.body, secrets)
	names := h.p.CredentialHeaders() // forwarded or not: an upstream may echo either way
	for _, name := range h.forward {
		if credentialHeader(name) {
			names = append(names[:len(names):len(names)], name)
		}
	}
	// The headers a caller's credential may come in whatever the rule file
	// says (Authorization, verify mode's API key headers: h.once).
	names = append(names[:len(names):len(names)], h.once...)
	if every {
		for name := range x.c.Request.Header {
			if credentialHeader(name) {
				names = append(names[:len(names):len(names)], name)
			}
		}
	}
	for _, name := range names {
		for _, v := range x.c.Request.Header.Values(name) {
			secrets = append(secrets, credentialParts(v)...)
		}
	}
	// And the credential userbridge itself sent upstream in verify mode
	// (its own bearer, Basic or OAuth2 token), which an upstream may echo
	// as readily as a caller's.
	for name, vs := range x.upCall {
		if credentialHeader(name) {
			for _, v := range vs {
				secrets = append(secrets, credentialParts(v)...)
			}
		}
	}
	return secrets
}

// bodySecrets appends to out the values (strings, and numbers as written)
// of body's members named like a secret, at any depth: everything under
// such a member. A body that is not JSON, or stops being JSON, gives what
// was read before. The walk keeps its own stack, not Go's: a body nested
// deep costs memory in proportion to it, no deeper recursion.
func bodySecrets(body []byte, out []string) []string {
	if len(body) == 0 {
		return out
	}
	type frame struct {
		obj, secret bool // an object; under a secret's name
		wantKey     bool // an object's next string is a member name
		keySecret   bool // the member being read is a secret's
	}
	var st []frame
	valueSecret := func() bool {
		if len(st) == 0 {
			return false
		}
		if f := st[len(st)-1]; f.obj {
			return f.keySecret
		}
		return st[len(st)-1].secret
	}
	ended := func() { // a value ended: an object's next string is a name
		if n := len(st); n > 0 && st[n-1].obj {
			st[n-1].wantKey = true
		}
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	for {
		tok, err := d.Token()
		if err != nil {
			return out
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				st = append(st, frame{obj: t == '{', secret: valueSecret(), wantKey: t == '{'})
			default:
				st = st[:len(st)-1]
				ended()
			}
		case string:
			if n := len(st); n > 0 && st[n-1].obj && st[n-1].wantKey {
				f := &st[n-1]
				f.wantKey, f.keySecret = false, f.secret || mapping.SecretName(t)
				continue
			}
			if valueSecret() {
				out = append(out, t)
			}
			ended()
		case json.Number:
			if valueSecret() {
				out = append(out, string(t))
			}
			ended()
		default:
			ended()
		}
	}
}

// redact replaces in msg every occurrence of each secret (of at least
// minSecretLen bytes) with [redacted], wherever one of msg's decoded views
// (views: the message as it is, and its JSON, %-, form, HTML, base64 and
// hex decodings, one inside another) holds the secret's bytes: the span of
// msg they came from is replaced, whatever escapes spelt them. When msg
// ends with the clip mark, a start of a secret ending where the clip fell
// is redacted too, with whatever the clip left of an escape after it
// (cutSpans).
func redact(msg string, secrets []string) string {
	secrets = secretForms(secrets)
	if len(secrets) == 0 || msg == "" {
		return msg
	}
	body, clipped := strings.CutSuffix(msg, clipMark)
	var spans []span
	for _, v := range views(msg) {
		for _, s := range secrets {
			for at := 0; ; {
				i := bytes.Index(v.text[at:], []byte(s))
				if i < 0 {
					break
				}
				i += at
				spans = append(spans, span{v.src[i].from, v.src[i+len(s)-1].to})
				at = i + 1
			}
		}
		if clipped {
			spans = append(spans, cutSpans(v, len(body), secrets)...)
		}
	}
	if len(spans) == 0 {
		return msg
	}
	return replaceSpans(msg, spans)
}

// maxEscapeLen is the longest escape a clip may cut short (\uD83D\uDE0).
const maxEscapeLen = 12

// cutSpans are the spans of a clipped message, whose clip fell at byte end
// (before the mark), that hold, in view v, the start of a secret running up
// to the clip, or up to what the clip left of an escape after it (an
// incomplete escape, a base64 or hex digit short of a byte: bytes v keeps
// as they are, from the message's last maxEscapeLen bytes). Each span runs
// to the clip.
func cutSpans(v *view, end int, secrets []string) []span {
	least := minCutLen
	if v.binary {
		least = minSecretLen
	}
	var spans []span
	tail := int32(end - maxEscapeLen)
	for p := len(v.text); p > 0 && (p == len(v.text) || v.src[p].from >= tail); p-- {
		for _, s := range secrets {
			// The longest start of s that v.text[:p] ends with: the
			// first q from which v.text[q:p] is s[:p-q], tried only where
			// v.text[q] is s's first byte.
			for q := p - min(len(s)-1, p); q <= p-least; q++ {
				d := bytes.IndexByte(v.text[q:p-least+1], s[0])
				if d < 0 {
					break
				}
				if q += d; string(v.text[q:p]) == s[:p-q] {
					spans = append(spans, span{v.src[q].from, int32(end)})
					break
				}
			}
		}
	}
	return spans
}

// replaceSpans replaces each span of msg, merged where they overlap or
// touch, with [redacted]. A span that cut a character leaves no stray byte.
func replaceSpans(msg string, spans []span) string {
	slices.SortFunc(spans, func(a, b span) int { return int(a.from - b.from) })
	var out strings.Builder
	out.Grow(len(msg))
	at := 0
	for i := 0; i < len(spans); {
		s := spans[i]
		for i++; i < len(spans) && spans[i].from <= s.to; i++ {
			s.to = max(s.to, spans[i].to)
		}
		out.WriteString(msg[at:s.from])
		out.WriteString(redacted)
		at = int(s.to)
	}
	out.WriteString(msg[at:])
	return strings.ToValidUTF8(out.String(), "\uFFFD")
}

// secretForms are the secrets to look for: each of at least minSecretLen
// bytes, and, for one that is not UTF-8, the form the upstream client gives
// it (upstream.Clip makes every message UTF-8), longest first.
func secretForms(secrets []string) []string {
	var out []string
	for _, s := range secrets {
		if len(s) < minSecretLen {
			continue
		}
		out = append(out, s)
		if !utf8.ValidString(s) {
			if v := strings.ToValidUTF8(s, "\uFFFD"); len(v) >= minSecretLen {
				out = append(out, v)
			}
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	return slices.Compact(out)
}

// credentialHeader reports a header that carries a credential, by name:
// what mapping.SecretName calls a secret (Authorization, Cookie, x-secret,
// MediaSiloSessionKey…) and the words only a header's name uses for one
// (x-key, X-XSRF-TOKEN, a "Pass" or "Auth" header). Never Idempotency-Key,
// which names an update, not a caller.
func credentialHeader(name string) bool {
	if name == HeaderIdempotency || mapping.SecretName(name) {
		return name != HeaderIdempotency
	}
	n := strings.ToLower(name)
	for _, w := range []string{"auth", "key", "xsrf", "csrf", "pass"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// credentialParts are the values a credential header's value stands for,
// decoded: the value whole, without its scheme, a Basic credential decoded
// (user:password, and the password), and each cookie's value as sent,
// unquoted and %-decoded. How a message may encode each is redact's
// business.
func credentialParts(v string) []string {
	parts := []string{v}
	if scheme, cred, ok := strings.Cut(v, " "); ok {
		cred = strings.TrimSpace(cred)
		parts = append(parts, cred)
		if strings.EqualFold(scheme, "basic") {
			if dec, err := base64.StdEncoding.DecodeString(cred); err == nil {
				parts = append(parts, string(dec))
				if _, pw, ok := strings.Cut(string(dec), ":"); ok {
					parts = append(parts, pw)
				}
			}
		}
	}
	for _, c := range strings.Split(v, ";") {
		if _, val, ok := strings.Cut(c, "="); ok {
			val = strings.TrimSpace(val)
			parts = append(parts, val)
			if u, ok := strings.CutPrefix(val, `"`); ok {
				if u, ok = strings.CutSuffix(u, `"`); ok {
					parts = append(parts, u)
					val = u
				}
			}
			if dec, err := url.PathUnescape(val); err == nil && dec != val {
				parts = append(parts, dec)
			}
			if dec, err := url.QueryUnescape(val); err == nil && dec != val {
				parts = append(parts, dec)
			}
		}
	}
	return parts
}
