package conformance

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/userbridge/userbridge/mapping"
	"gopkg.in/yaml.v3"
)

// ErrCases is wrapped by every problem of a case file or of the paths
// given: what makes the cases unreadable rather than failing.
var ErrCases = errors.New("conformance: invalid cases")

// caseFile is a case file written as a document: the dialect its cases
// are sent to, and the cases.
type caseFile struct {
	// Dialect is the dialect of every case that names none.
	Dialect string `yaml:"dialect"`
	// Cases are the cases.
	Cases []Case `yaml:"cases"`
}

// LoadCases reads every *.yaml file of dir (not below it), each a list of
// cases or a case document.
func LoadCases(dir string) ([]Case, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var all []Case
	for _, f := range files {
		cs, err := LoadFile(f)
		if err != nil {
			return nil, err
		}
		all = append(all, cs...)
	}
	return all, nil
}

// Files lists the case files paths name: a file as given, a directory's
// *.yaml files below it at any depth, in lexical order.
func Files(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCases, err)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(d.Name(), ".yaml") {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCases, err)
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%w: %s: no *.yaml case files", ErrCases, p)
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

// LoadFile reads one case file: a YAML list of cases, or a document
// {dialect: NAME, cases: [...]}. Keys are decoded strictly. Each case's
// Dialect is resolved: its own, else the document's, else, for a list in a
// folder named testdata, the name of the folder above it
// (adapters/<dialect>/testdata); a case left without one is an error.
func LoadFile(path string) ([]Case, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCases, err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCases, path, mapping.YAMLSyntaxLine(data, err))
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("%w: %s: the file is empty", ErrCases, path)
	}
	doc := root.Content[0]
	var cf caseFile
	var items []*yaml.Node
	switch {
	case doc.Kind == yaml.SequenceNode:
		_, err = mapping.DecodeYAML(data, &cf.Cases)
		items = doc.Content
		cf.Dialect = folderDialect(path)
	case doc.Kind == yaml.MappingNode && member(doc, "cases") != nil:
		_, err = mapping.DecodeYAML(data, &cf)
		items = member(doc, "cases").Content
	default:
		return nil, fmt.Errorf("%w: %s: not a case file: a list of cases or {dialect: NAME, cases: [...]}", ErrCases, path)
	}
	var list mapping.YAMLErrors
	switch {
	case errors.As(err, &list):
		errs := make([]error, len(list))
		for i, e := range list {
			errs[i] = fmt.Errorf("%w: %s:%d: %s", ErrCases, path, e.Line, e.Problem())
		}
		return nil, errors.Join(errs...)
	case err != nil:
		return nil, fmt.Errorf("%w: %s: %w", ErrCases, path, err)
	}
	var errs []error
	for i := range cf.Cases {
		c := &cf.Cases[i]
		c.File, c.Source = filepath.Base(path), path
		if i < len(items) {
			c.Line = items[i].Line
		}
		if c.Dialect == "" {
			c.Dialect = cf.Dialect
		}
		if c.Dialect == "" {
			errs = append(errs, fmt.Errorf("%w: %s:%d: %s: no dialect: give the case a dialect key, write the file as {dialect: NAME, cases: [...]}, or keep it in <dialect>/testdata",
				ErrCases, path, c.Line, c.Name))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cf.Cases, nil
}

// folderDialect is the dialect of a plain list at path: the name of the
// folder above its testdata folder, or "".
func folderDialect(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	dir := filepath.Dir(abs)
	if filepath.Base(dir) != "testdata" {
		return ""
	}
	return filepath.Base(filepath.Dir(dir))
}

func member(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
