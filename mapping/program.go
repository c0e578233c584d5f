package mapping

import (
	"mime"
	"strings"
)

// Name is the dialect's name.
func (p *Program) Name() string { return p.name }

// Description is the rule file's one-line description.
func (p *Program) Description() string { return p.file.Description }

// Route is the dialect's documented method and path.
func (p *Program) Route() Route { return p.file.Route }

// ForwardHeaders lists the request headers passed upstream unchanged in
// every auth mode, in canonical form.
func (p *Program) ForwardHeaders() []string { return p.forward }

// CredentialHeaders lists the request headers that carry the dialect's
// clients' credentials, in canonical form: forwarded unchanged with auth
// mode passthrough, removed with verify.
func (p *Program) CredentialHeaders() []string { return p.credentials }

// UpstreamHeaders lists the upstream reply headers passed back to the
// client unchanged when the upstream sent them, in canonical form.
func (p *Program) UpstreamHeaders() []string { return p.upstreamHeaders }

// HasTenant reports whether the dialect's requests carry a tenant
// (request.tenant), which the upstream's path templates may then use.
func (p *Program) HasTenant() bool { return p.tenantParam != "" }

// TenantParam is the route parameter that carries the tenant, "" when
// there is none.
func (p *Program) TenantParam() string { return p.tenantParam }

// Targets reports which ways the dialect names a user: by id, by
// username, or both (by: auto).
func (p *Program) Targets() (byID, byUsername bool) {
	return p.targetBy != "username", p.targetBy != "id"
}

// ContentTypes lists the accepted request media types.
func (p *Program) ContentTypes() []string { return p.contentTypes }

// AcceptsContentType reports whether a Content-Type header value names an
// accepted media type (parameters such as charset are allowed; a charset
// other than UTF-8 is not).
func (p *Program) AcceptsContentType(v string) bool {
	for _, ct := range p.contentTypes {
		if v == ct && strings.IndexByte(ct, ';') < 0 { // the usual case, without parsing
			return true
		}
	}
	mt, params, err := mime.ParseMediaType(v)
	if err != nil {
		return false
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return false
	}
	for _, ct := range p.contentTypes {
		if strings.EqualFold(ct, mt) {
			return true
		}
	}
	return false
}

// SuccessStatus is the dialect's success status.
func (p *Program) SuccessStatus() int { return p.success.status }

// Config returns the value of a config constant.
func (p *Program) Config(name string) (string, bool) {
	v, ok := p.config[name]
	return v, ok
}

// FieldSources lists the source of every request field rule, as written
// (a dotted one names a member: profile.city), in the file's order.
func (p *Program) FieldSources() []string {
	out := make([]string, len(p.file.Request.Fields))
	for i, r := range p.file.Request.Fields {
		out[i] = r.Source
	}
	return out
}

// ReadOnly lists the request's read-only top-level fields.
func (p *Program) ReadOnly() []string { return p.file.Request.ReadOnly }

// TargetField is the body field that names the user (target.from
// body.FIELD), "" when a route parameter does.
func (p *Program) TargetField() string { return p.targetBody }
