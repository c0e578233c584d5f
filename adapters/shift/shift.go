// Package shift is the Shift dialect: its rules are rules.yaml, embedded;
// docs/dialects/shift.md says what it accepts and answers.
package shift

import (
	_ "embed"

	"github.com/userbridge/userbridge/adapters"
)

//go:embed rules.yaml
var rules []byte

// Builtin is the Shift dialect as compiled into userbridge.
var Builtin = adapters.Builtin{Name: "shift", Rules: rules}
