// Package adapters is the dialect contract: what every vendor dialect
// userbridge speaks provides. Each child package is one dialect; the
// registry package lists them all.
//
// A built-in dialect is, so far, nothing but its rule file, yet each keeps a
// package of its own, because each holds what is its alone beside the
// rules: its golden cases (testdata/, which one runner walks), its fuzz
// target and corpus, its benchmarks with a typical request, the tests of
// what only it does, and docs/dialects/<name>.md. Its Go code is one
// declaration, the Builtin that embeds rules.yaml: a Builtin without New
// is a RuleDialect, so no package repeats a constructor. New is there for
// a dialect that one day needs code of its own (an optional interface
// beside Dialect).
package adapters

import (
	"fmt"

	"github.com/userbridge/userbridge/mapping"
)

// Dialect is one vendor's "update user" API. Almost all of a dialect is its
// rule file; Program is the compiled form.
type Dialect interface {
	// Name is the dialect's name ("finix").
	Name() string
	// Program is the compiled rule file.
	Program() *mapping.Program
}

// Builtin describes a dialect compiled into userbridge.
type Builtin struct {
	// Name is the dialect's name.
	Name string
	// Rules is the embedded rule file.
	Rules []byte
	// New builds the dialect from a compiled rule file (the embedded one, or
	// a replacement from disk); nil: the dialect is a RuleDialect.
	New func(p *mapping.Program) Dialect
}

// RuleDialect is a dialect that is nothing but its rule file: every
// built-in dialect is one, and so is a dialect defined by configuration.
type RuleDialect struct {
	P *mapping.Program
}

// Name implements Dialect.
func (d *RuleDialect) Name() string { return d.P.Name() }

// Program implements Dialect.
func (d *RuleDialect) Program() *mapping.Program { return d.P }

// FromRules compiles a rule file into a dialect; file names it in errors.
func FromRules(file string, rules []byte, opts mapping.Options) (Dialect, error) {
	p, err := mapping.Load(file, rules, opts)
	if err != nil {
		return nil, err
	}
	return &RuleDialect{P: p}, nil
}

// Load compiles a built-in dialect from its embedded rules, or from rules
// when non-nil (a replacement read from file). The replacement must name
// the same dialect.
func (b Builtin) Load(file string, rules []byte, opts mapping.Options) (Dialect, error) {
	if rules == nil {
		rules, file = b.Rules, b.Name+"/rules.yaml (embedded)"
	}
	p, err := mapping.Load(file, rules, opts)
	if err != nil {
		return nil, err
	}
	if p.Name() != b.Name {
		return nil, fmt.Errorf("adapters: %s: rules for dialect %q cannot replace %q", file, p.Name(), b.Name)
	}
	if b.New == nil {
		return &RuleDialect{P: p}, nil
	}
	return b.New(p), nil
}

var _ Dialect = (*RuleDialect)(nil)
