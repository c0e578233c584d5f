package openapi

import (
	"encoding/json"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/userbridge/userbridge/mapping"
)

// uuidPattern is the shape mapping.IsUUID accepts: 8-4-4-4-12 hexadecimal
// digits, either case, optionally in braces.
const uuidPattern = `^(\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})$`

// requestSchema describes the request body the rules accept: each field
// rule's member (nested for a dotted source), the read-only members, the
// body member naming the user, and the unknown-member policy.
//
// An object on a dotted source's way is read as the rules beneath it read
// it: it may be null only when each of them takes a null (null: unset or
// ignore; a null object is each rule's null), and it is required where one
// of them is (a body without it lacks that member).
func requestSchema(p *mapping.Program) *openapi3.Schema {
	root := objectSchema(p.RejectsUnknown())
	for _, r := range p.RequestFields() {
		parent := root
		segs := strings.Split(r.Source, ".")
		takesNull := r.Null == "unset" || r.Null == "ignore"
		for _, seg := range segs[:len(segs)-1] {
			ref := parent.Properties[seg]
			if ref == nil {
				o := objectSchema(p.RejectsUnknown())
				o.Type = &openapi3.Types{"object", "null"}
				ref = openapi3.NewSchemaRef("", o)
				parent.Properties[seg] = ref
			}
			if !takesNull {
				ref.Value.Type = &openapi3.Types{"object"}
			}
			requireMember(parent, seg, r.Required)
			parent = ref.Value
		}
		leaf := segs[len(segs)-1]
		s := fieldSchema(&r)
		if old := parent.Properties[leaf]; old != nil {
			s = &openapi3.Schema{AllOf: openapi3.SchemaRefs{old, openapi3.NewSchemaRef("", s)}}
		}
		parent.Properties[leaf] = openapi3.NewSchemaRef("", s)
		requireMember(parent, leaf, r.Required)
	}
	for _, name := range p.ReadOnlyFields() {
		root.Properties[name] = openapi3.NewSchemaRef("", &openapi3.Schema{ReadOnly: true,
			Description: "accepted and ignored (read-only)"})
	}
	if t := p.TargetBodyField(); t != "" {
		root.Properties[t] = openapi3.NewSchemaRef("", &openapi3.Schema{Type: &openapi3.Types{"string"}, MinLength: 1,
			Description: "names the user updated; not part of the update"})
		root.Required = append(root.Required, t)
	}
	sort.Strings(root.Required)
	return root
}

// requireMember lists name in the object's required members when required.
func requireMember(obj *openapi3.Schema, name string, required bool) {
	if required && !slices.Contains(obj.Required, name) {
		obj.Required = append(obj.Required, name)
	}
}

func objectSchema(strict bool) *openapi3.Schema {
	s := &openapi3.Schema{Type: &openapi3.Types{"object"}, Properties: openapi3.Schemas{}}
	if strict {
		no := false
		s.AdditionalProperties = openapi3.AdditionalProperties{Has: &no}
	}
	return s
}

// fieldSchema describes the values one field rule accepts.
func fieldSchema(r *mapping.FieldRule) *openapi3.Schema {
	s := &openapi3.Schema{}
	if r.Target != "" {
		s.Description = "canonical " + r.Target
	}
	nullable := r.Null == "unset" || r.Null == "ignore"
	if r.Type != "" && r.Type != "any" {
		t := openapi3.Types{r.Type}
		if nullable {
			t = append(t, "null")
		}
		s.Type = &t
	}
	if len(r.Enum) > 0 {
		for _, k := range slices.Sorted(maps.Keys(r.Enum)) {
			s.Enum = append(s.Enum, enumValues(r.Type, k)...)
		}
		if nullable {
			s.Enum = append(s.Enum, nil)
		}
	}
	v := &r.Validate
	if len(v.OneOf) > 0 {
		s.Enum = nil
		for _, k := range v.OneOf {
			s.Enum = append(s.Enum, k)
		}
		if nullable {
			s.Enum = append(s.Enum, nil)
		}
	}
	if r.Empty == "reject" || v.NonEmpty {
		s.MinLength = 1
	}
	if v.MinLength > 0 {
		s.MinLength = max(s.MinLength, uint64(v.MinLength))
	}
	if v.Password != nil && v.Password.MinLength > 0 {
		s.MinLength = max(s.MinLength, uint64(v.Password.MinLength))
		s.Description += "; a password policy (upper, lower, digit, special characters, not the username) is checked too"
	}
	if v.MaxLength > 0 {
		s.MaxLength = openapi3.Uint64Ptr(uint64(v.MaxLength))
	}
	var patterns []string
	if v.Pattern != "" {
		patterns = append(patterns, "^(?:"+v.Pattern+")$")
	}
	if v.UUID {
		patterns = append(patterns, uuidPattern)
	}
	switch len(patterns) {
	case 1:
		s.Pattern = patterns[0]
	case 2:
		s.Pattern = patterns[0]
		s.AllOf = openapi3.SchemaRefs{openapi3.NewSchemaRef("", &openapi3.Schema{Pattern: patterns[1]})}
	}
	if v.Email {
		s.Format = "email"
	}
	if v.MaxPairs > 0 {
		s.MaxProps = openapi3.Uint64Ptr(uint64(v.MaxPairs))
	}
	if v.KeyPattern != "" || v.KeyMaxLength > 0 {
		names := &openapi3.Schema{}
		if v.KeyPattern != "" {
			names.Pattern = "^(?:" + v.KeyPattern + ")$"
		}
		if v.KeyMaxLength > 0 {
			names.MaxLength = openapi3.Uint64Ptr(uint64(v.KeyMaxLength))
		}
		s.PropertyNames = openapi3.NewSchemaRef("", names)
	}
	if v.ValueType != "" || v.ValueMaxLength > 0 {
		vals := &openapi3.Schema{}
		if v.ValueType != "" && v.ValueType != "any" {
			vals.Type = &openapi3.Types{v.ValueType}
		}
		if v.ValueMaxLength > 0 {
			vals.MaxLength = openapi3.Uint64Ptr(uint64(v.ValueMaxLength))
		}
		s.AdditionalProperties = openapi3.AdditionalProperties{Schema: openapi3.NewSchemaRef("", vals)}
	}
	if v.MaxItems > 0 {
		s.MaxItems = openapi3.Uint64Ptr(uint64(v.MaxItems))
	}
	if r.Items != nil {
		s.Items = openapi3.NewSchemaRef("", itemSchema(r.Items, r.Target == "roles"))
	}
	return s
}

// enumValues are the JSON values an enum key matches: the key typed as
// the rule's source (true, 1) for a boolean or number rule; the string for
// a string rule; both for a rule of any type (a key is matched against a
// value's text).
func enumValues(typ, key string) []any {
	var typed any
	if err := json.Unmarshal([]byte(key), &typed); err != nil {
		typed = nil
	}
	if _, isStr := typed.(string); isStr {
		typed = nil
	}
	switch typ {
	case "boolean", "number", "integer":
		if typed != nil {
			return []any{typed}
		}
	case "", "any":
		if typed != nil {
			return []any{key, typed}
		}
	}
	return []any{key}
}

// itemSchema describes an array item: a string when the rule wraps one,
// an object of the kept and ignored keys otherwise. A role never names
// nothing: its wrapped string, id and name are not "".
func itemSchema(it *mapping.ItemsRule, roles bool) *openapi3.Schema {
	obj := objectSchema(true)
	nonEmpty := func(key string) uint64 {
		if roles && (key == "" || key == "id" || key == "name") {
			return 1
		}
		return 0
	}
	for _, k := range it.Keep {
		obj.Properties[k] = openapi3.NewSchemaRef("", &openapi3.Schema{Type: &openapi3.Types{"string"}, MinLength: nonEmpty(k)})
	}
	for _, k := range it.Ignore {
		obj.Properties[k] = openapi3.NewSchemaRef("", &openapi3.Schema{ReadOnly: true, Description: "accepted and dropped"})
	}
	obj.Required = append(obj.Required, it.Required...)
	if it.Wrap == "" {
		return obj
	}
	return &openapi3.Schema{AnyOf: openapi3.SchemaRefs{
		openapi3.NewSchemaRef("", &openapi3.Schema{Type: &openapi3.Types{"string"}, MinLength: nonEmpty("")}),
		openapi3.NewSchemaRef("", obj)}}
}
