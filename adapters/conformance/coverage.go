package conformance

import (
	"maps"
	"slices"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/userbridge/userbridge/mapping"
)

// Coverage is what one dialect's cases exercise of its rules.
type Coverage struct {
	// Dialect is the dialect's name.
	Dialect string
	// Fields are the sources of its request field rules; Exercised those
	// some case's request body holds (null included), Unexercised the
	// others, in the rule file's order.
	Fields, Exercised, Unexercised []string
	// Unknown are members case bodies hold that no rule names (no field
	// rule, read-only field or target field): kept as extensions or
	// refused, never mapped — silent loss waiting to happen when a rule
	// was meant. Sorted, each once.
	Unknown []string
}

// Percent is the exercised share of the rule fields, 100 when the rules
// have none.
func (c *Coverage) Percent() float64 {
	if len(c.Fields) == 0 {
		return 100
	}
	return 100 * float64(len(c.Exercised)) / float64(len(c.Fields))
}

// Measure finds what cases (all of the program's dialect) exercise of its
// rules.
func Measure(p *mapping.Program, cases []Case) *Coverage {
	cov := &Coverage{Dialect: p.Name(), Fields: p.FieldSources()}
	named := map[string]bool{} // the paths rules name, and every prefix of them
	for _, s := range cov.Fields {
		segs := strings.Split(s, ".")
		for i := range segs {
			named[strings.Join(segs[:i+1], ".")] = true
		}
	}
	exact := map[string]bool{}
	for _, s := range cov.Fields {
		exact[s] = true
	}
	for _, s := range p.ReadOnly() {
		exact[s], named[s] = true, true
	}
	if f := p.TargetField(); f != "" {
		exact[f], named[f] = true, true
	}
	seen := map[string]bool{}
	unknown := map[string]bool{}
	for i := range cases {
		body := cases[i].RequestBody()
		if !gjson.ValidBytes(body) {
			continue
		}
		for _, s := range cov.Fields {
			if gjson.GetBytes(body, gjsonPath(s)).Exists() {
				seen[s] = true
			}
		}
		walkUnknown(gjson.ParseBytes(body), "", named, exact, unknown)
	}
	for _, s := range cov.Fields {
		if seen[s] {
			cov.Exercised = append(cov.Exercised, s)
		} else {
			cov.Unexercised = append(cov.Unexercised, s)
		}
	}
	cov.Unknown = slices.Sorted(maps.Keys(unknown))
	return cov
}

// walkUnknown adds to unknown the members of obj (at prefix) no rule
// names; it goes into an object whose members rules read.
func walkUnknown(obj gjson.Result, prefix string, named, exact, unknown map[string]bool) {
	if !obj.IsObject() {
		return
	}
	obj.ForEach(func(k, v gjson.Result) bool {
		path := join(prefix, k.Str)
		switch {
		case exact[path]:
		case named[path]:
			walkUnknown(v, path, named, exact, unknown)
		default:
			unknown[path] = true
		}
		return true
	})
}

// gjsonPath escapes a dotted source's member names for gjson.
func gjsonPath(source string) string {
	segs := strings.Split(source, ".")
	for i, s := range segs {
		for _, c := range []string{`\`, "*", "?", "#", "|", "@", "!"} {
			s = strings.ReplaceAll(s, c, `\`+c)
		}
		segs[i] = s
	}
	return strings.Join(segs, ".")
}
