package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/userbridge/userbridge/adapters"
	"github.com/userbridge/userbridge/adapters/registry"
	"github.com/userbridge/userbridge/mapping"
)

// translate prints the canonical update a request body becomes (the
// password redacted), or the dialect's error. Exit 1 on a refusal.
func translate(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("translate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("dialect", "", "dialect name (see `userbridge dialects`)")
	path := fs.String("path", "", "request path (default: the route with each parameter's name as its value)")
	rules := fs.String("rules", "", "rule file to use instead of the built-in rules")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	d, err := loadDialect(*name, *rules)
	if err != nil {
		fmt.Fprintln(stderr, "userbridge:", err)
		return 2
	}
	p := d.Program()
	if *path == "" {
		*path = examplePath(p.Route().Path)
	}
	params := adapters.MatchPath(p.Route().Path, *path)
	if params == nil {
		fmt.Fprintf(stderr, "userbridge: path %q does not match the route %s\n", *path, p.Route().Path)
		return 2
	}
	body, err := io.ReadAll(io.LimitReader(stdin, 16<<20))
	if err != nil {
		fmt.Fprintln(stderr, "userbridge: reading the body:", err)
		return 2
	}
	in := &mapping.Input{Body: body, Params: params, Path: *path, URL: "http://localhost" + *path, RequestID: "translate"}
	res, cerr := p.Translate(in)
	if cerr != nil {
		rep := p.RenderError(in, cerr)
		fmt.Fprintf(stdout, "HTTP %d %s\n%s\n", rep.Status, rep.ContentType, rep.Body)
		return 1
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
	return 0
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
