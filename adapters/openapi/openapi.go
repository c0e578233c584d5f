// Package openapi generates a dialect's contract, an OpenAPI 3.1 document,
// from its compiled rules: the route, the headers the dialect reads, the
// request body the rules accept, the success answer and the error envelope
// of every status the dialect can answer.
package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/userbridge/userbridge/mapping"
	"github.com/userbridge/userbridge/mapping/canonical"
	"gopkg.in/yaml.v3"
)

// Version is the OpenAPI version of the documents generated.
const Version = "3.1.0"

// Mount is where a deployment serves the dialect.
type Mount struct {
	// Path is the full route in gin syntax, a configured prefix included.
	Path string
	// Host, when set, is the only Host the route answers.
	Host string
	// Verify, when set, is how userbridge itself checks callers (the
	// dialect's auth mode verify; the same on every mount of a dialect);
	// nil: the credentials go to the upstream as sent (passthrough).
	Verify *Verify
}

// Verify names the credentials userbridge checks in auth mode verify.
type Verify struct {
	// APIKeyHeader carries an API key ("" when API keys are not accepted);
	// APIKeyIDHeader, when set, names the key's principal beside it.
	APIKeyHeader, APIKeyIDHeader string
	// Basic: HTTP Basic credentials; JWT: a bearer JWT.
	Basic, JWT bool
}

// Document builds the dialect's OpenAPI document, with a path for each
// mount; none: the rule file's own route.
func Document(p *mapping.Program, mounts ...Mount) *openapi3.T {
	doc := &openapi3.T{
		OpenAPI: Version,
		Info: &openapi3.Info{Title: "userbridge: " + p.Name() + " dialect", Version: "1",
			Description: p.Description() + ". Generated from the dialect's rule file by `userbridge openapi`."},
		Paths:      openapi3.NewPaths(),
		Components: &openapi3.Components{SecuritySchemes: openapi3.SecuritySchemes{}, Headers: openapi3.Headers{}},
	}
	op := &openapi3.Operation{OperationID: "update" + strings.ToUpper(p.Name()[:1]) + p.Name()[1:] + "User",
		Summary: "Update a user", Responses: openapi3.NewResponses()}
	for _, name := range p.RouteParams() {
		op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Value: openapi3.NewPathParameter(name).
			WithSchema(openapi3.NewStringSchema())})
	}
	forward, credentials := p.HeadersAsWritten()
	for _, h := range forward {
		op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Value: openapi3.NewHeaderParameter(h).
			WithDescription("passed to the upstream unchanged").WithSchema(openapi3.NewStringSchema())})
	}
	var verify *Verify
	for _, m := range mounts {
		if m.Verify != nil {
			verify = m.Verify
		}
	}
	var security openapi3.SecurityRequirements
	if verify != nil {
		security = verifySecurity(doc, verify)
	} else {
		security = passthroughSecurity(doc, credentials)
	}
	if len(security) > 0 {
		op.Security = &security
	}
	doc.Components.Schemas = openapi3.Schemas{"UpdateRequest": openapi3.NewSchemaRef("", requestSchema(p))}
	body := &openapi3.SchemaRef{Ref: "#/components/schemas/UpdateRequest"}
	content := openapi3.Content{}
	for _, ct := range p.ContentTypes() {
		if isJSON(ct) {
			content[ct] = &openapi3.MediaType{Schema: body}
			continue
		}
		// Another media type the dialect's clients label a JSON body with
		// (Crafter's text/plain): a string whose content is that JSON.
		content[ct] = &openapi3.MediaType{Schema: openapi3.NewSchemaRef("", &openapi3.Schema{
			Type: &openapi3.Types{"string"}, ContentMediaType: "application/json", ContentSchema: body})}
	}
	op.RequestBody = &openapi3.RequestBodyRef{Value: &openapi3.RequestBody{Required: true, Content: content}}
	addSuccess(doc, op, p)
	addErrors(doc, op, p)

	if len(mounts) == 0 {
		mounts = []Mount{{Path: p.Route().Path}}
	}
	for _, m := range mounts {
		item := doc.Paths.Value(ginToOpenAPI(m.Path))
		if item == nil {
			item = &openapi3.PathItem{}
			doc.Paths.Set(ginToOpenAPI(m.Path), item)
		}
		if m.Host != "" {
			item.Servers = append(item.Servers, &openapi3.Server{URL: "https://" + m.Host}, &openapi3.Server{URL: "http://" + m.Host})
		}
		item.SetOperation(p.Route().Method, op)
	}
	return doc
}

// passthroughSecurity describes the credential headers the upstream
// checks: any one of them (the rules do not say which combination).
func passthroughSecurity(doc *openapi3.T, headers []string) openapi3.SecurityRequirements {
	security := openapi3.SecurityRequirements{}
	for _, h := range headers {
		doc.Components.SecuritySchemes[h] = &openapi3.SecuritySchemeRef{Value: &openapi3.SecurityScheme{
			Type: "apiKey", In: "header", Name: h,
			Description: "credentials in " + h + ", passed to the upstream as sent, which checks them (auth passthrough)"}}
		security = append(security, openapi3.SecurityRequirement{h: []string{}})
	}
	return security
}

// verifySecurity describes what userbridge checks in auth mode verify:
// any one of an API key (with its principal's header when configured),
// HTTP Basic and a bearer JWT.
func verifySecurity(doc *openapi3.T, v *Verify) openapi3.SecurityRequirements {
	security := openapi3.SecurityRequirements{}
	add := func(name string, s *openapi3.SecurityScheme) {
		doc.Components.SecuritySchemes[name] = &openapi3.SecuritySchemeRef{Value: s}
	}
	if v.APIKeyHeader != "" {
		add("apiKey", &openapi3.SecurityScheme{Type: "apiKey", In: "header", Name: v.APIKeyHeader,
			Description: "an API key userbridge checks (auth verify)"})
		req := openapi3.SecurityRequirement{"apiKey": []string{}}
		if v.APIKeyIDHeader != "" {
			add("apiKeyId", &openapi3.SecurityScheme{Type: "apiKey", In: "header", Name: v.APIKeyIDHeader,
				Description: "the API key's principal (auth verify)"})
			req["apiKeyId"] = []string{}
		}
		security = append(security, req)
	}
	if v.Basic {
		add("basic", &openapi3.SecurityScheme{Type: "http", Scheme: "basic", Description: "checked by userbridge (auth verify)"})
		security = append(security, openapi3.SecurityRequirement{"basic": []string{}})
	}
	if v.JWT {
		add("bearer", &openapi3.SecurityScheme{Type: "http", Scheme: "bearer", BearerFormat: "JWT",
			Description: "a JWT userbridge checks against its JWKS (auth verify)"})
		security = append(security, openapi3.SecurityRequirement{"bearer": []string{}})
	}
	return security
}

// isJSON reports whether a media type is JSON: application/json or a
// +json suffix.
func isJSON(ct string) bool {
	ct = strings.ToLower(ct)
	return ct == "application/json" || strings.HasSuffix(ct, "+json")
}

// ginToOpenAPI writes a gin path's :name and *name as {name}.
func ginToOpenAPI(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if len(s) > 1 && (s[0] == ':' || s[0] == '*') {
			segs[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(segs, "/")
}

// headers lists an answer's headers, each a reference to the document's
// components.headers, where it is described once.
func headers(doc *openapi3.T, p *mapping.Program, names ...[]string) openapi3.Headers {
	hs := openapi3.Headers{}
	add := func(n, desc string) {
		if doc.Components.Headers[n] == nil {
			doc.Components.Headers[n] = &openapi3.HeaderRef{Value: &openapi3.Header{Parameter: openapi3.Parameter{
				Description: desc, Schema: openapi3.NewSchemaRef("", openapi3.NewStringSchema())}}}
		}
		hs[n] = &openapi3.HeaderRef{Ref: "#/components/headers/" + n}
	}
	add("X-Request-Id", "the request's id (the client's X-Request-ID when sane, else a new UUID)")
	for _, list := range names {
		for _, n := range list {
			switch n {
			case "Retry-After":
				add(n, "the upstream's Retry-After, passed on")
			case "Allow":
				add(n, "the methods the route serves")
			default:
				add(n, "set by the dialect's rules")
			}
		}
	}
	for _, n := range p.UpstreamHeaders() {
		add(n, "the upstream's, passed back when it sent it")
	}
	return hs
}

func addSuccess(doc *openapi3.T, op *openapi3.Operation, p *mapping.Program) {
	s := p.Success()
	r := openapi3.NewResponse().WithDescription("the user was updated")
	r.Headers = headers(doc, p, s.Headers)
	if s.Body != nil {
		r.Content = openapi3.Content{s.ContentType: &openapi3.MediaType{Schema: openapi3.NewSchemaRef("", shapeSchema(s.Body))}}
	}
	op.Responses.Set(strconv.Itoa(s.Status), &openapi3.ResponseRef{Value: r})
}

// addErrors adds one response per status an error code is rendered with,
// and a default one for the statuses an upstream's error keeps as its own.
func addErrors(doc *openapi3.T, op *openapi3.Operation, p *mapping.Program) {
	type group struct {
		codes   []string
		schemas openapi3.SchemaRefs
		headers [][]string
		ct      string
	}
	byStatus := map[int]*group{}
	var all openapi3.SchemaRefs
	var allHeaders [][]string
	var ct string
	for _, a := range p.ErrorAnswers() {
		g := byStatus[a.Status]
		if g == nil {
			g = &group{ct: a.ContentType}
			byStatus[a.Status] = g
		}
		ct = a.ContentType
		g.codes = append(g.codes, string(a.Code))
		g.headers = append(g.headers, a.Headers, []string{"Retry-After"})
		if a.Code == canonical.MethodNotAllowed {
			g.headers = append(g.headers, []string{"Allow"}) // userbridge's own, whatever the rules
		}
		allHeaders = append(allHeaders, a.Headers, []string{"Retry-After"})
		for _, sh := range []*mapping.Shape{a.Body, a.WithField} {
			if sh != nil {
				s := shapeSchema(sh)
				g.schemas = appendDistinct(g.schemas, s)
				all = appendDistinct(all, shapeSchema(sh))
			}
		}
	}
	statuses := make([]int, 0, len(byStatus))
	for st := range byStatus {
		statuses = append(statuses, st)
	}
	sort.Ints(statuses)
	for _, st := range statuses {
		g := byStatus[st]
		r := openapi3.NewResponse().WithDescription(fmt.Sprintf("%s: %s", http.StatusText(st), strings.Join(g.codes, ", ")))
		r.Headers = headers(doc, p, g.headers...)
		r.Content = openapi3.Content{g.ct: &openapi3.MediaType{Schema: oneSchema(g.schemas)}}
		op.Responses.Set(strconv.Itoa(st), &openapi3.ResponseRef{Value: r})
	}
	r := openapi3.NewResponse().WithDescription("an upstream's error with a status of its own, in the dialect's envelope")
	r.Headers = headers(doc, p, allHeaders...)
	r.Content = openapi3.Content{ct: &openapi3.MediaType{Schema: oneSchema(all)}}
	op.Responses.Set("default", &openapi3.ResponseRef{Value: r})
}

// Generate renders the dialect's OpenAPI document as YAML.
func Generate(p *mapping.Program, mounts ...Mount) ([]byte, error) {
	js, err := json.Marshal(Document(p, mounts...))
	if err != nil {
		return nil, fmt.Errorf("openapi: %s: %w", p.Name(), err)
	}
	var n yaml.Node
	if err := yaml.Unmarshal(js, &n); err != nil {
		return nil, fmt.Errorf("openapi: %s: %w", p.Name(), err)
	}
	blockStyle(&n)
	var buf bytes.Buffer
	buf.WriteString("# Generated by `userbridge openapi` from the " + p.Name() + " dialect's rules: do not edit.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, fmt.Errorf("openapi: %s: %w", p.Name(), err)
	}
	return buf.Bytes(), enc.Close()
}

// blockStyle writes JSON's flow collections and quoted strings as YAML's
// block style and plain scalars (the encoder quotes where YAML needs it).
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}
