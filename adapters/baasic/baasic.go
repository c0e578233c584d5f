// Package baasic is the Baasic dialect: its rules are rules.yaml, embedded;
// docs/dialects/baasic.md says what it accepts and answers.
package baasic

import (
	_ "embed"

	"github.com/userbridge/userbridge/adapters"
)

//go:embed rules.yaml
var rules []byte

// Builtin is the Baasic dialect as compiled into userbridge.
var Builtin = adapters.Builtin{Name: "baasic", Rules: rules}
