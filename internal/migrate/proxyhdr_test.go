package migrate

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

func TestUnsafePath(t *testing.T) {
	for _, p := range []string{"/mig/..", "/mig/../x", "/mig/./x", "/mig/%2e%2E/x", "/mig/..;/manager/html", "/mig/..%2f..%2fadmin",
		"/mig/%2e%2e%2fadmin", "/mig/..%5cadmin", `/mig/..\admin`, "/mig/%252e%252e/x", "/mig/.;x/y", "/users/%2e"} {
		if !UnsafePath(p) {
			t.Errorf("%s: not refused", p)
		}
	}
	for _, p := range []string{"/mig/users/US1", "/mig/...", "/mig/..x", "/mig/x..", "/mig/.well-known/x", "/mig/a%2Fb", "/mig/%25zz", "/"} {
		if UnsafePath(p) {
			t.Errorf("%s: refused", p)
		}
	}
}

func TestRewriteLocationsAndCookies(t *testing.T) {
	base, _ := url.Parse("https://vendor.example:8443/api")
	v := &Vendor{base: base}
	hop := Hop{Prefix: "/mig", Scheme: "https", Host: "ub.example"}
	for in, want := range map[string]string{
		"/api/login?next=%2Fx#top": "/mig/login?next=%2Fx#top",
		"/api":                     "/mig/",
		"/apix/login":              "/apix/login",
		"/other":                   "/other",
		"https://vendor.example:8443/api/login?a": "https://ub.example/mig/login?a",
		"https://VENDOR.example:8443/api/x":       "https://ub.example/mig/x",
		"http://vendor.example:8443/api/x":        "http://vendor.example:8443/api/x", // another scheme: another origin
		"https://elsewhere.example/api/x":         "https://elsewhere.example/api/x",
		"login":                                   "login",
		"//vendor.example:8443/api/x":             "//vendor.example:8443/api/x",
	} {
		if got := v.location(in, "/api", hop); got != want {
			t.Errorf("Location %q: %q, want %q", in, got, want)
		}
	}
	h := http.Header{}
	h.Add("Set-Cookie", "sid=1; Path=/api/users; Domain=vendor.example; HttpOnly; Secure")
	h.Add("Set-Cookie", "a=2; Path=/api; domain=.VENDOR.example")
	h.Add("Set-Cookie", "b=3; Path=/; Domain=example.org")
	h.Add("Set-Cookie", "c=4")
	h.Set("Location", "/api/next")
	v.rewrite(h, hop)
	want := []string{"sid=1; Path=/mig/users; HttpOnly; Secure", "a=2; Path=/mig", "b=3; Path=/; Domain=example.org", "c=4"}
	for i, c := range h.Values("Set-Cookie") {
		if c != want[i] {
			t.Errorf("cookie %d: %q, want %q", i, c, want[i])
		}
	}
	if h.Get("Location") != "/mig/next" {
		t.Errorf("Location %q", h.Get("Location"))
	}
}

func TestForwardedHeaders(t *testing.T) {
	r := httptest.NewRequest("GET", "/mig/x", nil)
	r.RemoteAddr = "10.1.2.3:5555"
	r.Header.Set("X-Forwarded-For", "6.6.6.6")
	r.Header.Set("Forwarded", "for=6.6.6.6")
	r.Header.Set("X-Real-Ip", "6.6.6.6")
	r.Header.Set("X-Forwarded-Proto", "https")
	for _, trust := range []bool{false, true} {
		h := r.Header.Clone()
		forwarded(h, r, Hop{Scheme: "https", Host: "ub.example", TrustForwarded: trust})
		wantFor, wantReal := "10.1.2.3", ""
		if trust {
			wantFor, wantReal = "6.6.6.6, 10.1.2.3", "6.6.6.6"
		}
		if h.Get("X-Forwarded-For") != wantFor || h.Get("X-Real-Ip") != wantReal || h.Get("X-Forwarded-Host") != "ub.example" ||
			h.Get("X-Forwarded-Proto") != "https" || (h.Get("Forwarded") != "") == !trust {
			t.Errorf("trust %v: %v", trust, h)
		}
	}
}
