// Package mapping is userbridge's rule engine: a dialect's rule file (data)
// is compiled once into a Program that turns a request body into the
// canonical update and a canonical user or error into the dialect's answer.
// It works on raw JSON bytes with gjson; it knows nothing of HTTP.
package mapping

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// File is a dialect's rule file as written in YAML. Unknown keys are errors.
type File struct {
	// Dialect is the dialect's name, lower case (e.g. "finix").
	Dialect string `yaml:"dialect"`
	// Description is one line for `userbridge dialects`.
	Description string `yaml:"description"`
	// Route is where the dialect is served by default.
	Route Route `yaml:"route"`
	// Request says how a request body becomes the canonical update.
	Request Request `yaml:"request"`
	// Response renders a successful update in the dialect.
	Response Response `yaml:"response"`
	// Errors renders every failure in the dialect.
	Errors Errors `yaml:"errors"`
	// Config holds constants a template reads as ${config.NAME}; a
	// deployment's config file may override them.
	Config map[string]string `yaml:"config"`

	// root is the file as Parse decoded it, for the lines of problems.
	root *yaml.Node
}

// Route is the dialect's documented method and path (gin syntax, e.g.
// /users/:user_id).
type Route struct {
	Method string `yaml:"method"`
	Path   string `yaml:"path"`
}

// Request holds the request-side rules.
type Request struct {
	// ContentTypes are the accepted media types (default application/json).
	ContentTypes []string `yaml:"contentTypes"`
	// Target names the user being updated.
	Target TargetRule `yaml:"target"`
	// Tenant, when set, is where the tenant comes from ("param.apiKey").
	Tenant string `yaml:"tenant"`
	// Unknown is the policy for top-level fields no rule names: "keep"
	// (default; kept under extensions.<dialect>.<field>) or "reject".
	Unknown string `yaml:"unknownFields"`
	// ReadOnly fields are accepted and ignored.
	ReadOnly []string `yaml:"readOnly"`
	// Fields are the field rules.
	Fields []FieldRule `yaml:"fields"`
	// Headers are the request headers forwarded upstream unchanged in
	// every auth mode (e.g. Finix-Version); matched case-insensitively.
	// Credentials belong in Credentials, never here.
	Headers []string `yaml:"forwardHeaders"`
	// Credentials are the headers the dialect's clients send credentials
	// in (e.g. Authorization, Shift's x-key and x-secret, Crafter's Cookie
	// and X-XSRF-TOKEN); matched case-insensitively. With auth mode
	// passthrough they are forwarded upstream unchanged; with verify they
	// are removed and userbridge sends its own (docs/security.md).
	Credentials []string `yaml:"credentialHeaders"`
}

// TargetRule says where the user's identifier is and what kind it is.
type TargetRule struct {
	// From is "param.NAME" (a path parameter) or "body.FIELD".
	From string `yaml:"from"`
	// By is "id", "username" or "auto" (a UUID/GUID-shaped value is an id,
	// anything else a username).
	By string `yaml:"by"`
	// Normalize "uuid" forwards a UUID/GUID-shaped value in its canonical
	// form, lower case without braces (RFC 9562: a UUID is case-insensitive
	// on input, written lower case); any other value is forwarded as sent.
	Normalize string `yaml:"normalize"`
}

// FieldRule maps one request field.
type FieldRule struct {
	// Source is the request field: a top-level key, or a dotted path whose
	// first segment is a top-level key.
	Source string `yaml:"source"`
	// Target is the canonical field (e.g. givenName, extensions.shift.sso).
	// Empty when Enum says what to set.
	Target string `yaml:"target"`
	// Type is the JSON type required: string, boolean, number, integer,
	// object, array or any (default any).
	Type string `yaml:"type"`
	// Required fields must be present.
	Required bool `yaml:"required"`
	// Empty says what "" means for a string: "keep" (default), "unset"
	// or "reject".
	Empty string `yaml:"empty"`
	// Null says what null means: "reject" (default), "unset" or "ignore".
	Null string `yaml:"null"`
	// Enum maps each accepted source value to the canonical fields it sets;
	// a value not listed is refused.
	Enum map[string]map[string]any `yaml:"enum"`
	// Wrap turns a string into {"<Wrap>": value}.
	Wrap string `yaml:"wrap"`
	// List wraps the value in a one-item array.
	List bool `yaml:"list"`
	// Items applies to each item of an array.
	Items *ItemsRule `yaml:"items"`
	// Normalize "uuid" (for a string) writes a UUID/GUID-shaped value in
	// its canonical form, lower case without braces, after validation and
	// before wrap; any other value is kept as sent.
	Normalize string `yaml:"normalize"`
	// Validate lists the checks the value must pass.
	Validate Validators `yaml:"validate"`
}

// ItemsRule shapes each item of an array field.
type ItemsRule struct {
	// Wrap turns a string item into {"<Wrap>": item}.
	Wrap string `yaml:"wrap"`
	// Keep lists the keys of an object item that are kept; the others
	// must be listed in Ignore or the item is refused.
	Keep []string `yaml:"keep"`
	// Required lists kept keys an object item must have. Whatever it says,
	// a role item needs an id or a name.
	Required []string `yaml:"required"`
	// Ignore lists object keys accepted and dropped (read-only).
	Ignore []string `yaml:"ignore"`
}

// Validators are the checks of one field; each failure names the field.
type Validators struct {
	NonEmpty  bool     `yaml:"nonEmpty"`
	Pattern   string   `yaml:"pattern"`
	MinLength int      `yaml:"minLength"`
	MaxLength int      `yaml:"maxLength"`
	OneOf     []string `yaml:"oneOf"`
	UUID      bool     `yaml:"uuid"`
	Email     bool     `yaml:"email"`
	// Map limits, for objects.
	MaxPairs       int    `yaml:"maxPairs"`
	KeyPattern     string `yaml:"keyPattern"`
	KeyMaxLength   int    `yaml:"keyMaxLength"`
	ValueMaxLength int    `yaml:"valueMaxLength"`
	// ValueType, for objects: the JSON type every value must have.
	ValueType string `yaml:"valueType"`
	// MaxItems, for arrays.
	MaxItems int `yaml:"maxItems"`
	// Password is a password policy.
	Password *PasswordPolicy `yaml:"password"`
}

// PasswordPolicy is a password rule.
type PasswordPolicy struct {
	MinLength int  `yaml:"minLength"`
	Upper     bool `yaml:"upper"`
	Lower     bool `yaml:"lower"`
	Digit     bool `yaml:"digit"`
	// Special lists the special characters of which one is required.
	Special string `yaml:"special"`
	// NotContainUsername refuses a password that contains the username
	// (case-insensitively), taken from UsernameField of the body or, when
	// the body has none, from the stored user.
	NotContainUsername bool   `yaml:"notContainUsername"`
	UsernameField      string `yaml:"usernameField"`
}

// Response renders a successful update.
type Response struct {
	// Status is the dialect's success status (e.g. 200, 204).
	Status int `yaml:"status"`
	// ContentType of the body.
	ContentType string `yaml:"contentType"`
	// Headers are string templates.
	Headers map[string]string `yaml:"headers"`
	// Body is a template; absent means no body.
	Body yaml.Node `yaml:"body"`
	// UpstreamHeaders are headers of the upstream's last reply passed back
	// unchanged on every answer, success or error, when the upstream sent
	// them (e.g. Shift's X-RateLimit-*); a header the rules set wins.
	UpstreamHeaders []string `yaml:"upstreamHeaders"`
}

// Errors renders failures.
type Errors struct {
	ContentType string `yaml:"contentType"`
	// Status overrides the HTTP status per canonical code.
	Status map[string]int `yaml:"status"`
	// Codes gives the dialect's own code per canonical code, read as
	// ${error.dialectCode}; "default" covers the others.
	Codes map[string]string `yaml:"codes"`
	// Messages overrides the message per canonical code.
	Messages map[string]string `yaml:"messages"`
	// Headers are string templates added to every error.
	Headers map[string]string `yaml:"headers"`
	// Body is the error template.
	Body yaml.Node `yaml:"body"`
	// ByCode overrides headers and body for one canonical code.
	ByCode map[string]ErrorVariant `yaml:"byCode"`
}

// ErrorVariant is a per-code override.
type ErrorVariant struct {
	Headers map[string]string `yaml:"headers"`
	Body    yaml.Node         `yaml:"body"`
	// WithField is the body used when the error names a field.
	WithField yaml.Node `yaml:"withField"`
}

// ErrRules is wrapped by every rule-file problem.
var ErrRules = errors.New("mapping: invalid rules")

// Parse decodes a rule file strictly: an unknown key is an error naming the
// file, line and key.
func Parse(name string, data []byte) (*File, error) {
	var f File
	root, err := DecodeYAML(quoteNullKeys(data), &f)
	var list YAMLErrors
	switch {
	case errors.As(err, &list):
		return nil, list.In(ErrRules, name)
	case err != nil:
		return nil, fmt.Errorf("%w: %s: %w%s", ErrRules, name, err, FlowTemplateHint(data, err))
	case root.Kind == 0:
		return nil, fmt.Errorf("%w: %s: the file is empty", ErrRules, name)
	}
	f.root = root // for the line of each problem Compile finds
	return &f, nil
}

// syntaxLine is the line a YAML syntax error names.
var syntaxLine = regexp.MustCompile(`^yaml: line ([0-9]+): `)

// FlowTemplateHint says what a YAML syntax error on a line with an
// unquoted ${…} template inside a flow mapping or list most likely is:
// the template's { ends nothing YAML knows of ({email: ${user.email}}).
// Every rule file's loader adds it, a dialect's (Parse) and an upstream's.
func FlowTemplateHint(data []byte, err error) string {
	m := syntaxLine.FindStringSubmatch(err.Error())
	if m == nil {
		return ""
	}
	n, _ := strconv.Atoi(m[1])
	lines := strings.Split(string(data), "\n")
	if n < 1 || n > len(lines) {
		return ""
	}
	line := lines[n-1]
	for i := strings.Index(line, "${"); i > 0; i = nextTemplate(line, i) {
		if strings.ContainsAny(line[:i], "{[") && !strings.ContainsAny(line[i-1:i], `"'`) {
			return `; a ${…} template inside a flow mapping or list ({…}, […]) must be quoted: "${…}"`
		}
	}
	return ""
}

// nextTemplate is the index of the next "${" in line after the one at i,
// or -1.
func nextTemplate(line string, i int) int {
	j := strings.Index(line[i+2:], "${")
	if j < 0 {
		return -1
	}
	return i + 2 + j
}

// nullKey finds a mapping key written as plain `null`, which YAML reads as
// the null value rather than the string a field rule's `null:` policy is.
var nullKey = regexp.MustCompile(`(?m)(^[ \t]*(?:- )?|[{,][ \t]*)null:`)

// quoteNullKeys quotes those keys, keeping every line where it was so that
// error messages still point at the author's lines.
func quoteNullKeys(data []byte) []byte {
	return nullKey.ReplaceAll(data, []byte(`${1}"null":`))
}
