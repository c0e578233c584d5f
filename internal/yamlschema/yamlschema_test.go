package yamlschema

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type removed struct{}

func (*removed) UnmarshalYAML(*yaml.Node) error { return nil }

type selfDecoding string

func (*selfDecoding) UnmarshalYAML(*yaml.Node) error { return nil }

type inner struct {
	Gone removed `yaml:"gone"`
	Kept string  `yaml:"kept"`
}

// Sample is a type to describe.
type sample struct {
	// Name is documented.
	Name   string            `yaml:"name"`
	Count  uint32            `yaml:"count"`
	Tags   map[string]string `yaml:"tags"`
	List   []int             `yaml:"list"`
	Body   yaml.Node         `yaml:"body"`
	Skip   string            `yaml:"-"`
	inner  `yaml:",inline"`
	hidden int
}

func TestGenerate(t *testing.T) {
	g := Generator{Docs: map[string]string{"github.com/userbridge/userbridge/internal/yamlschema.sample.Name": "Name is documented."}}
	out, err := g.Generate(reflect.TypeOf(sample{}), "", "sample")
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatal(err)
	}
	props := s["properties"].(map[string]any)
	var names []string
	for k := range props {
		names = append(names, k)
	}
	for _, want := range []string{"name", "count", "tags", "list", "body", "kept"} {
		if props[want] == nil {
			t.Errorf("no %s in %v", want, names)
		}
	}
	for _, never := range []string{"Skip", "skip", "gone", "hidden", "inner"} {
		if props[never] != nil {
			t.Errorf("%s is in the schema", never)
		}
	}
	if s["additionalProperties"] != false {
		t.Error("a struct allows other keys")
	}
	if !strings.Contains(string(out), `"description": "Name is documented."`) {
		t.Errorf("no description: %s", out)
	}
	if props["count"].(map[string]any)["minimum"] != 0.0 {
		t.Error("an unsigned count has no minimum")
	}
	// A type that decodes itself needs its schema given.
	type withSelf struct {
		V selfDecoding `yaml:"v"`
	}
	if _, err := g.Generate(reflect.TypeOf(withSelf{}), "", ""); err == nil {
		t.Error("a self-decoding type got a schema guessed")
	}
	g.Types = map[reflect.Type]*Schema{reflect.TypeOf(selfDecoding("")): {Type: "string"}}
	if _, err := g.Generate(reflect.TypeOf(withSelf{}), "", ""); err != nil {
		t.Error(err)
	}
}
