package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/userbridge/userbridge/adapters"
	"github.com/userbridge/userbridge/adapters/registry"
	"github.com/userbridge/userbridge/mapping"
)

// translate prints the canonical update a request body becomes (the
// password redacted), or the dialect's error. Exit 1 on a refusal, 2
// when the dialect, its rules or the path are wrong.
func translate(e *env, args []string) error {
	stdin, stdout, stderr := e.stdin, e.stdout, e.stderr
	fs := e.flags()
	name := fs.String("dialect", "", "dialect name (see: userbridge dialects)")
	path := fs.String("path", "", "request path (default: the route with each parameter's name as its value)")
	rules := fs.String("rules", "", "rule file to use instead of the built-in rules")
	if err := e.parse(fs, args); err != nil {
		return err
	}
	d, err := loadDialect(*name, *rules)
	if err != nil {
		return &usageError{cmd: "translate", msg: err.Error()}
	}
	p := d.Program()
	if *path == "" {
		*path = examplePath(p.Route().Path)
	}
	params := adapters.MatchPath(p.Route().Path, *path)
	if params == nil {
		return &usageError{cmd: "translate", msg: fmt.Sprintf("path %q does not match the route %s", *path, p.Route().Path)}
	}
	body, err := io.ReadAll(io.LimitReader(stdin, 16<<20))
	if err != nil {
		return fmt.Errorf("translate: reading the body: %w", err)
	}
	in := &mapping.Input{Body: body, Params: params, Path: *path, URL: "http://localhost" + *path, RequestID: "translate"}
	res, cerr := p.Translate(in)
	if cerr != nil {
		rep := p.RenderError(in, cerr)
		fmt.Fprintf(stdout, "HTTP %d %s\n%s\n", rep.Status, rep.ContentType, rep.Body)
		return errQuiet
	}
	fmt.Fprintf(stderr, "# %s %s → PATCH user by %s %q", p.Route().Method, *path, res.Target, res.Value)
	if res.Tenant != "" {
		fmt.Fprintf(stderr, " tenant %q", res.Tenant)
	}
	if res.NeedsStoredUser() {
		fmt.Fprint(stderr, " (the password rule will check the stored username first)")
	}
	fmt.Fprintln(stderr)
	fmt.Fprintf(stdout, "%s\n", res.Redacted())
	return nil
}

func loadDialect(name, rules string) (adapters.Dialect, error) {
	var data []byte
	if rules != "" {
		b, err := os.ReadFile(rules)
		if err != nil {
			return nil, err
		}
		data = b
	}
	var d adapters.Dialect
	var err error
	if b, ok := registry.Lookup(name); ok {
		d, err = b.Load(rules, data, mapping.Options{})
	} else if data == nil {
		return nil, fmt.Errorf("unknown dialect %q; `userbridge dialects` lists them, or give --rules", name)
	} else {
		d, err = adapters.FromRules(rules, data, mapping.Options{})
	}
	// As serve refuses it: the file must define the dialect asked for.
	if err == nil && name != "" && d.Name() != name {
		return nil, fmt.Errorf("%s defines dialect %q, not %q", rules, d.Name(), name)
	}
	return d, err
}

func examplePath(route string) string {
	segs := strings.Split(route, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, ":") {
			segs[i] = s[1:]
		}
	}
	return strings.Join(segs, "/")
}
