// Package trustedtwin is the Trusted Twin dialect: its rules are rules.yaml, embedded;
// docs/dialects/trustedtwin.md says what it accepts and answers.
package trustedtwin

import (
	_ "embed"

	"github.com/userbridge/userbridge/adapters"
)

//go:embed rules.yaml
var rules []byte

// Builtin is the Trusted Twin dialect as compiled into userbridge.
var Builtin = adapters.Builtin{Name: "trustedtwin", Rules: rules}
