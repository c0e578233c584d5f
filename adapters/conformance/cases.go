// Package conformance holds what every dialect must pass: the golden-case
// runner (the one `go test` and `userbridge test` both use), the shared
// conformance checks, and the fuzz and benchmark drivers each dialect
// package calls.
package conformance

import (
	"encoding/json"
	"fmt"

	"github.com/userbridge/userbridge/adapters"
	"github.com/userbridge/userbridge/mapping"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// Case is one golden case: a request, what the engine must make of it, and
// optionally what the upstream answered and what the caller must get.
// docs/rules.md ("Testing a rule file") describes the format.
type Case struct {
	// Name says what the case shows.
	Name string `yaml:"name"`
	// Dialect names the dialect the request is sent to. When empty, the
	// file's (a document {dialect: NAME, cases: [...]}), else the folder's:
	// a plain list in adapters/<dialect>/testdata (any folder named
	// testdata) belongs to the dialect of the folder above.
	Dialect string `yaml:"dialect"`
	// Method is the request's method; empty: the dialect's route's. Any
	// other fails the case: the server answers it before the rules run.
	Method string `yaml:"method"`
	// Path is the request path; route parameters are read from it. It is
	// the rule file's route, without a deployment's prefix.
	Path string `yaml:"path"`
	// Headers are request headers; Content-Type is checked against the
	// dialect's request.contentTypes (none: read as JSON).
	Headers map[string]string `yaml:"headers"`
	// Body is the request body as a YAML/JSON value; RawBody is taken
	// byte for byte instead when set.
	Body    any    `yaml:"body"`
	RawBody string `yaml:"rawBody"`
	// Update is the expected canonical update (compared as JSON).
	Update any `yaml:"update"`
	// Target and Value are the expected addressing (id or username).
	Target string `yaml:"target"`
	Value  string `yaml:"value"`
	Tenant string `yaml:"tenant"`
	// Stored is the stored canonical user, for checks that need it.
	Stored any `yaml:"stored"`
	// Error is the expected reply when the request is refused.
	Error *Reply `yaml:"error"`
	// Upstream is what the upstream answered.
	Upstream *Upstream `yaml:"upstream"`
	// Response is the expected reply to the caller after Upstream.
	Response *Reply `yaml:"response"`

	// File is the base name of the file the case is in, Source its path
	// as found, Line the line the case starts at.
	File   string `yaml:"-"`
	Source string `yaml:"-"`
	Line   int    `yaml:"-"`
}

// Upstream is the upstream's answer in canonical terms.
type Upstream struct {
	// User is the canonical user of a 200 (absent for a 204).
	User any `yaml:"user"`
	// Error is a canonical error; its field is in canonical terms, named
	// in the dialect's, in its field and its message, as the server does
	// (Program.UpstreamError, then RenderError).
	Error *UpstreamError `yaml:"error"`
}

// UpstreamError is a canonical error the upstream answered.
type UpstreamError struct {
	Code       string `yaml:"code"`
	Status     int    `yaml:"status"`
	Message    string `yaml:"message"`
	Field      string `yaml:"field"`
	RetryAfter string `yaml:"retryAfter"`
}

// Reply is an expected dialect reply. Headers are compared for the names
// given; Body is compared as JSON; BodyHas names only the members that
// must be there (with these values: objects at any depth may hold more);
// NoBody asserts there is none.
type Reply struct {
	Status      int               `yaml:"status"`
	ContentType string            `yaml:"contentType"`
	Headers     map[string]string `yaml:"headers"`
	Body        any               `yaml:"body"`
	BodyHas     any               `yaml:"bodyHas"`
	NoBody      bool              `yaml:"noBody"`
}

// RequestBody returns the case's request body bytes.
func (c *Case) RequestBody() []byte {
	if c.RawBody != "" {
		return []byte(c.RawBody)
	}
	if c.Body == nil {
		return nil
	}
	return mustJSON(c.Body)
}

// CanonicalError builds the upstream's canonical error.
func (u *Upstream) CanonicalError() *canonical.Error {
	e := u.Error
	return &canonical.Error{Code: canonical.Code(e.Code), Status: e.Status, Message: e.Message, Field: e.Field, RetryAfter: e.RetryAfter}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(normalize(v))
	if err != nil {
		panic(err)
	}
	return b
}

// normalize turns YAML-decoded maps into JSON-encodable ones.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	case map[any]any:
		m := map[string]any{}
		for k, e := range x {
			m[fmt.Sprint(k)] = normalize(e)
		}
		return m
	case []any:
		for i := range x {
			x[i] = normalize(x[i])
		}
	}
	return v
}

// Params are path parameters by name.
type Params = adapters.PathParams

// MatchRoute extracts the parameters of path under route (nil: no match).
func MatchRoute(route, path string) Params { return adapters.MatchPath(route, path) }

// Input builds the engine's input for a case; its Params are nil when
// path does not match the route (never a nil map in the interface, which
// would read as a match).
func Input(p *mapping.Program, path string, body []byte) *mapping.Input {
	in := &mapping.Input{Body: body, URL: "http://userbridge.test" + path, Path: path, RequestID: "req-golden-1"}
	if params := MatchRoute(p.Route().Path, path); params != nil {
		in.Params = params
	}
	return in
}
