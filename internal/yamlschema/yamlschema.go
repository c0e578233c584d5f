// Package yamlschema generates the JSON Schema (draft 2020-12) of a YAML
// file from the Go type it is decoded into: each struct's yaml keys, their
// types, and additionalProperties false everywhere, as the strict decoders
// of userbridge's config and rule files refuse any other key. Editors use
// it to complete and check keys (yaml-language-server).
package yamlschema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Draft is the JSON Schema dialect of the schemas generated.
const Draft = "https://json-schema.org/draft/2020-12/schema"

// Schema is one JSON Schema, written in a fixed order.
type Schema struct {
	Draft                string   `json:"$schema,omitempty"`
	ID                   string   `json:"$id,omitempty"`
	Title                string   `json:"title,omitempty"`
	Description          string   `json:"description,omitempty"`
	Type                 any      `json:"type,omitempty"`
	Pattern              string   `json:"pattern,omitempty"`
	Minimum              *float64 `json:"minimum,omitempty"`
	Maximum              *float64 `json:"maximum,omitempty"`
	Properties           *Props   `json:"properties,omitempty"`
	AdditionalProperties any      `json:"additionalProperties,omitempty"`
	Items                *Schema  `json:"items,omitempty"`
}

// Props are an object's properties in the order of the Go struct's fields.
type Props struct {
	Names   []string
	Schemas []*Schema
}

// MarshalJSON writes the properties in their order.
func (p *Props) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, n := range p.Names {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(n)
		v, err := json.Marshal(p.Schemas[i])
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Generator builds schemas; Types gives the schema of a Go type whose
// YAML form its fields do not say (one with an UnmarshalYAML of its own),
// Docs the descriptions of types and fields, as Docs reads them.
type Generator struct {
	Types map[reflect.Type]*Schema
	Docs  map[string]string
}

var (
	nodeType        = reflect.TypeOf(yaml.Node{})
	unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
)

// Generate returns the indented schema of t with its $id and title.
func (g *Generator) Generate(t reflect.Type, id, title string) ([]byte, error) {
	s, err := g.schema(t)
	if err != nil {
		return nil, err
	}
	s.Draft, s.ID, s.Title = Draft, id, title
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("yamlschema: %w", err)
	}
	return append(out, '\n'), nil
}

func (g *Generator) schema(t reflect.Type) (*Schema, error) {
	if s, ok := g.Types[t]; ok {
		c := *s
		return &c, nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nodeType {
		return &Schema{Description: "any YAML value"}, nil
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil, fmt.Errorf("yamlschema: %s decodes itself: give its schema in Generator.Types", t)
	}
	switch t.Kind() {
	case reflect.String:
		return &Schema{Type: "string"}, nil
	case reflect.Bool:
		return &Schema{Type: "boolean"}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return &Schema{Type: "integer"}, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		zero := 0.0
		return &Schema{Type: "integer", Minimum: &zero}, nil
	case reflect.Float32, reflect.Float64:
		return &Schema{Type: "number"}, nil
	case reflect.Interface:
		return &Schema{}, nil
	case reflect.Slice, reflect.Array:
		items, err := g.schema(t.Elem())
		if err != nil {
			return nil, err
		}
		return &Schema{Type: "array", Items: items}, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("yamlschema: %s: only string keys", t)
		}
		vals, err := g.schema(t.Elem())
		if err != nil {
			return nil, err
		}
		return &Schema{Type: "object", AdditionalProperties: vals}, nil
	case reflect.Struct:
		s := &Schema{Type: "object", Properties: &Props{}, AdditionalProperties: false,
			Description: g.Docs[t.PkgPath()+"."+t.Name()]}
		return s, g.fields(s.Properties, t)
	}
	return nil, fmt.Errorf("yamlschema: %s: no YAML form", t)
}

// fields adds the yaml keys of struct t, inline structs' included. A key
// whose type is an empty struct decoding itself is one the decoder refuses
// (a removed key): it is left out, so the schema refuses it too.
func (g *Generator) fields(p *Props, t reflect.Type) error {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(","+opts+",", ",inline,") {
			if err := g.fields(p, f.Type); err != nil {
				return err
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type.NumField() == 0 && reflect.PointerTo(f.Type).Implements(unmarshalerType) {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		s, err := g.schema(f.Type)
		if err != nil {
			return fmt.Errorf("%s.%s: %w", t, f.Name, err)
		}
		if d := g.Docs[t.PkgPath()+"."+t.Name()+"."+f.Name]; d != "" {
			s.Description = d
		}
		p.Names = append(p.Names, name)
		p.Schemas = append(p.Schemas, s)
	}
	return nil
}
