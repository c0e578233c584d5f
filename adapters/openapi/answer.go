package openapi

import (
	"encoding/json"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/userbridge/userbridge/mapping"
)

// shapeSchema describes what a template renders. A value whose type the
// rules do not say (one read from the upstream's user or the request body)
// is left untyped rather than guessed.
func shapeSchema(s *mapping.Shape) *openapi3.Schema {
	switch s.Kind {
	case mapping.ShapeLiteral:
		var v any
		if json.Unmarshal(s.Literal, &v) != nil || v == nil {
			return &openapi3.Schema{Type: &openapi3.Types{"null"}}
		}
		return &openapi3.Schema{Const: v}
	case mapping.ShapeString:
		return &openapi3.Schema{Type: &openapi3.Types{"string"}}
	case mapping.ShapeValue:
		out := &openapi3.Schema{}
		if s.Type != "" {
			t := openapi3.Types{s.Type}
			if s.Nullable {
				t = append(t, "null")
			}
			out.Type = &t
		}
		for _, e := range s.Enum {
			out.Enum = append(out.Enum, e)
		}
		if len(out.Enum) > 0 && s.Nullable {
			out.Enum = append(out.Enum, nil)
		}
		return out
	case mapping.ShapeObject:
		out := &openapi3.Schema{Type: &openapi3.Types{"object"}, Properties: openapi3.Schemas{}}
		var templated openapi3.SchemaRefs
		for _, m := range s.Members {
			v := openapi3.NewSchemaRef("", shapeSchema(m.Value))
			if m.Templated {
				templated = append(templated, v)
				continue
			}
			out.Properties[m.Name] = v
			if !m.Value.Optional {
				out.Required = append(out.Required, m.Name)
			}
		}
		switch len(templated) {
		case 0:
			no := false
			out.AdditionalProperties = openapi3.AdditionalProperties{Has: &no}
		case 1:
			out.AdditionalProperties = openapi3.AdditionalProperties{Schema: templated[0]}
		default:
			out.AdditionalProperties = openapi3.AdditionalProperties{Schema: openapi3.NewSchemaRef("", &openapi3.Schema{AnyOf: templated})}
		}
		return out
	case mapping.ShapeArray:
		out := &openapi3.Schema{Type: &openapi3.Types{"array"}, MaxItems: openapi3.Uint64Ptr(uint64(len(s.Items)))}
		var items openapi3.SchemaRefs
		for _, it := range s.Items {
			items = appendDistinct(items, shapeSchema(it))
		}
		switch len(items) {
		case 0:
		case 1:
			out.Items = items[0]
		default:
			out.Items = openapi3.NewSchemaRef("", &openapi3.Schema{AnyOf: items})
		}
		return out
	}
	return &openapi3.Schema{}
}

// appendDistinct adds s to refs unless an equal schema is there already.
func appendDistinct(refs openapi3.SchemaRefs, s *openapi3.Schema) openapi3.SchemaRefs {
	b, _ := json.Marshal(s)
	for _, r := range refs {
		if rb, _ := json.Marshal(r.Value); string(rb) == string(b) {
			return refs
		}
	}
	return append(refs, openapi3.NewSchemaRef("", s))
}

// oneSchema is the schema of refs: the only one, or any of them.
func oneSchema(refs openapi3.SchemaRefs) *openapi3.SchemaRef {
	if len(refs) == 1 {
		return refs[0]
	}
	return openapi3.NewSchemaRef("", &openapi3.Schema{AnyOf: refs})
}
