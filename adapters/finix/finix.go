// Package finix is the Finix dialect: its rules are rules.yaml, embedded;
// docs/dialects/finix.md says what it accepts and answers.
package finix

import (
	_ "embed"

	"github.com/userbridge/userbridge/adapters"
)

//go:embed rules.yaml
var rules []byte

// Builtin is the Finix dialect as compiled into userbridge.
var Builtin = adapters.Builtin{Name: "finix", Rules: rules}
