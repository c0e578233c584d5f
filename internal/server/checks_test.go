package server

import (
	"slices"
	"testing"

	"github.com/userbridge/userbridge/adapters/registry"
	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/mapping"
)

// testProgram compiles a built-in dialect's rules.
func testProgram(t *testing.T, name string) *mapping.Program {
	t.Helper()
	b, ok := registry.Lookup(name)
	if !ok {
		t.Fatalf("no dialect %s", name)
	}
	d, err := b.Load("", nil, mapping.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Program()
}

// TestBadPathValue: one rule for every path value: values that leave their
// segment, and bytes that are not UTF-8.
func TestBadPathValue(t *testing.T) {
	for v, bad := range map[string]bool{
		"jane.doe": false, "0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a": false, "jöhn": false, "日本": false, "a b": false,
		"..": true, ".": true, "a/b": true, `a\b`: true, "a?b": true, "a#b": true, "a\x00b": true, "a\x7fb": true,
		"\xc0\xaf": true, "\xff": true, "\xed\xa0\x80": true, "jane\xc3": true, "\xe0\x80\xaf": true,
	} {
		if got := badPathValue(v); got != bad {
			t.Errorf("badPathValue(%q) = %v, want %v", v, got, bad)
		}
	}
	for v, bad := range map[string]bool{"demo-app": false, "": true, " demo": true, "demo ": true, "\xff": true, "..": true} {
		if got := badTenant(v); got != bad {
			t.Errorf("badTenant(%q) = %v, want %v", v, got, bad)
		}
	}
}

// TestCookieTwice: one cookie name on two Cookie lines is refused; distinct
// cookies split over lines, and a name twice on one line, are not.
func TestCookieTwice(t *testing.T) {
	for _, c := range []struct {
		lines []string
		twice bool
	}{
		{[]string{"JSESSIONID=a; XSRF-TOKEN=b"}, false},
		{[]string{"JSESSIONID=a; JSESSIONID=b"}, false},
		{[]string{"JSESSIONID=a", "XSRF-TOKEN=b"}, false},
		{[]string{"JSESSIONID=a", "JSESSIONID=b"}, true},
		{[]string{"JSESSIONID=a; XSRF-TOKEN=b", " XSRF-TOKEN=c"}, true},
		{[]string{"a=1", "b=2", "a"}, true},
		{[]string{";;", ";"}, false},
	} {
		if got := cookieTwice(c.lines); got != c.twice {
			t.Errorf("cookieTwice(%q) = %v, want %v", c.lines, got, c.twice)
		}
	}
}

// TestOnceHeaders: Authorization, the rules' headers and the apiKeys
// headers, each once, in canonical form.
func TestOnceHeaders(t *testing.T) {
	got := onceHeaders(testProgram(t, "shift"), config.Auth{APIKeys: &config.APIKeys{Header: "x-secret", IDHeader: "x-key"}})
	want := []string{"Authorization", "X-Key", "X-Secret", "Mediasilosessionkey", "Mediasilohostcontext", "Mediasiloapikey"}
	if !slices.Equal(got, want) {
		t.Errorf("shift: %q, want %q", got, want)
	}
	got = onceHeaders(testProgram(t, "finix"), config.Auth{APIKeys: &config.APIKeys{Header: "X-Api-Key"}})
	if want := []string{"Authorization", "Finix-Version", "X-Api-Key"}; !slices.Equal(got, want) {
		t.Errorf("finix: %q, want %q", got, want)
	}
}
