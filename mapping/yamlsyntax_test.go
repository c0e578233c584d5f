package mapping

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestYAMLSyntaxLine: a YAML syntax error names the line the problem is
// on, for each class yaml.v3 names another line for (a tab that breaks
// the indentation, a flow sequence or mapping or a quoted string never
// closed, a key or a list item out of place, a problem on the first line,
// which yaml.v3 gives no line), on the first and the last line, with LF,
// CRLF and CR line ends; the errors yaml.v3 names right are left as they
// are.
func TestYAMLSyntaxLine(t *testing.T) {
	for _, c := range []struct{ in, v3, want string }{
		// A tab that breaks the indentation: yaml.v3 names the line of the
		// value before it.
		{"listen: 127.0.0.1:20080\nupstream:\n  url: demo\n\tlog: x\n",
			"line 3: found a tab character", "line 4: found a tab character that violates indentation"},
		{"a:\n  b: 1\n\tc: 2", "line 2: found a tab", "line 3: found a tab character that violates indentation"},
		{"x: 1\r\ny:\r\n  z: 1\r\n\tw: 2\r\n", "line 3: found a tab", "line 4: found a tab character that violates indentation"},
		{"x: 1\ry:\r  z: 1\r\tw: 2\r", "line 3: found a tab", "line 4: found a tab character that violates indentation"},
		{"a:\n  b: 1\n\tc: 2\nd: 3\ne: 4\n", "line 2: found a tab", "line 3: found a tab character that violates indentation"},
		// A flow sequence or mapping never closed: where the input stops.
		{"listen: 127.0.0.1:20080\nupstream: [1,2\n", "line 1: did not find", "line 2: did not find expected ',' or ']'"},
		{"listen: 127.0.0.1:20080\nupstream: [1,2", "line 1: did not find", "line 2: did not find expected ',' or ']'"},
		{"upstream: [1,2\n", "line 1: did not find", "line 1: did not find expected ',' or ']'"},
		{"x: 1\r\ny: [1,2\r\n", "line 1: did not find", "line 2: did not find expected ',' or ']'"},
		{"x: 1\na: {x: 1,\n y: 2\n", "line 1: did not find", "line 3: did not find expected ',' or '}' (while parsing a flow mapping that starts on line 2)"},
		{"x: 1\r\na: {x: 1,\r\n y: 2\r\n\r\n", "line 1: did not find", "line 3: did not find expected ',' or '}' (while parsing a flow mapping that starts on line 2)"},
		{"a: [1,\n  2,\nb: 3\n", "line 3: did not find", "line 3: did not find expected ',' or ']' (while parsing a flow sequence that starts on line 1)"},
		// … or closed by the wrong bracket: that bracket's line.
		{"a: [1,\n 2 }\n", "line 1: did not find", "line 2: did not find expected ',' or ']'"},
		{"x: 1\ny: [a, b]]\n", "line 1: did not find expected key", "line 2: did not find expected key"},
		// A quoted string never closed.
		{"a: 'abc\n", "line 2: found unexpected end of stream", "line 1: found unexpected end of stream"},
		{"x: 1\na: \"abc\nd\ne\n", "line 2: found unexpected end", "line 4: found unexpected end of stream (while scanning a quoted scalar that starts on line 2)"},
		// A key or a list item out of place: yaml.v3 counts from 0 here.
		{"a: 1\n- b\n", "line 1: did not find expected key", "line 2: did not find expected key"},
		{"a:\n  b: 1\n c: 2\n", "line 2: did not find expected key", "line 3: did not find expected key"},
		{"a: 1\nb:\n  - x\n  - y\n c: 3", "line 4: did not find expected key", "line 5: did not find expected key"},
		{"a: 1\r\nb:\r\n  - x\r\n  - y\r\n c: 3\r\n", "line 4: did not find expected key", "line 5: did not find expected key"},
		{"a:\n  - 1\n  b: 2\n", "line 1: did not find expected '-'", "line 3: did not find expected '-' indicator"},
		{"x: 1\ny: |\n  a\n b\n", "line 3: did not find expected key", "line 4: did not find expected key"},
		// The first line, which yaml.v3 gives no line.
		{"\tlog: x\n", "yaml: found character that cannot start", "line 1: found character that cannot start any token"},
		{"a: b: c\nd: e\n", "yaml: mapping values are not allowed", "line 1: mapping values are not allowed in this context"},
		{"@y: 2\r\n", "yaml: found character", "line 1: found character that cannot start any token"},
		// Named right already: left as they are.
		{"a: 1\n b: 2\n", "line 2: mapping values", "yaml: line 2: mapping values are not allowed in this context"},
		{"x: 1\na: b: c\n", "line 2: mapping values", "yaml: line 2: mapping values are not allowed in this context"},
		{"x: 1\n@y: 2\n", "line 2: found character", "yaml: line 2: found character that cannot start any token"},
		{"x: 1\ny: `z`\n", "line 2: found character", "yaml: line 2: found character that cannot start any token"},
		{"a: 1\n\tb: 2\n", "line 2: found a tab", "yaml: line 2: found a tab character that violates indentation"},
		{"x: 1\ny: !<tag\n", "line 2: did not find the expected '>'", "yaml: line 2: did not find the expected '>'"},
		{"x: 1\nkey: \"a\\qb\"\n", "line 2: found unknown escape", "yaml: line 2: found unknown escape character"},
		// Not found by go-yaml v4 the same way: yaml.v3's, as it is.
		{"x: 1\n? a\n: b\n: c\n", "line 3: did not find expected key", "yaml: line 3: did not find expected key"},
		// No line at all, and no syntax error: as it is.
		{"a: *nope\n", "unknown anchor", "yaml: unknown anchor 'nope' referenced"},
	} {
		var n yaml.Node
		err := yaml.Unmarshal([]byte(c.in), &n)
		if err == nil || !strings.Contains(err.Error(), c.v3) {
			t.Errorf("%q: yaml.v3 says %v, the test expects %q", c.in, err, c.v3)
			continue
		}
		got := YAMLSyntaxLine([]byte(c.in), err).Error()
		if !strings.HasPrefix(c.want, "yaml: ") {
			c.want = "yaml: " + c.want
		}
		if got != c.want {
			t.Errorf("%q:\n got %q\nwant %q", c.in, got, c.want)
		}
	}
	if YAMLSyntaxLine(nil, nil) != nil {
		t.Error("nil is not nil")
	}
	// A type error, an unknown key, a duplicate key: yaml.v3 names their
	// lines; the error is returned itself.
	type doc struct {
		A int `yaml:"a"`
	}
	for _, in := range []string{"x: 1\na: lots\n", "a: 1\na: 2\n"} {
		var d doc
		err := yaml.Unmarshal([]byte(in), &d)
		if err == nil || YAMLSyntaxLine([]byte(in), err) != err {
			t.Errorf("%q: %v changed into %v", in, err, YAMLSyntaxLine([]byte(in), err))
		}
	}
	dec := yaml.NewDecoder(strings.NewReader("a: 1\nb: 2\n"))
	dec.KnownFields(true)
	var d doc
	err := dec.Decode(&d)
	var te *yaml.TypeError
	if !errors.As(err, &te) || YAMLSyntaxLine([]byte("a: 1\nb: 2\n"), err) != err || !strings.Contains(err.Error(), "line 2: field b not found") {
		t.Errorf("unknown key: %v", err)
	}
}

// TestRuleFileSyntaxLine: a rule file's syntax error names the rule file's
// own line (Parse, as userbridge validate and test report it).
func TestRuleFileSyntaxLine(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"dialect: acme\nroute:\n  method: PUT\n\tpath: /acme/:id\n", "acme.yaml: yaml: line 4: found a tab character that violates indentation"},
		{"dialect: acme\r\nroute: {method: PUT, path: /acme/:id\r\n", "acme.yaml: yaml: line 2: did not find expected ',' or '}'"},
		{"dialect: acme\nroute:\n  method: PUT\n path: /x\n", "acme.yaml: yaml: line 4: did not find expected key"},
	} {
		_, err := Parse("acme.yaml", []byte(c.in))
		if err == nil || !strings.HasSuffix(err.Error(), c.want) {
			t.Errorf("%q: %v; want …%s", c.in, err, c.want)
		}
	}
}

// FuzzYAMLSyntaxLine: whatever the input, YAMLSyntaxLine returns an error
// when given one, and a line it names is a line of the input (counting as
// YAML does: \n, \r\n, \r, NEL, LS and PS end a line), never past its end.
func FuzzYAMLSyntaxLine(f *testing.F) {
	for _, s := range []string{"a:\n  b: 1\n\tc: 2", "x: 1\ny: [1,2\n", "a: 'abc\n", "x: 1\r\na: {x: 1,\r\n y: 2\r\n\r\n",
		"- a\nb: 1\n", "a: b: c\n", "? a\n: b\n: c\n", "\xef\xbb\xbfa: [\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var n yaml.Node
		err := yaml.Unmarshal(data, &n)
		got := YAMLSyntaxLine(data, err)
		if (err == nil) != (got == nil) {
			t.Fatalf("error %v became %v", err, got)
		}
		if got == nil || got == err {
			return
		}
		text := strings.ReplaceAll(string(data), "\r\n", "\n")
		lines := 1 + strings.Count(text, "\n") + strings.Count(text, "\r") +
			strings.Count(text, "\u0085") + strings.Count(text, "\u2028") + strings.Count(text, "\u2029") // NEL, LS, PS
		var line int
		if _, e := fmt.Sscanf(got.Error(), "yaml: line %d:", &line); e != nil || line < 1 || line > lines {
			t.Fatalf("%q: %v names line %d of %d", data, got, line, lines)
		}
	})
}
