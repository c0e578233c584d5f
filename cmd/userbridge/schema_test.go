package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/yamlschema"
	"github.com/userbridge/userbridge/mapping"
	"gopkg.in/yaml.v3"
)

const root = "../.."

// compiled compiles the schema `userbridge schema NAME` prints.
func compiled(t *testing.T, name string) *jsonschema.Schema {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run([]string{"schema", name}, nil, &out, &errb); code != 0 {
		t.Fatalf("schema %s: exit %d: %s", name, code, errb.String())
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(out.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(name+".schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(name + ".schema.json")
	if err != nil {
		t.Fatalf("schema %s does not compile: %v", name, err)
	}
	return s
}

// jsonValue is a YAML document as JSON Schema validators see it: a key is
// its text (a rule file's `null:` key is "null", as mapping.Parse reads it).
func jsonValue(t *testing.T, n *yaml.Node) any {
	t.Helper()
	switch n.Kind {
	case yaml.DocumentNode:
		return jsonValue(t, n.Content[0])
	case yaml.AliasNode:
		return jsonValue(t, n.Alias)
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = jsonValue(t, n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		a := []any{}
		for _, c := range n.Content {
			a = append(a, jsonValue(t, c))
		}
		return a
	}
	switch n.Tag {
	case "!!null":
		return nil
	case "!!bool":
		return n.Value == "true"
	case "!!int", "!!float":
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			t.Fatalf("line %d: %v", n.Line, err)
		}
		return f
	}
	return n.Value
}

func parse(t *testing.T, data []byte) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		t.Fatal(err)
	}
	return &n
}

// shipped classifies every shipped YAML file: rule files, configs (a
// Kubernetes ConfigMap's config.yaml included) and the README's config.
func shipped(t *testing.T) (rules, configs map[string][]byte) {
	rules, configs = map[string][]byte{}, map[string][]byte{}
	files, _ := filepath.Glob(filepath.Join(root, "adapters", "*", "rules.yaml"))
	files = append(files, filepath.Join(root, "config", "default.yaml"))
	for _, dir := range []string{"examples", "bench"} {
		filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
				files = append(files, p)
			}
			return nil
		})
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range strings.Split(string(data), "\n---\n") {
			name := fmt.Sprintf("%s#%d", f, i)
			var top map[string]any
			if yaml.Unmarshal([]byte(doc), &top) != nil || top == nil {
				continue
			}
			switch {
			case top["update"] != nil && top["user"] != nil:
				t.Logf("%s: an upstream rule file (docs/upstreams.md), which neither schema describes", name)
			case top["dialect"] != nil && (top["route"] != nil || top["request"] != nil):
				rules[name] = []byte(doc)
			case top["kind"] == "ConfigMap":
				if data, ok := top["data"].(map[string]any); ok && data["config.yaml"] != nil {
					configs[name+" data.config.yaml"] = []byte(data["config.yaml"].(string))
				}
			case top["dialects"] != nil || top["upstream"] != nil || top["listen"] != nil:
				configs[name] = []byte(doc)
			default:
				t.Logf("%s: neither a rule file nor a config (skipped)", name)
			}
		}
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## Configuration\n.*?```yaml\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README: no config example under ## Configuration")
	}
	configs["README.md ## Configuration"] = m[1]
	return rules, configs
}

// TestSchemasAcceptShipped: every shipped rule file and config validates
// against its schema (and is one its decoder accepts).
func TestSchemasAcceptShipped(t *testing.T) {
	rulesSchema, configSchema := compiled(t, "rules"), compiled(t, "config")
	rules, configs := shipped(t)
	if len(rules) < 6 || len(configs) < 4 {
		t.Fatalf("found %d rule files and %d configs", len(rules), len(configs))
	}
	t.Logf("rule files: %v; configs: %v", slices.Sorted(maps.Keys(rules)), slices.Sorted(maps.Keys(configs)))
	for name, data := range rules {
		if _, err := mapping.Parse(name, data); err != nil {
			t.Errorf("%s: the decoder refuses it: %v", name, err)
		}
		if err := rulesSchema.Validate(jsonValue(t, parse(t, data))); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, data := range configs {
		if err := configSchema.Validate(jsonValue(t, parse(t, data))); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestSchemasRefuseMisspeltKeys: a misspelt key, at the top or deep
// inside, and a removed key are refused by the schema as by the decoder.
func TestSchemasRefuseMisspeltKeys(t *testing.T) {
	rulesSchema, configSchema := compiled(t, "rules"), compiled(t, "config")
	finix, err := os.ReadFile(filepath.Join(root, "adapters", "finix", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		strings.Replace(string(finix), "description:", "descripton:", 1),
		strings.Replace(string(finix), "      type: boolean", "      tpye: boolean", 1),
		strings.Replace(string(finix), "        maxPairs: 50", "        maxPair: 50", 1),
	} {
		if bad == string(finix) {
			t.Fatal("the misspelling was not made")
		}
		if _, err := mapping.Parse("bad.yaml", []byte(bad)); err == nil {
			t.Errorf("the decoder accepts it")
		}
		if err := rulesSchema.Validate(jsonValue(t, parse(t, []byte(bad)))); err == nil {
			t.Errorf("the schema accepts a misspelt key")
		}
	}
	for _, bad := range []string{
		"upstream:\n  timout: 5s\n",
		"dialects:\n  finix:\n    prefx: /finix\n",
		"dialects:\n  finix:\n    auth: {mode: verify, basic: {fiel: x}}\n",
		"server:\n  transport: {}\n",
		"upstream:\n  timeout: 5\n",
	} {
		f := filepath.Join(t.TempDir(), "c.yaml")
		os.WriteFile(f, []byte(bad), 0o600)
		if _, _, err := config.Load(f); err == nil {
			t.Errorf("%q: the decoder accepts it", bad)
		}
		if err := configSchema.Validate(jsonValue(t, parse(t, []byte(bad)))); err == nil {
			t.Errorf("%q: the schema accepts it", bad)
		}
	}
}

// TestSchemaPublished: docs/schema/ holds what `userbridge schema` prints.
func TestSchemaPublished(t *testing.T) {
	for _, name := range []string{"rules", "config"} {
		var out, errb bytes.Buffer
		if code := run([]string{"schema", name}, nil, &out, &errb); code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		want, err := os.ReadFile(filepath.Join(root, "docs", "schema", name+".schema.json"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), want) {
			t.Errorf("docs/schema/%s.schema.json is not what `userbridge schema %s` prints", name, name)
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"schema", "rulez"}, nil, &out, &errb); code == 0 {
		t.Error("schema rulez: exit 0")
	}
}

var updateDocs = flag.Bool("update-schema-docs", false, "rewrite schema_docs.go from the doc comments of config and mapping")

// TestSchemaDocsCurrent: schema_docs.go holds the doc comments of the
// types the schemas are generated from, as they are now (run
// `go test ./cmd/userbridge -run SchemaDocs -update-schema-docs` after
// changing one).
func TestSchemaDocsCurrent(t *testing.T) {
	docs := map[string]string{}
	for _, pkg := range []string{"config", "mapping"} {
		d, err := yamlschema.Docs(filepath.Join(root, pkg), "github.com/userbridge/userbridge/"+pkg)
		if err != nil {
			t.Fatal(err)
		}
		maps.Copy(docs, d)
	}
	keys := slices.Sorted(maps.Keys(docs))
	var b bytes.Buffer
	b.WriteString("// Code generated by TestSchemaDocsCurrent (go test ./cmd/userbridge -run SchemaDocs -update-schema-docs); DO NOT EDIT.\n\n")
	b.WriteString("package main\n\n// schemaDocs are the doc comments of the config's and the rule file's Go\n// types, the descriptions of the JSON Schemas' keys.\nvar schemaDocs = map[string]string{\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "\t%q: %q,\n", k, docs[k])
	}
	b.WriteString("}\n")
	src, err := format.Source(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if *updateDocs {
		if err := os.WriteFile("schema_docs.go", src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, _ := os.ReadFile("schema_docs.go")
	if !bytes.Equal(have, src) {
		t.Error("schema_docs.go is not the doc comments of config and mapping as they are: run go test ./cmd/userbridge -run SchemaDocs -update-schema-docs, then userbridge schema rules|config > docs/schema/…")
	}
	if len(docs) < 50 {
		t.Errorf("only %d doc comments found", len(docs))
	}
}
