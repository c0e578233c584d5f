package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/userbridge/userbridge/adapters/openapi"
	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/app"
	"github.com/userbridge/userbridge/mapping"
)

// openapiCmd writes the OpenAPI 3.1 document of each dialect the config
// serves, generated from its compiled rules, with its mounted routes
// (prefix and host included): to stdout for one dialect, else one
// DIR/<dialect>.yaml each with --out DIR.
func openapiCmd(e *env, args []string) error {
	stdout := e.stdout
	fs := e.flags()
	file := fs.String("config", "", "configuration file (default: the embedded default)")
	only := fs.String("dialect", "", "only this dialect (default: every dialect served)")
	out := fs.String("out", "", "write DIR/<dialect>.yaml for each (default: stdout, for one dialect)")
	if err := e.parse(fs, args); err != nil {
		return err
	}
	cfg, src, err := config.Load(*file)
	if err != nil {
		return err
	}
	mounts, err := app.Resolve(cfg, src)
	if err != nil {
		return err
	}
	progs := map[string]*mapping.Program{}
	routes := map[string][]openapi.Mount{}
	for _, m := range mounts {
		p := m.Dialect.Program()
		if *only != "" && p.Name() != *only {
			continue
		}
		progs[p.Name()] = p
		routes[p.Name()] = append(routes[p.Name()], openapi.Mount{Path: m.Path, Host: m.Host, Verify: verifyOf(m.Auth)})
	}
	names := make([]string, 0, len(progs))
	for n := range progs {
		names = append(names, n)
	}
	sort.Strings(names)
	switch {
	case len(names) == 0 && *only != "":
		return &usageError{cmd: e.cmd.name, msg: fmt.Sprintf("%s serves no dialect %q", src.Name, *only)}
	case *out == "" && len(names) != 1:
		return &usageError{cmd: e.cmd.name, msg: fmt.Sprintf("%s serves %d dialects: give --dialect D, or --out DIR for one document each", src.Name, len(names))}
	}
	for _, n := range names {
		doc, err := openapi.Generate(progs[n], routes[n]...)
		if err != nil {
			return err
		}
		if *out == "" {
			_, err = stdout.Write(doc)
			return err
		}
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return fmt.Errorf("openapi: %w", err)
		}
		if err := os.WriteFile(filepath.Join(*out, n+".yaml"), doc, 0o644); err != nil {
			return fmt.Errorf("openapi: %w", err)
		}
		fmt.Fprintf(stdout, "%s\n", filepath.Join(*out, n+".yaml"))
	}
	return nil
}

// verifyOf is what userbridge checks of a dialect's callers, nil when it
// passes their credentials upstream.
func verifyOf(a config.Auth) *openapi.Verify {
	if a.Mode != config.ModeVerify {
		return nil
	}
	v := &openapi.Verify{Basic: a.Basic != nil, JWT: a.JWT != nil}
	if a.APIKeys != nil {
		v.APIKeyHeader, v.APIKeyIDHeader = a.APIKeys.Header, a.APIKeys.IDHeader
	}
	return v
}
