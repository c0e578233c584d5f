package main

import (
	"fmt"
	"strings"

	"github.com/userbridge/userbridge/adapters/conformance"
	"github.com/userbridge/userbridge/adapters/registry"
	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/app"
	"github.com/userbridge/userbridge/mapping"
)

// testHelp is what `userbridge test --help` says besides the flags.
const testHelp = `Runs the rule test cases of each PATH (a case file, or a directory's *.yaml
files at any depth) against the dialects --config F serves (built-in or
from rule files, with its config constants), or the built-in dialects.
Prints each failing case with what differs, each dialect's field coverage,
then "N passed, N failed". Exit 1 on a failing case or a dialect under
--coverage-min, 2 when the run cannot start (a usage error, an unreadable
case file, an invalid config, a case for a dialect the config does not
serve). The case format: docs/rules.md.`

// ruleTest is `userbridge test`: golden cases run by the runner `go test`
// uses (conformance.Case.Check), without Go.
func ruleTest(e *env, args []string) error {
	stdout := e.stdout
	fs := e.flags()
	file := fs.String("config", "", "configuration whose dialects the cases run against (default: the built-in dialects)")
	minPct := fs.Float64("coverage-min", 0, "fail when a dialect's cases exercise less than PCT percent of its rule fields")
	if err := e.parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return &usageError{cmd: "test", msg: "give the case files or directories to run"}
	}
	if *minPct < 0 || *minPct > 100 {
		return &usageError{cmd: "test", msg: fmt.Sprintf("--coverage-min %g: a percentage, 0 to 100", *minPct)}
	}
	programs, err := testDialects(*file)
	if err != nil {
		return &usageError{cmd: "test", msg: err.Error(), cannotStart: true}
	}
	rep, err := conformance.RunFiles(fs.Args(), programs)
	if err != nil {
		return &usageError{cmd: "test", msg: err.Error(), cannotStart: true}
	}
	code := 0
	for _, r := range rep.Results {
		if len(r.Problems) == 0 {
			continue
		}
		code = 1
		fmt.Fprintf(stdout, "--- FAIL: %s:%s (line %d, dialect %s)\n", r.Case.Source, r.Case.Name, r.Case.Line, r.Case.Dialect)
		for _, p := range r.Problems {
			fmt.Fprintln(stdout, "    "+strings.ReplaceAll(p, "\n", "\n    "))
		}
	}
	for _, c := range rep.Coverage {
		fmt.Fprintf(stdout, "coverage %s: %d of %d rule fields exercised (%.0f%%)", c.Dialect, len(c.Exercised), len(c.Fields), c.Percent())
		if len(c.Unexercised) > 0 {
			fmt.Fprintf(stdout, "; not exercised: %s", strings.Join(c.Unexercised, ", "))
		}
		fmt.Fprintln(stdout)
		if len(c.Unknown) > 0 {
			fmt.Fprintf(stdout, "coverage %s: members no rule names (kept or refused, never mapped): %s\n", c.Dialect, strings.Join(c.Unknown, ", "))
		}
		if c.Percent() < *minPct {
			code = 1
			fmt.Fprintf(stdout, "--- FAIL: coverage %s: %.1f%% of rule fields exercised, under --coverage-min %g\n", c.Dialect, c.Percent(), *minPct)
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", rep.Passed, rep.Failed)
	if code != 0 {
		return errQuiet // said above
	}
	return nil
}

// testDialects compiles the dialects the cases run against: those file
// serves, or the built-in ones when file is "".
func testDialects(file string) (map[string]*mapping.Program, error) {
	out := map[string]*mapping.Program{}
	if file == "" {
		for _, b := range registry.Builtins() {
			d, err := b.Load("", nil, mapping.Options{})
			if err != nil {
				return nil, err
			}
			out[b.Name] = d.Program()
		}
		return out, nil
	}
	cfg, src, err := config.Load(file)
	if err != nil {
		return nil, err
	}
	mounts, err := app.Resolve(cfg, src)
	if err != nil {
		return nil, err
	}
	for _, m := range mounts {
		out[m.Dialect.Name()] = m.Dialect.Program()
	}
	return out, nil
}
