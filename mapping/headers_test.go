package mapping

import (
	"slices"
	"strings"
	"testing"

	"github.com/userbridge/userbridge/mapping/canonical"
)

const headerRules = `
dialect: demo
route: {method: PUT, path: /u/:id}
request:
  target: {from: param.id, by: id}
  forwardHeaders: [finix-version]
  credentialHeaders: [authorization, x-key, MediaSiloSessionKey]
response: {status: 204}
errors: {body: {m: "${error.message}"}}
`

// TestHeaderLists checks that both header lists are compiled to canonical
// names and kept apart.
func TestHeaderLists(t *testing.T) {
	p, err := Load("h.yaml", []byte(headerRules), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.ForwardHeaders(); !slices.Equal(got, []string{"Finix-Version"}) {
		t.Errorf("forward %v", got)
	}
	if got := p.CredentialHeaders(); !slices.Equal(got, []string{"Authorization", "X-Key", "Mediasilosessionkey"}) {
		t.Errorf("credentials %v", got)
	}

	bad := strings.Replace(headerRules, "[finix-version]", "[finix-version, X-KEY]", 1)
	bad = strings.Replace(bad, "MediaSiloSessionKey]", `MediaSiloSessionKey, ""]`, 1)
	_, err = Load("bad.yaml", []byte(bad), Options{})
	if err == nil {
		t.Fatal("a credential header also forwarded compiled")
	}
	for _, want := range []string{"request.credentialHeaders[1]: x-key is also in forwardHeaders", "request.credentialHeaders[3]: empty header name"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

// TestUpstreamHeaders checks response.upstreamHeaders: canonical names, no
// duplicates, and none of the headers userbridge writes itself or the
// connection's own.
func TestUpstreamHeaders(t *testing.T) {
	rules := strings.Replace(headerRules, "response: {status: 204}", "response: {status: 204, upstreamHeaders: [x-ratelimit-limit, X-RateLimit-Reset, X-RATELIMIT-LIMIT]}", 1)
	p, err := Load("h.yaml", []byte(rules), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.UpstreamHeaders(); !slices.Equal(got, []string{"X-Ratelimit-Limit", "X-Ratelimit-Reset"}) {
		t.Errorf("upstream headers %v", got)
	}
	bad := strings.Replace(headerRules, "response: {status: 204}", `response: {status: 204, upstreamHeaders: [set-cookie, "bad name", Content-Length, X-Request-ID]}`, 1)
	_, err = Load("bad.yaml", []byte(bad), Options{})
	if err == nil {
		t.Fatal("compiled")
	}
	for _, want := range []string{"response.upstreamHeaders[0]: Set-Cookie is not passed back", `response.upstreamHeaders[1]: "bad name" is not a header name`,
		"response.upstreamHeaders[2]: Content-Length", "response.upstreamHeaders[3]: X-Request-Id"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

// TestRenderedHeaderNamesCanonical: the names of a rendered answer's headers
// are canonical whatever the rules wrote, success and error alike; the
// server sets them in the response's header map as they are.
func TestRenderedHeaderNamesCanonical(t *testing.T) {
	rules := strings.Replace(headerRules, "response: {status: 204}", `response: {status: 204, headers: {x-request-origin: "${request.origin}", "content-LANGUAGE": en}}`, 1)
	rules = strings.Replace(rules, "errors: {body:", `errors: {headers: {www-authenticate: Basic}, body:`, 1)
	p, err := Load("h.yaml", []byte(rules), Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := &Input{URL: "http://h/u/1", Path: "/u/1"}
	names := func(r *Reply) []string {
		var out []string
		for _, h := range r.Headers {
			out = append(out, h.Name)
		}
		return out
	}
	if got := names(p.RenderSuccess(in, nil, nil)); !slices.Equal(got, []string{"Content-Language", "X-Request-Origin"}) {
		t.Errorf("success headers %v", got)
	}
	if got := names(p.RenderError(in, &canonical.Error{Code: canonical.BadRequest, Message: "no", RetryAfter: "3"})); !slices.Equal(got, []string{"Www-Authenticate", "Retry-After"}) {
		t.Errorf("error headers %v", got)
	}
}
