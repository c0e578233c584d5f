package mapping

import (
	"errors"
	"regexp"
	"strconv"

	yaml4 "go.yaml.in/yaml/v4"
	"gopkg.in/yaml.v3"
)

// yamlSyntaxErr splits a yaml.v3 scanner or parser message: "yaml: line
// 3: found a tab character that violates indentation", the line left out
// when yaml.v3 has none.
var yamlSyntaxErr = regexp.MustCompile(`^yaml: (?:line ([0-9]+): )?(.+)$`)

// YAMLSyntaxLine returns err, a yaml.v3 error decoding data, with the line
// of the problem where yaml.v3 names another one. yaml.v3 reports the line
// of the construct the problem was found in (its context mark) rather than
// the problem's own, and that 0-based for a parser error: a tab that
// breaks the indentation is said to be on the line of the value before
// it, a key out of place or a flow sequence never closed one line before
// its own, a problem on the first line on none.
//
// yaml.v3 keeps the problem's position to itself. go-yaml v4, its
// successor, scans and parses YAML with code carried over from yaml.v3's
// (the same port of libyaml) and returns both positions: data is parsed
// with it again, and its problem's line is taken
// only when v4 finds the same problem (the same words, from its scanner or
// parser) in the same construct, i.e. when yaml.v3's rule applied to v4's
// positions gives exactly the line yaml.v3 reported. A problem found at
// the end of the input (a flow collection or a quoted string never
// closed) is put on the last line that holds anything, where the input
// stopped. Any other error is returned as it is: a type error, an unknown
// or duplicate key (yaml.v3 names their lines right), an error v4 does not
// find the same way.
func YAMLSyntaxLine(data []byte, err error) error {
	if err == nil {
		return nil
	}
	var te *yaml.TypeError
	m := yamlSyntaxErr.FindStringSubmatch(err.Error())
	if m == nil || errors.As(err, &te) {
		return err
	}
	said := 0
	if m[1] != "" {
		said, _ = strconv.Atoi(m[1])
	}
	var n yaml4.Node
	var le *yaml4.LoadError
	if !errors.As(yaml4.Unmarshal(data, &n), &le) || le.Message != m[2] || le.Mark.Line <= 0 {
		return err
	}
	// yaml.v3's parser.fail, on v4's marks (1-based; v3's are 0-based and
	// only a scanner error's are made 1-based): the context's line unless
	// it is the first, else the problem's unless that is the first, else
	// none.
	ctx, at := 0, le.Mark.Line
	if le.ContextMsg != "" {
		ctx = le.ContextMark.Line
	}
	var v3 int
	switch le.Stage {
	case yaml4.ScannerStage:
		switch {
		case ctx >= 2:
			v3 = ctx
		case at >= 2:
			v3 = at
		}
	case yaml4.ParserStage:
		switch {
		case ctx >= 2:
			v3 = ctx - 1
		case at >= 2:
			v3 = at - 1
		}
	default:
		return err
	}
	if v3 != said {
		return err // not the problem yaml.v3 found, or not where it found it
	}
	problem := m[2]
	if last := lastLine(data); at > last {
		// The end of the input: on its last line, with where the
		// construct left open starts when that is another line.
		at = last
		if ctx > 0 && ctx != at {
			problem += " (" + le.ContextMsg + " that starts on line " + strconv.Itoa(ctx) + ")"
		}
	}
	if at <= 0 || at == said && problem == m[2] {
		return err
	}
	return errors.New("yaml: line " + strconv.Itoa(at) + ": " + problem)
}

// lastLine is the last line of data that holds a character other than a
// space or a tab, counting lines as YAML does (a line ends at \n, \r\n or
// \r, or at NEL, LS or PS); 0 when there is none.
func lastLine(data []byte) int {
	line, last := 1, 0
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case c == '\n':
			line++
		case c == '\r':
			if i+1 < len(data) && data[i+1] == '\n' {
				i++
			}
			line++
		case c == 0xC2 && i+1 < len(data) && data[i+1] == 0x85: // NEL
			i++
			line++
		case c == 0xE2 && i+2 < len(data) && data[i+1] == 0x80 && (data[i+2] == 0xA8 || data[i+2] == 0xA9): // LS, PS
			i += 2
			line++
		case c != ' ' && c != '\t':
			last = line
		}
	}
	return last
}
