package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestOpenAPIPublished: docs/openapi/ holds exactly the documents
// `userbridge openapi --out DIR` generates now from the built-in rules.
func TestOpenAPIPublished(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"openapi", "--out", dir}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	got, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	published, _ := filepath.Glob(filepath.Join("..", "..", "docs", "openapi", "*.yaml"))
	if len(got) != 5 || len(published) != len(got) {
		t.Fatalf("generated %d documents, published %d; want 5 each", len(got), len(published))
	}
	for _, g := range got {
		want, err := os.ReadFile(filepath.Join("..", "..", "docs", "openapi", filepath.Base(g)))
		if err != nil {
			t.Fatal(err)
		}
		have, _ := os.ReadFile(g)
		if !bytes.Equal(have, want) {
			t.Errorf("docs/openapi/%s is not what `userbridge openapi` generates: run `go run ./cmd/userbridge openapi --out docs/openapi`", filepath.Base(g))
		}
	}
}

// TestOpenAPIMounts: one dialect goes to stdout with the route a config
// mounts it at (its prefix) and the host it is restricted to; several
// without --out, an unknown dialect or an argument are refused.
func TestOpenAPIMounts(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("dialects:\n  finix: {prefix: /finix, host: pay.example.com}\n  shift: {}\n"), 0o600)
	var out, errb bytes.Buffer
	if code := run([]string{"openapi", "--config", cfg, "--dialect", "finix"}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	doc, err := openapi3.NewLoader().LoadFromData(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	item := doc.Paths.Value("/finix/users/{user_id}")
	if item == nil || item.Put == nil {
		t.Fatalf("no PUT /finix/users/{user_id}: %v", doc.Paths.InMatchingOrder())
	}
	if len(item.Servers) == 0 || item.Servers[0].URL != "https://pay.example.com" {
		t.Errorf("servers %v, want the host", item.Servers)
	}
	for _, args := range [][]string{
		{"openapi", "--config", cfg},
		{"openapi", "--config", cfg, "--dialect", "nosuch"},
		{"openapi", cfg},
	} {
		out.Reset()
		errb.Reset()
		// Called wrongly: exit 2 with the command's usage hint.
		if code := run(args, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "userbridge openapi --help") {
			t.Errorf("%v: exit %d, %q", args, code, errb.String())
		}
	}
}

// TestOpenAPIVerify: with auth mode verify the document says what
// userbridge checks (the dialect's API key headers, Basic), not the
// headers passed upstream.
func TestOpenAPIVerify(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte(`upstream: {url: http://idp.internal}
dialects:
  shift:
    auth:
      mode: verify
      apiKeys: {file: /etc/userbridge/shift.keys}
      basic: {file: /etc/userbridge/shift.htpasswd}
      upstream: {bearer: {env: SHIFT_TOKEN}}
`), 0o600)
	var out, errb bytes.Buffer
	if code := run([]string{"openapi", "--config", cfg, "--dialect", "shift"}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	doc, err := openapi3.NewLoader().LoadFromData(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatal(err)
	}
	ss := doc.Components.SecuritySchemes
	if len(ss) != 3 || ss["apiKey"] == nil || !strings.EqualFold(ss["apiKey"].Value.Name, "x-secret") ||
		ss["apiKeyId"] == nil || !strings.EqualFold(ss["apiKeyId"].Value.Name, "x-key") ||
		ss["basic"] == nil || ss["basic"].Value.Scheme != "basic" {
		t.Fatalf("security schemes: %s", out.String()[:min(out.Len(), 1500)])
	}
	sec := *doc.Paths.Value("/v3/users/{userId}").Put.Security
	if len(sec) != 2 || len(sec[0]) != 2 {
		t.Errorf("security %v, want the key pair together or Basic", sec)
	}
}

// TestOpenAPIExample: the worked example dialect's contract, from its own
// config, loads and validates.
func TestOpenAPIExample(t *testing.T) {
	var out, errb bytes.Buffer
	cfg := filepath.Join(root, "examples", "dialects", "acme", "config.yaml")
	if code := run([]string{"openapi", "--config", cfg}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	doc, err := openapi3.NewLoader().LoadFromData(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(doc.Paths.Map()) != 1 {
		t.Errorf("paths %v", doc.Paths.InMatchingOrder())
	}
}
