package mapping

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
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
	// Path is where in the file: the key path of the value that does not
	// fit ("request.fields[2].validate.maxItems"), or of the mapping that
	// holds the unknown key ("request.fields[2]"; "" at the top).
	Path string
	// Unknown says the problem is a key no field has: Key, which may be "".
	Unknown bool
	// Key is the unknown key.
	Key string
	// Known are the keys the mapping takes, for an unknown one.
	Known []string
	// Got is what the file holds ("`20x`", "a list", "a mapping"), Want
	// what fits there ("a whole number").
	Got, Want string
}

// Error implements error: "line 2: unknown key nope in request; did you
// mean nonEmpty?", "line 5: request.fields[0].validate.maxItems: `20x` is
// not a whole number".
func (e *YAMLError) Error() string { return "line " + strconv.Itoa(e.Line) + ": " + e.Problem() }

// Problem is Error without the line, for a caller that writes it its own
// way (file:line).
func (e *YAMLError) Problem() string {
	if e.Unknown {
		key := e.Key
		if key == "" {
			key = `""`
		}
		msg := "unknown key " + key
		if e.Path != "" {
			msg += " in " + e.Path
		}
		return msg + knownKeysHint(e.Key, e.Known)
	}
	if e.Path != "" {
		return e.Path + ": " + e.Got + " is not " + e.Want
	}
	return e.Got + " is not " + e.Want
}

// knownKeysHint says what an unknown key may have been meant as: the
// known key it is closest to, else every known key.
func knownKeysHint(key string, known []string) string {
	if len(known) == 0 {
		return ""
	}
	if m := closestKey(key, known); m != "" {
		return "; did you mean " + m + "?"
	}
	return "; expected one of " + strings.Join(known, ", ")
}

// closestKey is the known key a typo of key most likely is: the same but
// for case, one that begins with the other, or one a few edits away
// (at most a third of the longer); "" when none is.
func closestKey(key string, known []string) string {
	k := strings.ToLower(key)
	best, bestDist := "", 0
	for _, c := range known {
		lc := strings.ToLower(c)
		if lc == k {
			return c
		}
		d := editDistance(k, lc)
		if len(k) >= 3 && (strings.HasPrefix(lc, k) || strings.HasPrefix(k, lc)) {
			d = min(d, 1)
		}
		if d <= max(len(k), len(lc))/3 && (best == "" || d < bestDist) {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
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

// In is es as one error per problem, joined: each wraps sentinel (and the
// problem) and names file, "SENTINEL: FILE: PROBLEM", as a rule file's
// problems are reported.
func (es YAMLErrors) In(sentinel error, file string) error {
	errs := make([]error, len(es))
	for i, e := range es {
		errs[i] = fmt.Errorf("%w: %s: %w", sentinel, file, e)
	}
	return errors.Join(errs...)
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
	errs := CheckYAML(&root, reflect.TypeOf(v))
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

// YAMLWanter is a type that decodes itself from a scalar (a pointer to it
// is a yaml.Unmarshaler) and says what fits it: CheckYAML reports a value
// that does not decode into it as any other value of the wrong kind, with
// its key path ("upstream.timeout: `5 seconds` is not a duration such as
// 5s or 250ms"). The check is the type's own decoding.
type YAMLWanter interface {
	yaml.Unmarshaler
	// YAMLWant is what fits, in words: "a duration such as 5s or 250ms".
	YAMLWant() string
}

var yamlWanter = reflect.TypeFor[YAMLWanter]()

// CheckYAML is every problem DecodeYAML finds in the node tree n (a
// document) against the Go type t, in the order of the file, each with the
// key path it is at.
func CheckYAML(n *yaml.Node, t reflect.Type) YAMLErrors {
	var errs YAMLErrors
	checkYAML(n, t, "", &errs)
	return errs
}

// checkYAML appends to errs what of node n, at key path path, does not fit
// a value of type t.
func checkYAML(n *yaml.Node, t reflect.Type, path string, errs *YAMLErrors) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == 0 { // an empty document: the zero value
		return
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) > 0 {
			checkYAML(n.Content[0], t, path, errs)
		}
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if reflect.PointerTo(t).Implements(yamlWanter) { // no value made for every other node
		w := reflect.New(t).Interface().(YAMLWanter)
		if n.Kind != yaml.ScalarNode || n.Decode(w) != nil {
			e := misfit(n, t, path)
			e.Want = w.YAMLWant()
			*errs = append(*errs, e)
		}
		return
	}
	if t == yamlNodeType || t.Kind() == reflect.Interface || reflect.PointerTo(t).Implements(yamlUnmarshaler) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			*errs = append(*errs, misfit(n, t, path))
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if k.Tag == "!!merge" { // <<: *defaults merges a mapping's keys
				checkYAML(val, t, path, errs)
				continue
			}
			ft, ok := fields[k.Value]
			if !ok {
				*errs = append(*errs, &YAMLError{Line: k.Line, Path: path, Unknown: true, Key: k.Value,
					Known: slices.Sorted(maps.Keys(fields))})
				continue
			}
			checkYAML(val, ft, joinKey(path, k.Value), errs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			*errs = append(*errs, misfit(n, t, path))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			checkYAML(n.Content[i+1], t.Elem(), joinKey(path, n.Content[i].Value), errs)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			*errs = append(*errs, misfit(n, t, path))
			return
		}
		for i, c := range n.Content {
			checkYAML(c, t.Elem(), path+"["+strconv.Itoa(i)+"]", errs)
		}
	default:
		// A scalar is read by the YAML library itself, so that what fits
		// is exactly what it decodes.
		if n.Kind != yaml.ScalarNode || n.Decode(reflect.New(t).Interface()) != nil {
			*errs = append(*errs, misfit(n, t, path))
		}
	}
}

// joinKey is the key path of key in the mapping at path.
func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
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

// misfit is the problem of node n, at key path path, where a value of
// type t goes.
func misfit(n *yaml.Node, t reflect.Type, path string) *YAMLError {
	e := &YAMLError{Line: n.Line, Path: path, Got: "`" + n.Value + "`", Want: "a " + t.Kind().String()}
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
