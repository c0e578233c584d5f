package yamlschema

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Docs reads the doc comments of the named struct types of a package's Go
// files in dir (tests excluded): "importPath.Type" → the type's comment and
// "importPath.Type.Field" → the field's, each one paragraph of text, as
// Generator.Docs takes them.
func Docs(dir, importPath string) (map[string]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	out := map[string]string{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		f, err := parser.ParseFile(fset, name, src, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("yamlschema: %w", err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.TYPE {
				continue
			}
			for _, s := range g.Specs {
				ts := s.(*ast.TypeSpec)
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				doc := ts.Doc
				if doc == nil && len(g.Specs) == 1 {
					doc = g.Doc
				}
				key := importPath + "." + ts.Name.Name
				if t := text(doc); t != "" {
					out[key] = t
				}
				for _, fl := range st.Fields.List {
					if t := text(fl.Doc); t != "" {
						for _, n := range fl.Names {
							out[key+"."+n.Name] = t
						}
					}
				}
			}
		}
	}
	return out, nil
}

// text is a comment's first paragraph on one line.
func text(c *ast.CommentGroup) string {
	if c == nil {
		return ""
	}
	para, _, _ := strings.Cut(strings.TrimSpace(c.Text()), "\n\n")
	return strings.Join(strings.Fields(para), " ")
}
