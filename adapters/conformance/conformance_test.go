package conformance_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/userbridge/userbridge/adapters/conformance"
	"github.com/userbridge/userbridge/adapters/registry"
)

// TestGolden walks every built-in dialect's testdata with one runner.
func TestGolden(t *testing.T) {
	for _, b := range registry.Builtins() {
		t.Run(b.Name, func(t *testing.T) {
			conformance.RunGolden(t, conformance.Dialect(t, b), filepath.Join("..", b.Name, "testdata"))
		})
	}
}

// TestConformance runs the shared suite against every dialect, using the
// first accepted golden request as the base.
func TestConformance(t *testing.T) {
	for _, b := range registry.Builtins() {
		t.Run(b.Name, func(t *testing.T) {
			p := conformance.Dialect(t, b)
			cases, err := conformance.LoadCases(filepath.Join("..", b.Name, "testdata"))
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cases {
				if c.Error == nil && c.Update != nil {
					conformance.RunSuite(t, p, c.Path, c.RequestBody())
					return
				}
			}
			t.Fatal("no accepted golden case to build on")
		})
	}
}

// TestCheckFrontChecks: a case's method must be the route's, and its
// Content-Type is checked as the server checks it.
func TestCheckFrontChecks(t *testing.T) {
	b, _ := registry.Lookup("finix")
	p := conformance.Dialect(t, b)
	c := conformance.Case{Method: "POST", Path: "/users/US1", Body: map[string]any{"enabled": true}}
	if probs := c.Check(p); len(probs) != 1 || !strings.Contains(probs[0], "finix is served on PUT /users/:user_id") {
		t.Fatalf("a wrong method: %v", probs)
	}
	c = conformance.Case{Path: "/users/US1", Headers: map[string]string{"Content-Type": "text/plain"}, Body: map[string]any{"enabled": true},
		Error: &conformance.Reply{Status: 415, BodyHas: map[string]any{"_embedded": map[string]any{"errors": []any{map[string]any{
			"code": "NOT_ACCEPTABLE", "logref": "req-golden-1",
			"message": "Content-Type must be one of application/json, application/hal+json",
			"_links":  map[string]any{"self": map[string]any{"href": "http://userbridge.test/users/US1"}}}}}}}}
	if probs := c.Check(p); len(probs) != 0 {
		t.Fatalf("a refused Content-Type: %v", probs)
	}
	c.Headers["Content-Type"] = "application/hal+json"
	if probs := c.Check(p); len(probs) != 1 || !strings.HasPrefix(probs[0], "translated, want a refusal") {
		t.Fatalf("an accepted Content-Type: %v", probs)
	}
}
