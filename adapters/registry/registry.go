// Package registry lists every dialect compiled into userbridge. It is the
// one place a newcomer looks to find them; there is no init() registration.
package registry

import (
	"github.com/userbridge/userbridge/adapters"
	"github.com/userbridge/userbridge/adapters/baasic"
	"github.com/userbridge/userbridge/adapters/crafter"
	"github.com/userbridge/userbridge/adapters/finix"
	"github.com/userbridge/userbridge/adapters/shift"
	"github.com/userbridge/userbridge/adapters/trustedtwin"
)

// Builtins returns the built-in dialects, in the order they are listed.
func Builtins() []adapters.Builtin {
	return []adapters.Builtin{
		baasic.Builtin,
		shift.Builtin,
		trustedtwin.Builtin,
		finix.Builtin,
		crafter.Builtin,
	}
}

// Lookup finds a built-in dialect by name.
func Lookup(name string) (adapters.Builtin, bool) {
	for _, b := range Builtins() {
		if b.Name == name {
			return b, true
		}
	}
	return adapters.Builtin{}, false
}
