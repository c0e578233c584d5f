// Package crafter is the Crafter Studio dialect: its rules are rules.yaml, embedded;
// docs/dialects/crafter.md says what it accepts and answers.
package crafter

import (
	_ "embed"

	"github.com/userbridge/userbridge/adapters"
)

//go:embed rules.yaml
var rules []byte

// Builtin is the Crafter Studio dialect as compiled into userbridge.
var Builtin = adapters.Builtin{Name: "crafter", Rules: rules}
