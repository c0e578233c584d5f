package rest

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/userbridge/userbridge/mapping"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// File is an upstream rule file as written in YAML (docs/upstreams.md).
// Unknown keys are errors.
type File struct {
	// Upstream names the upstream (lower case), for messages and logs.
	Upstream string `yaml:"upstream"`
	// Description is one line for `userbridge routes`.
	Description string `yaml:"description"`
	// Config holds constants templates read as ${config.NAME}.
	Config map[string]string `yaml:"config"`
	// Accepts lists the canonical fields the upstream can take. An update
	// that sets or unsets any other is refused with invalid_field naming
	// it: nothing is dropped.
	Accepts Accepts `yaml:"accepts"`
	// Update is the request that applies an update, per target kind.
	Update Targets `yaml:"update"`
	// Get is the request that reads a user, per target kind.
	Get Targets `yaml:"get"`
	// Lookup finds a user's id from its username, for a target kind with no
	// request of its own.
	Lookup *Lookup `yaml:"lookup"`
	// User is the template of the canonical user, read from an upstream
	// user (${reply.…}).
	User yaml.Node `yaml:"user"`
	// Errors map the upstream's 4xx replies to canonical errors; the first
	// that matches wins. Other 4xx map by status (canonical.md); 429 and
	// 5xx as for every profile.
	Errors []ErrorRule `yaml:"errors"`

	// root is the file as Load decoded it, for the lines of problems.
	root *yaml.Node
}

// Accepts lists canonical fields.
type Accepts struct {
	// Set are the fields an update may set; "extensions" stands for every
	// extension member.
	Set []string `yaml:"set"`
	// Unset are the fields an update may unset; "extensions" stands for
	// every extension member.
	Unset []string `yaml:"unset"`
}

// Targets are one request per way of naming the user.
type Targets struct {
	// ByID addresses the user by id (${param.id}). Required.
	ByID *Request `yaml:"byId"`
	// ByUsername addresses the user by username (${param.username});
	// without it, Lookup finds the id and ByID is used.
	ByUsername *Request `yaml:"byUsername"`
}

// Request is one HTTP request to the upstream.
type Request struct {
	// Method is the HTTP method: GET for get; PUT, PATCH or POST for update.
	Method string `yaml:"method"`
	// Path is appended to upstream.url: a template whose values (but
	// config constants) end with |path or |query.
	Path string `yaml:"path"`
	// ContentType of the body (default application/json).
	ContentType string `yaml:"contentType"`
	// Body is the JSON template of the update request, read from
	// ${update.…}, ${param.…} and ${config.…}.
	Body yaml.Node `yaml:"body"`
	// UserInReply says that a 2xx reply with a body is the upstream user
	// after the update (mapped by User). Default false: the reply is not
	// read, and a dialect that answers with the user gets it by Get.
	UserInReply bool `yaml:"userInReply"`
	// Merge (an update only) sends the user whole, for an upstream whose
	// update replaces it (Keycloak 24+): the user is read first (get, for
	// the same target kind) and each top-level member of the rendered body
	// replaces the stored one; members the update does not name are sent
	// back as read.
	Merge bool `yaml:"merge"`
	// MergeFrom (with merge) is the gjson path of the user in the get's
	// reply, for an upstream that wraps it (data, for {"data": {…}}): the
	// body is laid over that object, and the object alone is sent.
	// Default: the reply is the user.
	MergeFrom string `yaml:"mergeFrom"`
}

// Lookup is the username → id search.
type Lookup struct {
	// Method is GET (the default).
	Method string `yaml:"method"`
	// Path is the search path template (${param.username|query}).
	Path string `yaml:"path"`
	// ID is the gjson path of the id in the reply, e.g. "0.id".
	ID string `yaml:"id"`
	// Username, when set, is the gjson path of the username the upstream
	// found; it must equal the one asked for (case-insensitively), or the
	// user is not found.
	Username string `yaml:"username"`
}

// ErrorRule maps an upstream error reply.
type ErrorRule struct {
	// Status lists the 4xx statuses the rule applies to.
	Status []int `yaml:"status"`
	// When, if set, must match the reply body too.
	When *Match `yaml:"when"`
	// Code is the canonical code.
	Code string `yaml:"code"`
	// Field is the canonical field the error names, if any.
	Field string `yaml:"field"`
	// Message is a text template (${reply.…}); default: the status's own.
	Message string `yaml:"message"`
}

// Match tests one value of the reply body.
type Match struct {
	// Path is a gjson path into the reply body.
	Path string `yaml:"path"`
	// Pattern is a regular expression (RE2) the value must contain.
	Pattern string `yaml:"pattern"`
}

// ErrRules is wrapped by every rule-file problem.
var ErrRules = errors.New("rest: invalid upstream rules")

// Rules is a compiled upstream rule file. It is immutable and safe for
// concurrent use.
type Rules struct {
	name        string
	description string
	set, unset  map[string]bool
	update      requests
	get         requests
	lookup      *lookup
	user        *mapping.Template
	errors      []errorRule
}

type request struct {
	method      string
	path        *mapping.Template
	contentType []string          // the Content-Type header's value, shared: nothing modifies it
	body        *mapping.Template // nil: no body
	userInReply bool
	merge       *request // the get the update reads the user with first (merge: true)
	mergeFrom   string   // where the user is in that get's reply, "" for the reply itself
	carries     carries  // of an update: what its body carries of each field
}

type lookup struct {
	method       string
	path         *mapping.Template
	id, username string
}

type errorRule struct {
	status  []int
	path    string
	pattern *regexp.Regexp
	code    canonical.Code
	field   string
	message *mapping.Template
}

// Name is the upstream's name.
func (r *Rules) Name() string { return r.name }

// Description is the rule file's one-line description.
func (r *Rules) Description() string { return r.description }

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)

// Load parses and compiles an upstream rule file; file names it in
// messages. Every problem is reported, each with where it is.
func Load(file string, data []byte) (*Rules, error) {
	var f File
	root, err := mapping.DecodeYAML(data, &f)
	var list mapping.YAMLErrors
	switch {
	case errors.As(err, &list):
		// One problem each, as a dialect's rule file reports them.
		return nil, list.In(ErrRules, file)
	case err != nil: // not YAML: the line it stopped at, in the file's words
		return nil, fmt.Errorf("%w: %s: %s%s", ErrRules, file, mapping.YAMLMessage(err), mapping.FlowTemplateHint(data, err))
	case root.Kind == 0:
		return nil, fmt.Errorf("%w: %s: the file is empty", ErrRules, file)
	}
	f.root = root
	return Compile(file, &f)
}

// Compile checks a parsed rule file and compiles it.
func Compile(file string, f *File) (*Rules, error) {
	var errs []error
	bad := func(where, format string, args ...any) {
		at, where := mapping.Locate(file, f.root, where)
		errs = append(errs, fmt.Errorf("%w: %s: %s: %s", ErrRules, at, where, fmt.Sprintf(format, args...)))
	}
	r := &Rules{name: f.Upstream, description: f.Description, set: map[string]bool{}, unset: map[string]bool{}}
	if !nameRE.MatchString(f.Upstream) {
		bad("upstream", "%q is not a name (lower-case letters, digits, '-' or '_')", f.Upstream)
	}
	for _, a := range []struct {
		where string
		list  []string
		into  map[string]bool
	}{{"accepts.set", f.Accepts.Set, r.set}, {"accepts.unset", f.Accepts.Unset, r.unset}} {
		for _, name := range a.list {
			if name != "extensions" && canonical.FieldIndex(name) < 0 {
				bad(a.where, "%q is not a writable canonical field (or extensions)", name)
			}
			a.into[name] = true
		}
	}
	reqs := mapping.NewTemplateSet(file, f.Config, "update", "param", "config")
	replies := mapping.NewTemplateSet(file, f.Config, "reply", "param", "config")
	reqs.Lines(f.root)
	replies.Lines(f.root)

	compile := func(where string, q *Request, update bool) *request {
		if q == nil {
			return nil
		}
		out := &request{method: strings.ToUpper(q.Method), path: reqs.Path(where+".path", q.Path),
			contentType: jsonValue, userInReply: q.UserInReply, mergeFrom: q.MergeFrom}
		if q.ContentType != "" {
			out.contentType = []string{q.ContentType}
		}
		switch {
		case update && out.method != http.MethodPut && out.method != http.MethodPatch && out.method != http.MethodPost:
			bad(where+".method", "%q: an update is PUT, PATCH or POST", q.Method)
		case !update && out.method != http.MethodGet:
			bad(where+".method", "%q: a get is GET", q.Method)
		}
		if update {
			out.body = reqs.Node(where+".body", &q.Body)
			out.carries = checkReads(where+".body", out.body, r, bad)
		} else if q.Body.Kind != 0 {
			bad(where+".body", "a GET has no body")
		}
		if !update && q.UserInReply {
			bad(where+".userInReply", "a get always answers with the user")
		}
		if !update && q.Merge {
			bad(where+".merge", "only an update merges")
		}
		if q.MergeFrom != "" && !q.Merge {
			bad(where+".mergeFrom", "only with merge: true")
		}
		return out
	}
	r.update[canonical.ByID] = compile("update.byId", f.Update.ByID, true)
	r.update[canonical.ByUsername] = compile("update.byUsername", f.Update.ByUsername, true)
	r.get[canonical.ByID] = compile("get.byId", f.Get.ByID, false)
	r.get[canonical.ByUsername] = compile("get.byUsername", f.Get.ByUsername, false)
	for kind, q := range map[canonical.Target]*Request{canonical.ByID: f.Update.ByID, canonical.ByUsername: f.Update.ByUsername} {
		switch {
		case q == nil || !q.Merge:
		case r.get[kind] == nil:
			bad("update.by"+map[canonical.Target]string{canonical.ByID: "Id", canonical.ByUsername: "Username"}[kind]+".merge", "needs a get for the same target")
		default:
			r.update[kind].merge = r.get[kind]
		}
	}
	if r.update[canonical.ByID] == nil {
		bad("update.byId", "missing")
	}
	if r.get[canonical.ByID] == nil {
		bad("get.byId", "missing")
	}
	if l := f.Lookup; l != nil {
		r.lookup = &lookup{method: strings.ToUpper(l.Method), path: reqs.Path("lookup.path", l.Path), id: l.ID, username: l.Username}
		if r.lookup.method == "" {
			r.lookup.method = http.MethodGet
		}
		if r.lookup.method != http.MethodGet {
			bad("lookup.method", "%q: a lookup is GET", l.Method)
		}
		if l.ID == "" {
			bad("lookup.id", "missing: the gjson path of the id in the reply")
		}
	} else if r.update[canonical.ByUsername] == nil || r.get[canonical.ByUsername] == nil {
		bad("lookup", "missing: without update.byUsername and get.byUsername, a user named by username is looked up")
	}
	if f.User.Kind == 0 {
		bad("user", "missing: the template of the canonical user")
	} else {
		r.user = replies.Node("user", &f.User)
	}
	for i, e := range f.Errors {
		where := fmt.Sprintf("errors[%d]", i)
		er := errorRule{status: e.Status, code: canonical.Code(e.Code), field: e.Field}
		if len(e.Status) == 0 {
			bad(where+".status", "missing: the 4xx statuses the rule applies to")
		}
		for _, s := range e.Status {
			if s < 400 || s > 499 || s == http.StatusTooManyRequests {
				bad(where+".status", "%d: rules map 4xx replies (but 429)", s)
			}
		}
		switch er.code {
		case canonical.InvalidField, canonical.Unauthorized, canonical.Forbidden, canonical.NotFound, canonical.Conflict:
		default:
			bad(where+".code", "%q: invalid_field, unauthorized, forbidden, not_found or conflict", e.Code)
		}
		if e.Field != "" && canonical.FieldIndex(e.Field) < 0 {
			bad(where+".field", "%q is not a writable canonical field", e.Field)
		}
		if e.When != nil {
			er.path = e.When.Path
			re, err := regexp.Compile(e.When.Pattern)
			if err != nil || e.When.Path == "" {
				bad(where+".when", "needs a path and a valid pattern")
			}
			er.pattern = re
		}
		if e.Message != "" {
			er.message = replies.Text(where+".message", e.Message)
		}
		r.errors = append(r.errors, er)
	}
	for _, err := range []error{reqs.Err(), replies.Err()} {
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: %w", ErrRules, err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// checkReads makes sure the body writes every field Accepts lists: a field
// accepted but never read would be dropped. It returns what the body
// carries of each field, for check: a field read only in part (a role's
// name, ${update.set.roles.#.name}) drops the rest of what an update sends
// in it, which check refuses. A part read in a way check cannot follow (a
// query, a wildcard, a modifier, one item by index) is refused here.
func checkReads(where string, body *mapping.Template, r *Rules, bad func(string, string, ...any)) carries {
	refs := body.Refs("update")
	c := carries{parts: map[string][][]string{}, unsetExt: map[string]bool{}}
	for _, ref := range refs {
		switch {
		case ref.Path == "set":
			c.all = true
		case ref.Path == "unset":
			c.allUnset = true
		}
		field, rest, ok := strings.Cut(strings.TrimPrefix(ref.Path, "set."), ".")
		if !strings.HasPrefix(ref.Path, "set.") || !(r.set[field] || r.unset[field]) {
			continue
		}
		if !ok {
			c.whole = append(c.whole, field)
			continue
		}
		keys := 0
		if field == "extensions" {
			keys = 2 // {dialect: {name: value}}
		}
		segs, good := segments(rest, keys)
		if !good {
			bad(where, "${update.%s} reads a part of %s that userbridge cannot check is all an update sends in it: read it whole (${update.set.%s}), by member (${update.set.%s.NAME}) or by item member (${update.set.%s.#.NAME})",
				ref.Path, field, field, field, field)
			continue
		}
		if field == "extensions" {
			if msg := extProblem(ref, segs); msg != "" {
				bad(where, "${update.%s} %s", ref.Path, msg)
				continue
			}
			if ref.Unset {
				c.unsetExt["extensions."+segs[0]+"."+segs[1]] = true
			}
		}
		if segs[len(segs)-1] != "#" { // a count carries nothing
			c.parts[field] = append(c.parts[field], segs)
		}
	}
	reads := func(field string, unset bool) bool {
		if unset {
			if c.allUnset {
				return true
			}
			if field == "extensions" {
				return len(c.unsetExt) > 0
			}
			for _, ref := range refs {
				// The unset filter renders when the update unsets the
				// field its path names: set.roles.#.name|unset never does.
				if ref.Unset && ref.Path == "set."+field {
					return true
				}
			}
			return false
		}
		return c.all || slices.Contains(c.whole, field) || len(c.parts[field]) > 0
	}
	for _, f := range slices.Sorted(maps.Keys(r.set)) {
		if !reads(f, false) {
			bad(where, "accepts.set has %s, but the body never reads ${update.set.%s}", f, f)
		}
	}
	for _, f := range slices.Sorted(maps.Keys(r.unset)) {
		if !reads(f, true) {
			bad(where, "accepts.unset has %s, but the body has no ${update.set.%s|unset:…}", f, f)
		}
	}
	return c
}
