package main

import (
	"reflect"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/yamlschema"
	"github.com/userbridge/userbridge/mapping"
)

// durationPattern is what time.ParseDuration reads (config.Duration).
const durationPattern = `^[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$`

var zero = 0.0

// schemas are the JSON Schemas `userbridge schema` prints, generated from
// the Go types the files are decoded into.
var schemas = map[string]func() ([]byte, error){
	"rules": func() ([]byte, error) {
		g := yamlschema.Generator{Docs: schemaDocs}
		return g.Generate(reflect.TypeOf(mapping.File{}), "", "userbridge rule file (docs/rules.md)")
	},
	"config": func() ([]byte, error) {
		g := yamlschema.Generator{Docs: schemaDocs, Types: map[reflect.Type]*yamlschema.Schema{
			reflect.TypeOf(config.Duration(0)): {Type: []string{"string", "integer"}, Pattern: durationPattern,
				Minimum: &zero, Maximum: &zero, Description: "a duration such as 5s, 250ms or 1h30m (a number only as 0)"},
			reflect.TypeOf(config.AttrList(nil)): {Type: []string{"string", "array"}, Items: &yamlschema.Schema{Type: "string"},
				Description: "an LDAP attribute's name, or a list of names"},
		}}
		return g.Generate(reflect.TypeOf(config.Config{}), "", "userbridge configuration (docs/configuration.md)")
	},
}

// schemaCmd prints the JSON Schema of rule files or of the config.
func schemaCmd(e *env, args []string) error {
	fs := e.flags()
	if err := e.parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || schemas[fs.Arg(0)] == nil {
		return &usageError{cmd: e.cmd.name, msg: "name one schema: rules or config"}
	}
	out, err := schemas[fs.Arg(0)]()
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(out)
	return err
}
