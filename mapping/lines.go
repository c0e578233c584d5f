package mapping

import (
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// LineOf returns the line, in the file root was decoded from, of the node
// where names: dotted mapping keys and [i] sequence indexes, as problems are
// reported ("request.fields[2].target"). When a step is not in the file (a
// key left out, a default), it is the line of the deepest node found; 0 when
// not even the first step is.
func LineOf(root *yaml.Node, where string) int {
	n := root
	if n == nil {
		return 0
	}
	for n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, step := range strings.Split(where, ".") {
		key, rest, _ := strings.Cut(step, "[")
		if key != "" {
			if n = memberNode(n, key); n == nil {
				return line
			}
			line = n.Line
		}
		for rest != "" {
			num, after, ok := strings.Cut(rest, "]")
			i, err := strconv.Atoi(num)
			if !ok || err != nil || n.Kind != yaml.SequenceNode || i < 0 || i >= len(n.Content) {
				return line
			}
			n, line = n.Content[i], n.Content[i].Line
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return line
}

// memberNode is the value of a mapping node's key, through aliases; nil if n is
// not a mapping or has no such key.
func memberNode(n *yaml.Node, key string) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// Locate is the file name with the line of where (dotted keys and [i]
// indexes, looked up in root), "rules.yaml:14", and where itself; the name
// alone when no line is known.
func Locate(name string, root *yaml.Node, where string) (string, string) {
	if line := LineOf(root, where); line > 0 {
		name += ":" + strconv.Itoa(line)
	}
	return name, where
}

// yamlTypeErr matches a yaml.v3 decoding message about a value of the
// wrong type: "cannot unmarshal !!str `200x` into int".
var yamlTypeErr = regexp.MustCompile("cannot unmarshal !!(\\w+)(?: `([^`]*)`)? into (\\S+)")

// yamlUnknownKey matches "field methd not found in type mapping.Route".
var yamlUnknownKey = regexp.MustCompile(`field (\S+) not found in type \S+`)

// YAMLMessage rewrites a yaml.v3 decoding error in a rule or config file's
// terms: the Go types it names (mapping.Request, []string) mean nothing to
// whoever wrote the file. "line 10: field nope not found in type
// mapping.Request" becomes "line 10: unknown key nope"; "cannot unmarshal
// !!str `200x` into int", "`200x` is not a whole number".
//
// Deprecated: it rewrites the YAML library's words, which are no protocol.
// DecodeYAML reports the same problems as typed YAMLErrors; config still
// calls this until it decodes with it, and the rules upstream profile for
// a file that is not YAML at all.
func YAMLMessage(err error) string { return YAMLText(err.Error()) }

// YAMLText is YAMLMessage of a message's text (a yaml.TypeError holds one
// a problem).
//
// Deprecated: as YAMLMessage.
func YAMLText(msg string) string {
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = yamlUnknownKey.ReplaceAllString(msg, "unknown key $1")
	return yamlTypeErr.ReplaceAllStringFunc(msg, func(m string) string {
		sub := yamlTypeErr.FindStringSubmatch(m)
		what := "`" + sub[2] + "`"
		switch sub[1] {
		case "seq":
			what = "a list"
		case "map":
			what = "a mapping"
		case "null":
			what = "null"
		}
		return what + " is not " + goTypeInWords(sub[3])
	})
}

// goTypeInWords names a Go type the way a rule or config file's author
// thinks of a value.
func goTypeInWords(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["), strings.Contains(t, "."), strings.HasPrefix(t, "*"):
		return "a mapping (key: value)"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "a whole number"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "string":
		return "a string"
	}
	return "a " + t
}
