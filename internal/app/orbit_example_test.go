package app_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/tidwall/gjson"
	"github.com/userbridge/userbridge/adapters/openapi"
	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/app"
)

// TestOrbitExampleKeepsItsContract serves the second worked example
// (examples/dialects/orbit: a rule file alone, nested objects, two route
// parameters, statuses and an envelope of its own) on the real server and
// holds every answer to the OpenAPI document `userbridge openapi`
// publishes for it, as kin-openapi reads it: a request the document
// accepts is applied and one it refuses is refused, and every answer,
// errors included, is one the document describes. The answers to a path
// no route matches are the dialect's own at the status its rules give
// (not_found is Orbit's 410), and a route parameter is a string wherever
// a route matched.
func TestOrbitExampleKeepsItsContract(t *testing.T) {
	cfg, src, err := config.Load(filepath.Join("..", "..", "examples", "dialects", "orbit", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	mounts, err := app.Resolve(cfg, src)
	if err != nil || len(mounts) != 1 {
		t.Fatalf("mounts %d: %v", len(mounts), err)
	}
	data, err := openapi.Generate(mounts[0].Dialect.Program(), openapi.Mount{Path: mounts[0].Path})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the document is not valid: %v", err)
	}
	cfg.Listen = "127.0.0.1:0"
	logs := &syncBuffer{}
	built, err := app.New(cfg, src, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	s := launch(t, built, cfg.Listen, logs)
	doc.Servers = openapi3.Servers{{URL: s.base}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}

	// fits holds an answer to the document's answers of PUT path: its
	// status, headers and body are one of them. It returns the request
	// validated against the document: nil when the document accepts it.
	fits := func(t *testing.T, path, body string, a answer) error {
		t.Helper()
		req, _ := http.NewRequest("PUT", s.base+path, bytes.NewReader([]byte(body)))
		req.Header.Set("Content-Type", "application/vnd.orbit+json")
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Fatalf("PUT %s: no operation in the document: %v", path, err)
		}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
		reqErr := openapi3filter.ValidateRequest(context.Background(), in)
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: a.Status, Header: a.Header, Options: opts}
		out.SetBodyBytes(a.Body)
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			t.Errorf("%s: the answer %d %s is not the document's: %v", body, a.Status, a.Body, err)
		}
		return reqErr
	}
	// check sends PUT path and holds the server to the document: the
	// answer is the document's, and the request is applied exactly when
	// the document accepts it (but for a member that is not there: 410).
	check := func(t *testing.T, path, body string, status int) answer {
		t.Helper()
		got := s.do(t, "PUT", path, map[string]string{"Content-Type": "application/vnd.orbit+json", "X-Orbit-Token": "demo"}, body)
		if got.Status != status {
			t.Fatalf("PUT %s %s: %d %s, want %d", path, body, got.Status, got.Body, status)
		}
		reqErr := fits(t, path, body, got)
		if applied := got.Status < 300; status != 410 && applied != (reqErr == nil) {
			t.Errorf("%s: the server answered %d, the document says the request is valid: %v (%v)", body, got.Status, reqErr == nil, reqErr)
		}
		return got
	}

	jane := "/orbit/v1/orgs/acme/members/0B6F4C1E-8C2A-4D7E-9F3B-5A1D2E3C4B5A"
	ok := check(t, jane, `{"profile":{"firstName":"Janet","contact":{"phone":"+44 1234567"},"office":{"city":"Leeds"}},`+
		`"status":"LOCKED","groups":["admins",{"id":"g1","name":"ops","memberCount":3}],"labels":{"team":"blue"},"costCenter":"CC-9"}`, 200)
	if gjson.GetBytes(ok.Body, "member.orgId").Str != "acme" || ok.Header.Get("X-Orbit-Org") != "acme" ||
		gjson.GetBytes(ok.Body, "member.status").Str != "LOCKED" || gjson.GetBytes(ok.Body, "member.groups.1").Str != "ops" {
		t.Errorf("the member as updated: %v %s", ok.Header, ok.Body)
	}
	for _, c := range []struct {
		body   string
		status int
	}{
		{`{"status":"ENABLED","profile":{"firstName":null,"lastName":""}}`, 200},
		{`{"profile":{"contact":{"phone":null},"office":null},"labels":null,"costCenter":null}`, 200},
		{`{"status":"FROZEN"}`, 422},
		{`{"profile":null}`, 422},             // the e-mail's null: refused
		{`{"profile":{"contact":null}}`, 422}, // likewise
		{`{"profile":{"contact":{"email":null}}}`, 422},
		{`{"profile":{"nick":"x"}}`, 422},
		{`{"groups":[""]}`, 422},
		{`{"groups":[{"id":"g1"}]}`, 422},
		{`{"handle":"Jo"}`, 422},
		{`{"labels":{"Team":"blue"}}`, 422},
		{`{"secret":"short"}`, 422},
		{`{bad`, 400},
		{`[]`, 400},
	} {
		check(t, jane, c.body, c.status)
	}
	gone := check(t, "/orbit/v1/orgs/acme/members/nobody", `{"status":"ENABLED"}`, 410)
	if gjson.GetBytes(gone.Body, "fault.status").Int() != 410 || gjson.GetBytes(gone.Body, "fault.org").Str != "acme" {
		t.Errorf("410: %s", gone.Body)
	}

	// A path no route matches, meant for Orbit: its not_found, at its 410
	// (the body's status says so too), as the document's 410 describes.
	for _, path := range []string{"/orbit/v1/orgs/acme/members/a/b", "/orbit/v1/orgs/acme/members/"} {
		a := s.do(t, "PUT", path, map[string]string{"Content-Type": "application/json"}, `{}`)
		if a.Status != 410 || gjson.GetBytes(a.Body, "fault.status").Int() != 410 || gjson.GetBytes(a.Body, "fault.code").Str != "E_GONE" {
			t.Errorf("PUT %s: %d %s, want Orbit's 410", path, a.Status, a.Body)
		}
	}
	// A method the route does not serve: Orbit's 405, with no parameter
	// bound (org is null), as the document's 405 allows.
	a := s.do(t, "PATCH", jane, map[string]string{"Content-Type": "application/json"}, `{}`)
	if a.Status != 405 || a.Header.Get("Allow") != "PUT" || gjson.GetBytes(a.Body, "fault.code").Str != "E_METHOD" {
		t.Fatalf("PATCH: %d %v %s", a.Status, a.Header, a.Body)
	}
	fits(t, jane, `{}`, a) // as the PUT operation's 405
	// The document types ${param.orgId} as the string it is wherever the
	// route matched: in the member and in Orbit's 400.
	js, err := doc.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"200.content.application/vnd\\.orbit+json.schema.properties.member.properties.orgId.type",
		"400.content.application/vnd\\.orbit+json.schema.properties.fault.properties.org.type"} {
		p = "paths./orbit/v1/orgs/{orgId}/members/{memberId}.put.responses." + p
		if got := gjson.GetBytes(js, p); got.Str != "string" {
			t.Errorf("%s: %s, want string", p, got.Raw)
		}
	}
}
