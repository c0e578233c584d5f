package mapping

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/userbridge/userbridge/mapping/canonical"
)

// Options tune a Program at compile time.
type Options struct {
	// Config overrides the rule file's config constants.
	Config map[string]string
	// MaxDepth is the deepest JSON nesting accepted (default 32).
	MaxDepth int
}

// UndeclaredConstant is a problem of Options.Config: a value for a config
// constant the rule file does not declare. The mistake is where the value
// is set (a deployment's dialects.<d>.config.<key>), which the caller
// knows and reports it at, with Problem. It wraps ErrRules.
type UndeclaredConstant struct {
	// File is the rule file's name, as in its other problems.
	File string
	// Dialect is the dialect the file defines.
	Dialect string
	// Key is the constant given a value.
	Key string
	// Declared are the constants the file declares.
	Declared []string
}

// Error implements error: "config.supportURL: the rule file acme.yaml
// declares no such config constant, which dialects.acme.config sets; did
// you mean supportUrl?".
func (e *UndeclaredConstant) Error() string {
	return "config." + e.Key + ": " + e.text(", which dialects."+e.Dialect+".config sets")
}

// Problem is what is wrong, for the caller that says where the value is
// set: "the rule file acme.yaml declares no such config constant; did you
// mean supportUrl?".
func (e *UndeclaredConstant) Problem() string { return e.text("") }

func (e *UndeclaredConstant) text(setBy string) string {
	if len(e.Declared) == 0 {
		return "the rule file " + e.File + " declares no config constant" + setBy
	}
	return "the rule file " + e.File + " declares no such config constant" + setBy + knownKeysHint(e.Key, e.Declared)
}

// Unwrap is ErrRules.
func (e *UndeclaredConstant) Unwrap() error { return ErrRules }

// Program is a compiled rule file. It is immutable and safe for concurrent use.
type Program struct {
	file            *File
	name            string
	extPrefix       string // "extensions.<dialect>."
	contentTypes    []string
	forward         []string
	upstreamHeaders []string // response.upstreamHeaders, canonical form
	credentials     []string
	guard           Guard

	targetParam string
	targetBody  string
	targetBy    string
	targetUUID  bool // normalize: uuid
	tenantParam string
	rejectExtra bool

	keys     map[string]*keyRules
	keyTab   keyTable // keys, for lookups while translating
	required []*fieldRule
	sources  map[string]string // canonical field → source name, for upstream errors
	params   map[string]bool   // the route's parameters, by name

	success *successTmpl
	errs    *errorTmpls
	config  map[string]string
}

type keyRules struct {
	readOnly bool
	target   bool // the key names the user (target from body)
	rules    []*fieldRule
}

// problems collects every compile error at once.
type problems struct {
	name string
	root *yaml.Node // the file as decoded, for the line of a problem; nil: none
	errs []error
	// sources are the template sources allowed; nil: a dialect's.
	sources []string
	// params are the route's parameters, config the file's declared
	// constants: what ${param.NAME} and ${config.NAME} may name; nil: not
	// checked (the rules upstream profile's templates).
	params map[string]bool
	route  string
	config map[string]bool
	// enums are the request enums, by source, for ${user|enum:SOURCE};
	// nil: none may be read (the rules upstream profile's templates).
	enums map[string]*reverseEnum
	// success is set while the success answer's templates are compiled:
	// there is no error to read there.
	success bool
}

// place is where a problem is: a dotted path in the file's terms, and the
// line when the path alone does not find it in the file (a template's
// node, whose path names the JSON it renders); 0: look the path up.
type place struct {
	where string
	line  int
}

// addf reports a problem at where, a path looked up in the file.
func (p *problems) addf(where, format string, args ...any) {
	p.addAt(place{where: where}, format, args...)
}

// addAt reports a problem at a place.
func (p *problems) addAt(at place, format string, args ...any) {
	file := p.name
	line := at.line
	if line == 0 {
		line = LineOf(p.root, at.where)
	}
	if line > 0 {
		file += ":" + strconv.Itoa(line)
	}
	p.errs = append(p.errs, fmt.Errorf("%w: %s: %s: %s", ErrRules, file, at.where, fmt.Sprintf(format, args...)))
}

func (p *problems) err() error { return errors.Join(p.errs...) }

// Load parses and compiles a rule file; name is used in messages.
func Load(name string, data []byte, opts Options) (*Program, error) {
	f, err := Parse(name, data)
	if err != nil {
		return nil, err
	}
	return Compile(name, f, opts)
}

// Compile checks a parsed rule file and compiles it. Every problem is
// reported, each with where it is.
func Compile(name string, f *File, opts Options) (*Program, error) {
	pr := &problems{name: name, root: f.root}
	p := &Program{file: f, name: f.Dialect, keys: map[string]*keyRules{}, sources: map[string]string{},
		guard: Guard{MaxDepth: opts.MaxDepth}}
	if !canonical.ValidDialectName(f.Dialect) {
		pr.addf("dialect", "%q is not a dialect name (lower-case letters, digits, '-' or '_')", f.Dialect)
	}
	p.extPrefix = "extensions." + f.Dialect + "."
	p.compileRoute(pr)
	p.compileRequest(pr)
	p.keyTab = newKeyTable(p.keys)
	p.config = map[string]string{}
	for k, v := range f.Config {
		p.config[k] = v
	}
	for _, k := range slices.Sorted(maps.Keys(opts.Config)) { // each problem in one order
		v := opts.Config[k]
		if _, ok := f.Config[k]; !ok {
			pr.errs = append(pr.errs, &UndeclaredConstant{File: name, Dialect: f.Dialect, Key: k, Declared: slices.Sorted(maps.Keys(f.Config))})
		}
		p.config[k] = v
	}
	pr.params, pr.route, pr.config = p.params, f.Route.Path, map[string]bool{}
	for k := range f.Config {
		pr.config[k] = true
	}
	pr.enums = p.reverseEnums()
	pr.success = true
	p.success = compileSuccess(pr, &f.Response)
	pr.success = false
	if f.Response.Body.Kind != 0 && f.Response.Status == http.StatusResetContent {
		// 204 is refused with a body by compileSuccess; 1xx and 304, which
		// forbid one too, are no success statuses.
		pr.addf("response.body", "a 205 answer has no body")
	}
	checkHeaderNames(pr, "response.headers", f.Response.Headers)
	p.upstreamHeaders = compileUpstreamHeaders(pr, f.Response.UpstreamHeaders)
	p.errs = compileErrors(pr, &f.Errors)
	checkHeaderNames(pr, "errors.headers", f.Errors.Headers)
	for _, k := range slices.Sorted(maps.Keys(f.Errors.ByCode)) {
		checkHeaderNames(pr, "errors.byCode."+k+".headers", f.Errors.ByCode[k].Headers)
	}
	if err := pr.err(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Program) compileRoute(pr *problems) {
	r := &p.file.Route
	r.Method = strings.ToUpper(r.Method)
	switch r.Method {
	case http.MethodPut, http.MethodPatch, http.MethodPost:
	default:
		pr.addf("route.method", "%q: an update is PUT, PATCH or POST", r.Method)
	}
	if !strings.HasPrefix(r.Path, "/") {
		pr.addf("route.path", "%q must start with '/'", r.Path)
	}
}
