package auth

import (
	"net/http"
	"strings"
	"testing"

	"github.com/userbridge/userbridge/config"
)

func TestRedact(t *testing.T) {
	h := clientHeaders()
	h.Add("Authorization", "Bearer second")
	h.Set("Set-Cookie", "JSESSIONID=abc")
	h.Set("X-Amz-Security-Token", "t")
	h.Set("MediaSiloApiKey", "k")
	h.Set("X-Custom-Auth-Token", "t")
	h.Set("Content-Type", "application/json")
	h.Set("Traceparent", "00-abc-def-01")
	orig := h.Clone()
	r := Redact(h)
	for _, name := range []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Xsrf-Token", "X-Key", "X-Secret",
		"Mediasilohostcontext", "Mediasilosessionkey", "Mediasiloapikey", "X-Amz-Security-Token", "X-Custom-Auth-Token"} {
		got := r.Values(name)
		if len(got) != len(h.Values(name)) || len(got) == 0 {
			t.Errorf("%s: %d values, want %d", name, len(got), len(h.Values(name)))
		}
		for _, v := range got {
			if v != Redacted {
				t.Errorf("%s = %q", name, v)
			}
		}
	}
	for _, name := range []string{"Idempotency-Key", "X-Request-Id", "Finix-Version", "Content-Type", "Traceparent", HeaderPrincipal} {
		if r.Get(name) != h.Get(name) {
			t.Errorf("%s changed: %q", name, r.Get(name))
		}
	}
	for name := range orig {
		if strings.Join(h[name], ",") != strings.Join(orig[name], ",") {
			t.Errorf("Redact changed its argument's %s", name)
		}
	}
	r.Set("Idempotency-Key", "changed")
	if h.Get("Idempotency-Key") == "changed" {
		t.Error("the copy shares value slices with the original")
	}
}

func TestAuthenticatorRedact(t *testing.T) {
	a := newAuth(t, config.Auth{Mode: config.ModeVerify, APIKeys: &config.APIKeys{File: writeFile(t, "k", "k:"+sha256Hex("x")+"\n"), Header: "X-Tenant-Pass"}},
		Options{Dialect: Dialect{Name: "custom", CredentialHeaders: []string{"X-Partner"}}})
	h := http.Header{"X-Tenant-Pass": {"p"}, "X-Partner": {"q"}, "X-Other": {"r"}}
	r := a.Redact(h)
	if r.Get("X-Tenant-Pass") != Redacted || r.Get("X-Partner") != Redacted || r.Get("X-Other") != "r" {
		t.Errorf("redacted %v", r)
	}
	var none *Authenticator
	if none.Redact(http.Header{"Cookie": {"c"}}).Get("Cookie") != Redacted {
		t.Error("a nil Authenticator does not redact")
	}
}

func TestRedactURL(t *testing.T) {
	if got := redactURL("https://u:p@idp.example.com/jwks?key=s#f"); got != "https://idp.example.com/jwks" {
		t.Errorf("got %q", got)
	}
}
