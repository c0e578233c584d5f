// Package scimtest runs a real SCIM 2.0 server for tests: the protocol is
// github.com/elimity-com/scim's, the Users are kept in memory by a handler
// that applies PATCH operations (add, replace, remove, with attribute,
// sub-attribute and value-filter paths) itself, as RFC 7644 §3.5.2 says.
package scimtest

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	filter "github.com/scim2/filter-parser/v2"
	"github.com/tidwall/sjson"
)

// Request is one request the server received.
type Request struct {
	Method, URI string
	Header      http.Header
	Body        []byte
}

// Server is a SCIM 2.0 server on a loopback port, serving /Users.
type Server struct {
	// URL is the service's base URL (the one /Users is under).
	URL string

	srv    *httptest.Server
	schema schema.Schema   // core User
	exts   []schema.Schema // enterprise, userbridge's

	opts Options

	mu        sync.Mutex
	noContent bool
	failNext  *scimerrors.ScimError
	users     map[string]*user
	next      int
	requests  []Request
}

type user struct {
	attrs    map[string]any // SCIM attributes, extensions under their URN; no id, no meta
	password string
	created  time.Time
	modified time.Time
}

// ExtensionSchema is the schema of userbridge's extension under the given
// URN: locked and deleted (booleans), attributes (JSON text) and the
// multi-valued extensions {dialect, name, value}.
func ExtensionSchema(urn string) schema.Schema {
	str := func(name string) schema.SimpleParams {
		return schema.SimpleStringParams(schema.StringParams{Name: name, CaseExact: true})
	}
	return schema.Schema{ID: urn, Name: optional.NewString("UserbridgeUser"),
		Description: optional.NewString("canonical fields with no SCIM core attribute"),
		Attributes: []schema.CoreAttribute{
			schema.SimpleCoreAttribute(schema.SimpleBooleanParams(schema.BooleanParams{Name: "locked"})),
			schema.SimpleCoreAttribute(schema.SimpleBooleanParams(schema.BooleanParams{Name: "deleted"})),
			schema.SimpleCoreAttribute(str("attributes")),
			schema.ComplexCoreAttribute(schema.ComplexParams{Name: "extensions", MultiValued: true,
				SubAttributes: []schema.SimpleParams{str("dialect"), str("name"), str("value")}}),
		}}
}

// Options say what the server's User resource holds and what it supports,
// as its /ServiceProviderConfig, /ResourceTypes and /Schemas declare.
type Options struct {
	// Extension is the URN of userbridge's extension schema on the User
	// resource type; "" declares none (a PATCH path into it is refused
	// with 400 invalidPath, as the library validates paths).
	Extension string
	// NoPatch declares patch.supported false and answers PATCH with 501.
	NoPatch bool
	// StrictRemove answers a PATCH remove whose value filter matches no
	// value with 400 noTarget (RFC 7644 §3.12), applying nothing, as
	// strict providers do; by default such a remove removes nothing.
	StrictRemove bool
	// ETag declares etag.supported true: PUT honours If-Match (412 when
	// it names another version).
	ETag bool
	// Tokens, when set, are the bearer tokens the server accepts, on
	// every endpoint, discovery included (as many providers want): a
	// request without "Authorization: Bearer <one of them>" is answered
	// 401 with a SCIM error and WWW-Authenticate, and handled no further
	// (it is still recorded). /ServiceProviderConfig declares the
	// oauthbearertoken scheme.
	Tokens []string
}

// Start runs a server whose User resource type has the enterprise extension
// and userbridge's extension under extURN. Close stops it.
func Start(extURN string) (*Server, error) { return StartWith(Options{Extension: extURN}) }

// StartWith runs a server as o says. Close stops it.
func StartWith(o Options) (*Server, error) {
	s := &Server{users: map[string]*user{}, schema: schema.CoreUserSchema(), opts: o,
		exts: []schema.Schema{schema.ExtensionEnterpriseUser()}}
	if o.Extension != "" {
		s.exts = append(s.exts, ExtensionSchema(o.Extension))
	}
	var exts []scim.SchemaExtension
	for _, e := range s.exts {
		exts = append(exts, scim.SchemaExtension{Schema: e})
	}
	spc := &scim.ServiceProviderConfig{SupportFiltering: true, SupportPatch: !o.NoPatch, MaxResults: 100}
	if len(o.Tokens) > 0 {
		spc.AuthenticationSchemes = []scim.AuthenticationScheme{{Type: scim.AuthenticationTypeOauthBearerToken,
			Name: "OAuth Bearer Token", Description: "a bearer token on every request", Primary: true}}
	}
	srv, err := scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: spc,
		ResourceTypes: []scim.ResourceType{{ID: optional.NewString("User"), Name: "User", Endpoint: "/Users",
			Schema: s.schema, SchemaExtensions: exts, Handler: (*handler)(s)}},
	})
	if err != nil {
		return nil, fmt.Errorf("scimtest: %w", err)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.requests = append(s.requests, Request{Method: r.Method, URI: r.RequestURI, Header: r.Header.Clone(), Body: body})
		s.mu.Unlock()
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		if len(o.Tokens) > 0 && !bearerOK(r, o.Tokens) {
			unauthorized(w)
			return
		}
		if o.ETag && r.Method == http.MethodGet && r.URL.Path == "/ServiceProviderConfig" {
			// The library declares etag.supported false whatever it is told.
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, r)
			out, _ := sjson.SetBytes(rec.Body.Bytes(), "etag.supported", true)
			maps.Copy(w.Header(), rec.Header())
			w.Header().Del("Content-Length")
			w.WriteHeader(rec.Code)
			_, _ = w.Write(out)
			return
		}
		s.mu.Lock()
		noContent := s.noContent
		s.mu.Unlock()
		if noContent && r.Method == http.MethodPut {
			// The library answers PUT with the user, whatever Replace returns.
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, r)
			if rec.Code == http.StatusOK {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			maps.Copy(w.Header(), rec.Header())
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		srv.ServeHTTP(w, r)
	}))
	s.URL = s.srv.URL
	return s, nil
}

// bearerOK is whether r carries one of the tokens as a bearer token.
func bearerOK(r *http.Request, tokens []string) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.EqualFold(scheme, "Bearer") && slices.Contains(tokens, tok)
}

// unauthorized answers 401 as RFC 7644 §3.12 says (RFC 6750 §3's
// WWW-Authenticate).
func unauthorized(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/scim+json")
	w.Header().Set("WWW-Authenticate", `Bearer realm="scimtest"`)
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"401",` +
		`"detail":"Authorization failure. The authorization header is invalid or missing."}`))
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Add stores a user given as SCIM JSON (without id and meta) and returns
// its id. A "password" is kept apart, as a write-only attribute is.
func (s *Server) Add(scimJSON string) string {
	var attrs map[string]any
	if err := json.Unmarshal([]byte(scimJSON), &attrs); err != nil {
		panic("scimtest: " + err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	id := fmt.Sprintf("2819c223-7f76-453a-919d-%012d", s.next)
	now := time.Now().UTC()
	u := &user{attrs: attrs, created: now, modified: now}
	if p, ok := attrs["password"].(string); ok {
		u.password = p
		delete(attrs, "password")
	}
	s.users[id] = u
	return id
}

// User returns a copy of the stored user's attributes as JSON, nil when
// there is none; Password its password.
func (s *Server) User(id string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return nil
	}
	b, _ := json.Marshal(u.attrs)
	return b
}

// Password is the stored user's password.
func (s *Server) Password(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.users[id]; ok {
		return u.password
	}
	return ""
}

// Touch gives the stored user a new version (meta.version, the ETag), as
// a change made by someone else would.
func (s *Server) Touch(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.users[id]; ok {
		u.modified = u.modified.Add(time.Millisecond)
	}
}

// SetNoContent makes PATCH and PUT answer 204 without the user (true) or
// 200 with it (false, the default).
func (s *Server) SetNoContent(on bool) {
	s.mu.Lock()
	s.noContent = on
	s.mu.Unlock()
}

// FailNext makes the next PATCH or PUT fail with a SCIM error of this status and
// scimType (RFC 7644 §3.12), applying nothing.
func (s *Server) FailNext(status int, scimType, detail string) {
	s.mu.Lock()
	s.failNext = &scimerrors.ScimError{Status: status, ScimType: scimerrors.ScimType(scimType), Detail: detail}
	s.mu.Unlock()
}

// Requests returns what the server received, and forgets it.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.requests
	s.requests = nil
	return out
}

// handler is the ResourceHandler of /Users.
type handler Server

func (h *handler) resource(id string, u *user) scim.Resource {
	created, modified := u.created, u.modified
	return scim.Resource{ID: id, Attributes: deepCopy(u.attrs).(map[string]any),
		Meta: scim.Meta{Created: &created, LastModified: &modified, Version: `W/"` + strconv.FormatInt(modified.UnixNano(), 36) + `"`}}
}

func (h *handler) Create(_ *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	return scim.Resource{}, scimerrors.ScimError{Status: http.StatusNotImplemented, Detail: "create is not served"}
}

// Replace stores the user PUT gives, whole (RFC 7644 §3.5.1); the
// password is kept when it is not given. With Options.ETag, an If-Match
// that names another version is refused with 412, nothing stored.
func (h *handler) Replace(r *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if f := h.failNext; f != nil {
		h.failNext = nil
		return scim.Resource{}, *f
	}
	u, ok := h.users[id]
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	if m := r.Header.Get("If-Match"); h.opts.ETag && m != "" && m != "*" && m != h.resource(id, u).Meta.Version {
		return scim.Resource{}, scimerrors.ScimError{Status: http.StatusPreconditionFailed, Detail: "the user has changed"}
	}
	next := &user{attrs: deepCopy(map[string]any(attrs)).(map[string]any), password: u.password, created: u.created}
	delete(next.attrs, "id")
	delete(next.attrs, "meta")
	delete(next.attrs, "schemas")
	if p, ok := next.attrs["password"].(string); ok {
		next.password = p
		delete(next.attrs, "password")
	}
	return h.store(id, u, next)
}

func (h *handler) Delete(_ *http.Request, id string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.users[id]; !ok {
		return scimerrors.ScimErrorResourceNotFound(id)
	}
	delete(h.users, id)
	return nil
}

func (h *handler) Get(_ *http.Request, id string) (scim.Resource, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u, ok := h.users[id]
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	return h.resource(id, u), nil
}

// GetAll lists the users a filter matches. `userName eq "..."` is evaluated
// here, with the string unescaped as RFC 7644 §3.4.2.2 says and compared
// case-insensitively (userName is caseExact false); any other filter by
// the library.
func (h *handler) GetAll(_ *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var want *string
	if v := params.FilterValidator; v != nil {
		if e, ok := v.GetFilter().(*filter.AttributeExpression); ok && e.Operator == filter.EQ &&
			strings.EqualFold(e.AttributePath.AttributeName, "userName") && e.AttributePath.URIPrefix == nil {
			raw, _ := e.CompareValue.(string)
			var s string
			if err := json.Unmarshal([]byte(`"`+raw+`"`), &s); err != nil {
				return scim.Page{}, scimerrors.ScimErrorInvalidFilter
			}
			want = &s
		}
	}
	page := scim.Page{Resources: []scim.Resource{}}
	for _, id := range slices.Sorted(maps.Keys(h.users)) {
		u := h.users[id]
		switch {
		case want != nil:
			name, _ := u.attrs["userName"].(string)
			if !strings.EqualFold(name, *want) {
				continue
			}
		case params.FilterValidator != nil:
			if params.FilterValidator.PassesFilter(u.attrs) != nil {
				continue
			}
		}
		page.Resources = append(page.Resources, h.resource(id, u))
	}
	page.TotalResults = len(page.Resources)
	return page, nil
}

// Patch applies the operations in order, all or none.
func (h *handler) Patch(_ *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.opts.NoPatch {
		return scim.Resource{}, scimerrors.ScimError{Status: http.StatusNotImplemented, Detail: "PATCH is not supported"}
	}
	if f := h.failNext; f != nil {
		h.failNext = nil
		return scim.Resource{}, *f
	}
	u, ok := h.users[id]
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	next := &user{attrs: deepCopy(u.attrs).(map[string]any), password: u.password, created: u.created}
	for _, op := range ops {
		if err := h.apply(next, op); err != nil {
			return scim.Resource{}, err
		}
	}
	return h.store(id, u, next)
}

// store replaces the user u (whose id is id) with next, unless it has no
// userName or another user has it; h.mu is held.
func (h *handler) store(id string, u, next *user) (scim.Resource, error) {
	name, _ := next.attrs["userName"].(string)
	if name == "" {
		return scim.Resource{}, scimerrors.ScimError{ScimType: scimerrors.ScimTypeInvalidValue, Status: http.StatusBadRequest,
			Detail: "userName is required"}
	}
	for other, o := range h.users {
		if n, _ := o.attrs["userName"].(string); other != id && strings.EqualFold(n, name) {
			return scim.Resource{}, scimerrors.ScimErrorUniqueness
		}
	}
	next.modified = time.Now().UTC()
	if !next.modified.After(u.modified) {
		next.modified = u.modified.Add(time.Millisecond)
	}
	h.users[id] = next
	if h.noContent {
		return scim.Resource{}, nil
	}
	return h.resource(id, next), nil
}

var _ scim.ResourceHandler = (*handler)(nil)
