package openapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/userbridge/userbridge/adapters/conformance"
	"github.com/userbridge/userbridge/adapters/openapi"
	"github.com/userbridge/userbridge/adapters/registry"
	"github.com/userbridge/userbridge/mapping"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// contract is one dialect's program and its generated document, loaded and
// validated by kin-openapi.
type contract struct {
	p      *mapping.Program
	doc    *openapi3.T
	router routers.Router
}

func load(t *testing.T, p *mapping.Program, mounts ...openapi.Mount) *contract {
	t.Helper()
	data, err := openapi.Generate(p, mounts...)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		t.Fatalf("%s: the document does not load: %v", p.Name(), err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("%s: the document is not valid: %v", p.Name(), err)
	}
	if doc.OpenAPI != "3.1.0" || !doc.IsOpenAPI31OrLater() {
		t.Fatalf("%s: openapi %q, want 3.1.0", p.Name(), doc.OpenAPI)
	}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &contract{p: p, doc: doc, router: r}
}

var filterOptions = &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
	IncludeResponseStatus: true, MultiError: true}

// request validates a request of path, body and headers against the
// document; without a Content-Type, it is the dialect's first.
func (c *contract) request(t *testing.T, path string, body []byte, headers ...map[string]string) (*openapi3filter.RequestValidationInput, error) {
	t.Helper()
	req, err := http.NewRequest(c.p.Route().Method, "http://userbridge.test"+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", c.p.ContentTypes()[0])
	for _, h := range headers {
		for k, v := range h {
			req.Header.Set(k, v)
		}
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s: no route in the document: %v", req.Method, path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: filterOptions}
	return in, openapi3filter.ValidateRequest(context.Background(), in)
}

// response validates a rendered answer against the document.
func (c *contract) response(t *testing.T, in *openapi3filter.RequestValidationInput, rep *mapping.Reply) error {
	t.Helper()
	h := http.Header{}
	if rep.Body != nil {
		h.Set("Content-Type", rep.ContentType)
	}
	for _, x := range rep.Headers {
		h.Add(x.Name, x.Value)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rep.Status, Header: h,
		Body: io.NopCloser(bytes.NewReader(rep.Body)), Options: filterOptions}
	return openapi3filter.ValidateResponse(context.Background(), out)
}

func builtins(t *testing.T) []*contract {
	var out []*contract
	for _, b := range registry.Builtins() {
		out = append(out, load(t, conformance.Dialect(t, b)))
	}
	return out
}

// TestDocumentsValidate: every built-in dialect's document loads and
// validates as OpenAPI 3.1.
func TestDocumentsValidate(t *testing.T) {
	cs := builtins(t)
	if got := len(cs); got != 5 {
		t.Fatalf("%d documents, want 5", got)
	}
	// The 405 a wrong method gets carries Allow, which userbridge sets
	// whatever the rules say.
	for _, c := range cs {
		for _, item := range c.doc.Paths.Map() {
			for method, op := range item.Operations() {
				r := op.Responses.Status(405)
				if r == nil || r.Value == nil || r.Value.Headers["Allow"] == nil {
					t.Errorf("%s %s: no 405 with Allow", c.p.Name(), method)
				}
			}
		}
	}
}

// TestGoldenCasesValidate: every golden request the rules accept validates
// against its dialect's document as a request, and every answer the golden
// cases render (refusals, upstream errors and successes) and the error of
// every canonical code, with and without a field, validates as a response.
func TestGoldenCasesValidate(t *testing.T) {
	for _, c := range builtins(t) {
		cases, err := conformance.LoadCases(filepath.Join("..", c.p.Name(), "testdata"))
		if err != nil {
			t.Fatal(err)
		}
		n, file := 0, ""
		for _, gc := range cases {
			allCodes := gc.File != file // every code once per file of cases
			file = gc.File
			t.Run(c.p.Name()+"/"+gc.File+"/"+gc.Name, func(t *testing.T) {
				n += c.golden(t, &gc, allCodes)
			})
		}
		t.Logf("%s: %d golden cases, %d answers validated", c.p.Name(), len(cases), n)
		if n == 0 {
			t.Errorf("%s: no answer validated", c.p.Name())
		}
	}
}

// golden validates one case's request and answers, with allCodes the
// error of every canonical code too; it returns how many answers it
// validated.
func (c *contract) golden(t *testing.T, gc *conformance.Case, allCodes bool) int {
	body := gc.RequestBody()
	in := conformance.Input(c.p, gc.Path, body)
	vin, verr := c.request(t, gc.Path, body, gc.Headers)
	var cerr *canonical.Error
	var res *mapping.Result
	if ct := http.Header(canonicalHeaders(gc.Headers)).Get("Content-Type"); ct != "" && !c.p.AcceptsContentType(ct) {
		// The server refuses it before any rule runs; so does the document.
		cerr = canonical.Errorf(canonical.UnsupportedMediaType, "Content-Type must be one of "+strings.Join(c.p.ContentTypes(), ", "))
		if verr == nil {
			t.Errorf("the dialect refuses Content-Type %q, the document accepts it", ct)
		}
	} else {
		res, cerr = c.p.Translate(in)
	}
	if cerr == nil {
		_, cerr = res.Update(func() ([]byte, *canonical.Error) {
			if gc.Stored == nil {
				return conformance.AnyStoredUser()
			}
			stored, _ := json.Marshal(gc.Stored)
			return stored, nil
		})
	}
	var replies []*mapping.Reply
	if cerr != nil {
		replies = append(replies, c.p.RenderError(in, cerr))
	} else {
		if verr != nil {
			t.Errorf("the rules accept the request, the document refuses it:\n%v\nbody: %s", verr, body)
		}
		// The conformance suite's user, every member set.
		replies = append(replies, c.p.RenderSuccess(in, res, []byte(richUser)))
		if u := gc.Upstream; u != nil && u.Error != nil {
			replies = append(replies, c.p.RenderError(in, c.p.UpstreamError(in, u.CanonicalError())))
		} else if u != nil {
			var user []byte
			if u.User != nil {
				user, _ = json.Marshal(u.User)
			}
			replies = append(replies, c.p.RenderSuccess(in, res, user))
		}
	}
	for _, code := range canonical.Codes {
		for _, field := range []string{"", "email"} {
			if !allCodes {
				break
			}
			replies = append(replies, c.p.RenderError(in, &canonical.Error{Code: code, Message: "something went wrong", Field: field}))
		}
	}
	for _, rep := range replies {
		if err := c.response(t, vin, rep); err != nil {
			t.Errorf("answer %d does not validate: %v\nbody: %s", rep.Status, err, rep.Body)
		}
	}
	return len(replies)
}

func canonicalHeaders(h map[string]string) map[string][]string {
	out := map[string][]string{}
	for k, v := range h {
		out[http.CanonicalHeaderKey(k)] = []string{v}
	}
	return out
}

// richUser is a canonical user with most members set, as the conformance
// suite renders a success with.
const richUser = `{"id":"0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a","username":"jane.doe","email":"jane@example.com",` +
	`"givenName":"Jane","familyName":"Doe","active":true,"locked":false,"createdAt":"2024-01-15T09:30:00.000Z",` +
	`"updatedAt":"2024-02-01T10:00:00.500Z","lastLoginAt":"2024-02-02T10:00:00Z","createdBy":"system",` +
	`"roles":[{"id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","name":"ROLE_MERCHANT"}],"attributes":{"a":"b"},` +
	`"extensions":{"finix":{"identity":"IDx"},"shift":{"sso":true}}}`

// TestExampleDialectValidates: the worked examples' cases (examples/
// dialects/acme, examples/dialects/orbit) validate against the contract
// generated from their rules, as the built-in dialects' do.
func TestExampleDialectValidates(t *testing.T) {
	for _, ex := range []struct{ name, cases string }{{"acme", "accounts.yaml"}, {"orbit", "members.yaml"}} {
		t.Run(ex.name, func(t *testing.T) {
			dir := filepath.Join("..", "..", "examples", "dialects", ex.name)
			data, err := os.ReadFile(filepath.Join(dir, "rules.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			p, err := mapping.Load("rules.yaml", data, mapping.Options{})
			if err != nil {
				t.Fatal(err)
			}
			c := load(t, p)
			cases, err := conformance.LoadFile(filepath.Join(dir, "tests", ex.cases))
			if err != nil {
				t.Fatal(err)
			}
			if len(cases) == 0 {
				t.Fatal("no cases")
			}
			for i, gc := range cases {
				t.Run(gc.Name, func(t *testing.T) { c.golden(t, &gc, i == 0) })
			}
		})
	}
}

// TestNestedObjectsAsTheRulesReadThem: an object on a dotted source's way
// is required where a rule beneath it is, and may be null only when every
// rule beneath it takes a null; the document says what the engine does.
func TestNestedObjectsAsTheRulesReadThem(t *testing.T) {
	p, err := mapping.Load("rules.yaml", []byte(`dialect: nest
route: {method: PUT, path: /n/:id}
request:
  target: {from: param.id, by: id}
  fields:
    - {source: profile.contact.email, type: string, target: email, required: true}
    - {source: profile.name, type: string, target: displayName, null: unset}
    - {source: extra.note, type: string, target: givenName, null: unset}
response: {status: 204}
errors: {body: {message: "${error.message}"}}
`), mapping.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := load(t, p)
	for _, tc := range []struct {
		body  string
		valid bool
	}{
		{`{"profile":{"contact":{"email":"a@b.c"}}}`, true},
		{`{"profile":{"contact":{"email":"a@b.c"}},"extra":null}`, true}, // every rule beneath takes a null
		{`{}`, false},                           // the e-mail is required: so are its objects
		{`{"profile":{}}`, false},               // likewise
		{`{"profile":null}`, false},             // the e-mail's null is refused
		{`{"profile":{"contact":null}}`, false}, // likewise
		{`{"profile":{"contact":{"email":null}}}`, false},
	} {
		_, docErr := c.request(t, "/n/u1", []byte(tc.body))
		_, cerr := p.Translate(conformance.Input(p, "/n/u1", []byte(tc.body)))
		if (docErr == nil) != tc.valid || (cerr == nil) != tc.valid {
			t.Errorf("%s: the document accepts it: %v (%v); the engine: %v; want %v", tc.body, docErr == nil, docErr, cerr, tc.valid)
		}
	}
}
