package upstream

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/mapping/canonical"
)

func TestCompileTemplate(t *testing.T) {
	for _, tc := range []struct {
		tpl     string
		need    placeholder
		wantErr string // "" = valid
	}{
		{"/users/{id}", phID, ""},
		{"/t/{tenant}/users/{id}.json", phID, ""},
		{"/users/by-username/{username}", phUsername, ""},
		{"/api/v1;x=1/users/%7E{id}", phID, ""},
		{"users/{id}", phID, "must start with /"},
		{"/users", phID, "must use {id}"},
		{"/users/{username}", phID, "{username} not allowed here"},
		{"/users/{name}", phUsername, "{name} not allowed here"},
		{"/users/{id}?x=1", phID, "no query or fragment"},
		{"/users/{id}#top", phID, "no query or fragment"},
		{"/users/{id", phID, "{ without }"},
		{"/users/id}", phID, "} without {"},
		{"/us ers/{id}", phID, "must be %-escaped"},
		{"/users/%zz/{id}", phID, "%XX escape"},
	} {
		_, err := compileTemplate(tc.tpl, tc.need)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q: %v", tc.tpl, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: got %v, want an error with %q", tc.tpl, err, tc.wantErr)
		}
	}
}

// TestPathEscaping checks the raw request-target the upstream receives: a
// value never adds a segment, a query or a fragment.
func TestPathEscaping(t *testing.T) {
	up := startUpstream(t, ok)
	c := newClient(t, up.URL+"/api/", func(cfg *setup) {
		cfg.ByUsernamePath = "/t/{tenant}/by-username/{username}"
	})
	for _, tc := range []struct {
		target        canonical.Target
		value, tenant string
		want          string
	}{
		{canonical.ByID, "42", "", "/api/users/42"},
		{canonical.ByID, "a/b", "", "/api/users/a%2Fb"},
		{canonical.ByID, "a?b=1", "", "/api/users/a%3Fb=1"},
		{canonical.ByID, "a#b", "", "/api/users/a%23b"},
		{canonical.ByID, "../admin", "", "/api/users/..%2Fadmin"},
		{canonical.ByID, "%2e%2e", "", "/api/users/%252e%252e"},
		{canonical.ByID, "...", "", "/api/users/..."},
		{canonical.ByID, "a b+c", "", "/api/users/a%20b+c"},
		{canonical.ByID, "José-日本", "", "/api/users/Jos%C3%A9-%E6%97%A5%E6%9C%AC"},
		{canonical.ByUsername, "jane.doe@example.com", "acme", "/api/t/acme/by-username/jane.doe@example.com"},
		{canonical.ByUsername, "x", "a/b?c#d", "/api/t/a%2Fb%3Fc%23d/by-username/x"},
	} {
		call := &Call{Target: tc.target, Value: tc.value, Tenant: tc.tenant, Body: []byte(`{}`)}
		if _, err := c.Patch(context.Background(), call); err != nil {
			t.Fatalf("%q: %v", tc.value, err)
		}
		reqs := up.requests()
		if got := reqs[len(reqs)-1].uri; got != tc.want {
			t.Errorf("%q: upstream got %s, want %s", tc.value, got, tc.want)
		}
	}
}

func TestPathRefusesUnaddressableValues(t *testing.T) {
	up := startUpstream(t, ok)
	c := newClient(t, up.URL, func(cfg *setup) { cfg.ByIDPath = "/t/{tenant}/users/{id}" })
	for _, tc := range []struct {
		call *Call
		code canonical.Code
		fld  string
	}{
		{&Call{Target: canonical.ByID, Value: "..", Tenant: "t"}, canonical.InvalidField, "id"},
		{&Call{Target: canonical.ByID, Value: ".", Tenant: "t"}, canonical.InvalidField, "id"},
		{&Call{Target: canonical.ByID, Value: "", Tenant: "t"}, canonical.InvalidField, "id"},
		{&Call{Target: canonical.ByID, Value: "1", Tenant: ""}, canonical.InvalidField, "tenant"},
		{&Call{Target: canonical.ByID, Value: "1", Tenant: ".."}, canonical.InvalidField, "tenant"},
		{&Call{Target: canonical.ByUsername, Value: ".."}, canonical.InvalidField, "username"},
		{&Call{Value: "1"}, canonical.Internal, ""},
	} {
		res, err := c.Get(context.Background(), tc.call)
		wantCode(t, err, tc.code)
		if err.Field != tc.fld || res.Attempts != 0 {
			t.Errorf("%+v: field %q attempts %d, want field %q attempts 0", tc.call, err.Field, res.Attempts, tc.fld)
		}
	}
	if n := up.hits.Load(); n != 0 {
		t.Errorf("upstream hit %d times, want 0", n)
	}
}

func TestNewReportsEveryProblem(t *testing.T) {
	_, err := New(config.Upstream{
		URL:         "ftp://idp",
		ByIDPath:    "/users",
		MaxAttempts: 11,
		Timeout:     -1,
	}, Options{BackoffMin: 2e9, BackoffMax: 1e9})
	if err == nil {
		t.Fatal("New accepted a bad config")
	}
	for _, want := range []string{"upstream.url:", "upstream.byIdPath:", "upstream.maxAttempts:",
		"upstream: BackoffMin:", "upstream.timeout:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}

	for _, tc := range []struct{ url, want string }{
		{"", "required"},
		{"https://user:secret@idp", "must not carry credentials"},
		{"https://idp/?x=1", "query"},
		{"http:///path", "no host"},
		{"://", "not a valid URL"},
	} {
		_, err := New(config.Upstream{URL: tc.url}, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("URL %q: got %v, want %q", tc.url, err, tc.want)
		}
	}
	if _, err := New(config.Upstream{URL: "http://idp", TLS: config.TLS{CAFile: "ca.pem"}}, Options{}); err == nil ||
		!strings.Contains(err.Error(), "upstream.tls: set, but URL is not https") {
		t.Errorf("TLS on http: got %v", err)
	}
}

func TestHeaderForwarding(t *testing.T) {
	up := startUpstream(t, ok)
	c := newClient(t, up.URL)
	h := http.Header{}
	for k, v := range map[string]string{
		"Authorization":        "Bearer t0ken",
		"Idempotency-Key":      "idem-1",
		"X-Request-Id":         "req-1",
		"X-Userbridge-Dialect": "finix",
		"X-Userbridge-Tenant":  "acme",
		"Traceparent":          "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"Content-Type":         "text/plain", // ours wins
	} {
		h.Set(k, v)
	}
	before := h.Clone()
	body := []byte(`{"set":{"givenName":"Jane"},"unset":["phone"]}`)
	res, err := patch(t, c, &Call{Target: canonical.ByID, Value: "42", Body: body, Header: h})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 200 || string(res.Body) != userJSON || res.Attempts != 1 {
		t.Errorf("result %d %q attempts %d", res.Status, res.Body, res.Attempts)
	}
	got := up.requests()[0]
	if got.method != http.MethodPatch || string(got.body) != string(body) {
		t.Errorf("upstream got %s %q", got.method, got.body)
	}
	for k, v := range before {
		if k == "Content-Type" {
			continue
		}
		if got.header.Get(k) != v[0] {
			t.Errorf("header %s = %q, want %q", k, got.header.Get(k), v[0])
		}
	}
	if got.header.Get("Content-Type") != "application/json" || got.header.Get("Accept") != "application/json" {
		t.Errorf("Content-Type %q Accept %q", got.header.Get("Content-Type"), got.header.Get("Accept"))
	}
	if len(h) != len(before) || h.Get("Content-Type") != "text/plain" {
		t.Errorf("the caller's header was modified: %v", h)
	}

	// GET sends no body and no Content-Type, even one the caller's header has.
	if _, err := c.Get(context.Background(), &Call{Target: canonical.ByID, Value: "42", Header: h}); err != nil {
		t.Fatal(err)
	}
	got = up.requests()[1]
	if got.method != http.MethodGet || len(got.body) != 0 || got.header.Get("Content-Type") != "" {
		t.Errorf("GET: %s body %q Content-Type %q", got.method, got.body, got.header.Get("Content-Type"))
	}
}

// A header built with SetJSONHeaders is sent as it is, without a copy, and
// left as it was; GET still drops its Content-Type.
func TestHeaderBuiltWithJSONHeaders(t *testing.T) {
	up := startUpstream(t, ok)
	c := newClient(t, up.URL)
	h := http.Header{"Authorization": {"Bearer t0ken"}, "User-Agent": {"legacy-client/2"}}
	SetJSONHeaders(h)
	if got := requestHeader(h, true, false); len(got) != len(h) || &got["Accept"][0] != &h["Accept"][0] {
		t.Fatalf("requestHeader copied a complete header: %v", got)
	}
	before := h.Clone()
	if _, err := patch(t, c, &Call{Target: canonical.ByID, Value: "42", Body: []byte(`{"set":{}}`), Header: h}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(context.Background(), &Call{Target: canonical.ByID, Value: "42", Header: h}); err != nil {
		t.Fatal(err)
	}
	reqs := up.requests()
	for _, k := range []string{"Authorization", "Accept", "Content-Type"} {
		if reqs[0].header.Get(k) != before.Get(k) {
			t.Errorf("PATCH header %s = %q, want %q", k, reqs[0].header.Get(k), before.Get(k))
		}
	}
	if ua := reqs[0].header.Get("User-Agent"); ua != "legacy-client/2" {
		t.Errorf("User-Agent %q: SetJSONHeaders replaced the caller's", ua)
	}
	if ct := reqs[1].header.Get("Content-Type"); ct != "" || reqs[1].header.Get("Accept") != "application/json" {
		t.Errorf("GET Content-Type %q Accept %q", ct, reqs[1].header.Get("Accept"))
	}
	if fmt.Sprint(h) != fmt.Sprint(before) {
		t.Errorf("the caller's header changed: %v, was %v", h, before)
	}
}

// The URL of a call is built, not parsed: its RawPath is the path as sent
// and its Path the same decoded, so that everything reading the URL (the
// transport, tracing's url.full) sees one and the same address.
func TestCallURLBuilt(t *testing.T) {
	c := newClient(t, "https://idp.example:8443/base%20dir/", func(cfg *setup) {
		cfg.ByIDPath = "/t/{tenant}/us%2Fers/{id}"
	})
	u, cerr := c.url(&Call{Target: canonical.ByID, Value: "a/b c%", Tenant: "ac me"})
	if cerr != nil {
		t.Fatal(cerr)
	}
	if u.Scheme != "https" || u.Host != "idp.example:8443" {
		t.Errorf("scheme %q host %q", u.Scheme, u.Host)
	}
	const raw = "/base%20dir/t/ac%20me/us%2Fers/a%2Fb%20c%25"
	if u.RawPath != raw || u.EscapedPath() != raw {
		t.Errorf("RawPath %q EscapedPath %q, want %q", u.RawPath, u.EscapedPath(), raw)
	}
	if u.Path != "/base dir/t/ac me/us/ers/a/b c%" {
		t.Errorf("Path %q", u.Path)
	}
	parsed, err := url.Parse(u.String())
	if err != nil || parsed.RawPath != u.RawPath || parsed.Path != u.Path || parsed.Host != u.Host {
		t.Errorf("%q parses back to %+v (%v)", u.String(), parsed, err)
	}
}

// TestCompleteHeaderNotCopied: a header that already holds what an attempt
// needs (SetJSONHeaders for Patch; Accept, User-Agent and, with a body,
// Content-Type for Do, as the scim and rules profiles build theirs) is sent
// as it is: no map per request. One that lacks any is copied, never
// modified.
func TestCompleteHeaderNotCopied(t *testing.T) {
	same := func(a, b http.Header) bool {
		return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
	}
	patchH := http.Header{"Authorization": {"Bearer t0ken"}}
	SetJSONHeaders(patchH)
	do := http.Header{"Accept": {"application/scim+json"}, "Content-Type": {"application/scim+json"}}
	SetUserAgent(do)
	for _, tc := range []struct {
		name          string
		h             http.Header
		hasBody, keep bool
		want          bool
	}{
		{"Patch, SetJSONHeaders", patchH, true, false, true},
		{"Get, SetJSONHeaders (Content-Type dropped)", patchH, false, false, false},
		{"Do with a body", do, true, true, true},
		{"Do without a body", do, false, true, true},
		{"Do without User-Agent", http.Header{"Accept": {"application/json"}}, false, true, false},
		{"Do with a body but no Content-Type", http.Header{"Accept": {"application/json"}, "User-Agent": {"x"}}, true, true, false},
	} {
		before := tc.h.Clone()
		got := requestHeader(tc.h, tc.hasBody, tc.keep)
		if same(got, tc.h) != tc.want {
			t.Errorf("%s: sent as it is %v, want %v", tc.name, same(got, tc.h), tc.want)
		}
		if fmt.Sprint(tc.h) != fmt.Sprint(before) {
			t.Errorf("%s: the caller's header changed: %v", tc.name, tc.h)
		}
		if got.Get("Accept") == "" || got.Get("User-Agent") == "" || (got.Get("Content-Type") != "") != (tc.hasBody || tc.keep && tc.h.Get("Content-Type") != "") {
			t.Errorf("%s: sent %v", tc.name, got)
		}
	}
}

// TestCallURLPlainAndEscaped: whether or not anything in the path needs
// escaping (the base, the template's literals, the value, the tenant),
// the path is sent as the template and the values say, Path is the same
// decoded, RawPath is set only where the path as sent is not Path's default
// encoding (as url.Parse leaves it), and the URL parses back to itself.
func TestCallURLPlainAndEscaped(t *testing.T) {
	for _, tc := range []struct {
		base, tpl, value, tenant string
		raw, path                string
	}{
		{"http://up:1", "/users/{id}", "42", "", "/users/42", "/users/42"},
		{"http://up:1/api/", "/t/{tenant}/users/{id}", "jane.doe", "acme", "/api/t/acme/users/jane.doe", "/api/t/acme/users/jane.doe"},
		{"http://up:1", "/users/{id}", "42", "ac me", "/users/42", "/users/42"}, // no {tenant}: the tenant is not used
		{"http://up:1", "/users/{id}/x/{id}", "a b", "", "/users/a%20b/x/a%20b", "/users/a b/x/a b"},
		{"http://up:1", "/t/{tenant}/users/{id}", "42", "ac me", "/t/ac%20me/users/42", "/t/ac me/users/42"},
		{"http://up:1", "/us%2Fers/{id}", "42", "", "/us%2Fers/42", "/us/ers/42"},
		{"http://up:1/base%20dir", "/users/{id}", "42", "", "/base%20dir/users/42", "/base dir/users/42"},
		{"http://up:1", "/users/{id}", "ü@x:y", "", "/users/%C3%BC@x:y", "/users/ü@x:y"},
		// Characters RFC 3986 allows in a path that Go's default encoding
		// escapes: sent as written, in the template and in the base alike.
		{"http://up:1", "/users(v2)/{id}", "42", "", "/users(v2)/42", "/users(v2)/42"},
		{"http://up:1", "/o/*/users/{id}", "42", "", "/o/*/users/42", "/o/*/users/42"},
		{"http://up:1/api!", "/users/{id}", "42", "", "/api!/users/42", "/api!/users/42"},
		{"http://up:1", "/users/{id};x='1'", "42", "", "/users/42;x='1'", "/users/42;x='1'"},
		{"http://up:1", "/Users('{id}')", "a b", "", "/Users('a%20b')", "/Users('a b')"},
	} {
		c := newClient(t, tc.base, func(cfg *setup) { cfg.ByIDPath = tc.tpl })
		u, cerr := c.url(&Call{Target: canonical.ByID, Value: tc.value, Tenant: tc.tenant})
		if cerr != nil {
			t.Fatal(cerr)
		}
		// RawPath is the path as sent, or "" where that is Go's own
		// encoding of the decoded path (and must be "" on the plain path).
		defaultEnc := (&url.URL{Path: tc.path}).EscapedPath() == tc.raw
		rawOK := u.RawPath == tc.raw || u.RawPath == "" && defaultEnc
		if tc.raw == tc.path && defaultEnc {
			rawOK = u.RawPath == ""
		}
		if !rawOK || u.EscapedPath() != tc.raw || u.Path != tc.path || u.RequestURI() != tc.raw {
			t.Errorf("%s %s %q %q: RawPath %q EscapedPath %q Path %q, want %q and %q", tc.base, tc.tpl, tc.value, tc.tenant,
				u.RawPath, u.EscapedPath(), u.Path, tc.raw, tc.path)
		}
		parsed, err := url.Parse(u.String())
		if err != nil || parsed.EscapedPath() != u.EscapedPath() || parsed.Path != u.Path {
			t.Errorf("%q parses back to %+v (%v)", u.String(), parsed, err)
		}
	}
}
