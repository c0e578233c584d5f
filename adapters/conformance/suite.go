package conformance

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/userbridge/userbridge/mapping"
)

// Result is one case's outcome: Problems is empty when it passed.
type Result struct {
	Case     *Case
	Problems []string
}

// Report is the outcome of every case of a run, and each dialect's
// coverage by them.
type Report struct {
	Results        []Result
	Passed, Failed int
	// Coverage holds one entry per dialect some case was sent to, by name.
	Coverage []*Coverage
}

// RunFiles loads the case files paths name (see Files) and runs every
// case against its dialect, found by programs. An unreadable file, or a
// case sent to a dialect no program serves (a config or a dialect key to
// change, not a case that failed), is an error: nothing runs.
func RunFiles(paths []string, programs map[string]*mapping.Program) (*Report, error) {
	files, err := Files(paths)
	if err != nil {
		return nil, err
	}
	var cases []Case
	var errs []error
	for _, f := range files {
		cs, err := LoadFile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cases = append(cases, cs...)
	}
	said := map[[2]string]bool{} // one problem per file and dialect, at its first case
	for i := range cases {
		c := &cases[i]
		if k := [2]string{c.Source, c.Dialect}; programs[c.Dialect] == nil && !said[k] {
			said[k] = true
			errs = append(errs, fmt.Errorf("%w: %s:%d: %s", ErrCases, c.Source, c.Line, unserved(c.Dialect, programs)))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return Run(cases, programs), nil
}

// unserved says that no program serves dialect, and what to do.
func unserved(dialect string, programs map[string]*mapping.Program) string {
	return fmt.Sprintf("no dialect %q is served (%s): a config that serves it (--config) or another dialect key",
		dialect, strings.Join(slices.Sorted(maps.Keys(programs)), ", "))
}

// Run runs cases against their dialects' programs.
func Run(cases []Case, programs map[string]*mapping.Program) *Report {
	rep := &Report{}
	byDialect := map[string][]Case{}
	for i := range cases {
		c := &cases[i]
		r := Result{Case: c}
		if p, ok := programs[c.Dialect]; ok {
			r.Problems = c.Check(p)
			byDialect[c.Dialect] = append(byDialect[c.Dialect], *c)
		} else {
			r.Problems = []string{unserved(c.Dialect, programs)}
		}
		if len(r.Problems) == 0 {
			rep.Passed++
		} else {
			rep.Failed++
		}
		rep.Results = append(rep.Results, r)
	}
	for _, name := range slices.Sorted(maps.Keys(byDialect)) {
		rep.Coverage = append(rep.Coverage, Measure(programs[name], byDialect[name]))
	}
	return rep
}
