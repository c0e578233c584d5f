package conformance_test

import (
	"path/filepath"
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
