package mapping

import (
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// YAMLError is a key or value of a YAML file that does not fit what the
// file may hold, said in its author's terms: a key no field has, or a value
// of the wrong kind. DecodeYAML finds them by walking the node tree against
// the Go type, so that no message of the YAML library is rewritten.
type YAMLError struct {
	// Line is the line of the key or value.
	Line int
	// Unknown says the problem is a key no field has: Key, which may be "".
	Unknown bool
	// Key is the unknown key.
	Key string
	// Got is what the file holds ("`20x`", "a list", "a mapping"), Want
	// what fits there ("a whole number").
	Got, Want string
}

// Error implements error: "line 2: unknown key nope", "line 5: `20x` is
// not a whole number".
func (e *YAMLError) Error() string {
	if e.Unknown {
		key := e.Key
		if key == "" {
			key = `""`
		}
		return "line " + strconv.Itoa(e.Line) + ": unknown key " + key
	}
	return "line " + strconv.Itoa(e.Line) + ": " + e.Got + " is not " + e.Want
}

// YAMLErrors are every problem of one file, in the order of the file.
type YAMLErrors []*YAMLError

// Error implements error: one problem a line.
func (es YAMLErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// DecodeYAML decodes data, one YAML document, strictly into v (a pointer
// to a struct): every key must be a field's (as its yaml tag names it) and
// every value must fit its field. It returns the node tree, for the lines
// of problems found later, and YAMLErrors listing every problem of the
// kind; a document that is no YAML at all is the YAML library's error. An
// empty document decodes to the zero value (root.Kind is then 0).
// A field of type yaml.Node, of an interface type or whose type decodes
// itself (yaml.Unmarshaler) takes whatever is there.
func DecodeYAML(data []byte, v any) (*yaml.Node, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, YAMLSyntaxLine(data, err)
	}
	var errs YAMLErrors
	checkYAML(&root, reflect.TypeOf(v), &errs)
	if len(errs) > 0 {
		return &root, errs
	}
	if err := root.Decode(v); err != nil {
		return &root, err
	}
	return &root, nil
}

var (
	yamlNodeType    = reflect.TypeOf(yaml.Node{})
	yamlUnmarshaler = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
)

// checkYAML appends to errs what of node n does not fit a value of type t.
func checkYAML(n *yaml.Node, t reflect.Type, errs *YAMLErrors) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == 0 { // an empty document: the zero value
		return
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) > 0 {
			checkYAML(n.Content[0], t, errs)
		}
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == yamlNodeType || t.Kind() == reflect.Interface || reflect.PointerTo(t).Implements(yamlUnmarshaler) ||
		n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			*errs = append(*errs, misfit(n, t))
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if k.Tag == "!!merge" { // <<: *defaults merges a mapping's keys
				checkYAML(val, t, errs)
				continue
			}
			ft, ok := fields[k.Value]
			if !ok {
				*errs = append(*errs, &YAMLError{Line: k.Line, Unknown: true, Key: k.Value})
				continue
			}
			checkYAML(val, ft, errs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			*errs = append(*errs, misfit(n, t))
			return
		}
		for i := 1; i < len(n.Content); i += 2 {
			checkYAML(n.Content[i], t.Elem(), errs)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			*errs = append(*errs, misfit(n, t))
			return
		}
		for _, c := range n.Content {
			checkYAML(c, t.Elem(), errs)
		}
	default:
		// A scalar is read by the YAML library itself, so that what fits
		// is exactly what it decodes.
		if n.Kind != yaml.ScalarNode || n.Decode(reflect.New(t).Interface()) != nil {
			*errs = append(*errs, misfit(n, t))
		}
	}
}

// yamlFields maps the keys a struct type takes to their fields' types, as
// the YAML library reads yaml tags (inlined structs' fields included).
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(","+opts+",", ",inline,") && f.Type.Kind() == reflect.Struct {
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

// misfit is the problem of node n where a value of type t goes.
func misfit(n *yaml.Node, t reflect.Type) *YAMLError {
	e := &YAMLError{Line: n.Line, Got: "`" + n.Value + "`", Want: "a " + t.Kind().String()}
	switch n.Kind {
	case yaml.SequenceNode:
		e.Got = "a list"
	case yaml.MappingNode:
		e.Got = "a mapping"
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		e.Want = "a list"
	case reflect.Map, reflect.Struct:
		e.Want = "a mapping (key: value)"
	case reflect.Bool:
		e.Want = "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		e.Want = "a whole number"
	case reflect.Float32, reflect.Float64:
		e.Want = "a number"
	case reflect.String:
		e.Want = "a string"
	}
	return e
}
