package mapping

import (
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/userbridge/userbridge/mapping/canonical"
)

func (p *Program) compileRequest(pr *problems) {
	rq := &p.file.Request
	p.contentTypes = rq.ContentTypes
	if len(p.contentTypes) == 0 {
		p.contentTypes = []string{"application/json"}
	}
	for i, ct := range rq.ContentTypes {
		if !matchableMediaType(ct) {
			pr.addf(fmt.Sprintf("request.contentTypes[%d]", i), "%q cannot match a request's Content-Type as meant: an entry is a plain media type, type/subtype "+
				"(e.g. application/json), matched exactly: no parameters (a client's charset=utf-8 is accepted with any entry), "+
				"no wildcards (never expanded)", ct)
		}
	}
	for i, h := range rq.Headers {
		c := http.CanonicalHeaderKey(h)
		p.forward = append(p.forward, c)
		where := fmt.Sprintf("request.forwardHeaders[%d]", i)
		switch {
		case h == "":
			pr.addf(where, "empty header name")
		case !httpguts.ValidHeaderFieldName(h):
			pr.addf(where, "%q is not a header name", h)
		case credentialHeader[c]:
			pr.addf(where, "%s carries credentials: it belongs in credentialHeaders, never in forwardHeaders", c)
		case connectionHeader[c]:
			pr.addf(where, "%s is the connection's or the body's own: userbridge's request to the upstream has its own, so it cannot be forwarded", c)
		}
	}
	for i, h := range rq.Credentials {
		c := http.CanonicalHeaderKey(h)
		p.credentials = append(p.credentials, c)
		switch {
		case h == "":
			pr.addf(fmt.Sprintf("request.credentialHeaders[%d]", i), "empty header name")
		case !httpguts.ValidHeaderFieldName(h):
			pr.addf(fmt.Sprintf("request.credentialHeaders[%d]", i), "%q is not a header name", h)
		case connectionHeader[c]:
			pr.addf(fmt.Sprintf("request.credentialHeaders[%d]", i), "%s is the connection's or the body's own, no credential: userbridge's request to the upstream has its own", c)
		case slices.Contains(p.forward, c):
			// Listed as forwarded too, it would reach the upstream in
			// verify mode, where userbridge's own credentials replace it.
			pr.addf(fmt.Sprintf("request.credentialHeaders[%d]", i), "%s is also in forwardHeaders: a credential header belongs in credentialHeaders only", h)
		}
	}
	params := pathParams(p.file.Route.Path)
	p.params = params
	switch src, name, _ := strings.Cut(rq.Target.From, "."); src {
	case "param":
		if !params[name] {
			pr.addf("request.target.from", "route %q has no parameter %q", p.file.Route.Path, name)
		}
		p.targetParam = name
	case "body":
		if name == "" || strings.Contains(name, ".") {
			pr.addf("request.target.from", "%q: body.FIELD names a top-level field", rq.Target.From)
		}
		p.targetBody = name
		p.keys[name] = &keyRules{target: true}
	default:
		pr.addf("request.target.from", "%q: expected param.NAME or body.FIELD", rq.Target.From)
	}
	switch rq.Target.By {
	case "id", "username", "auto":
		p.targetBy = rq.Target.By
	default:
		pr.addf("request.target.by", "%q: expected id, username or auto", rq.Target.By)
	}
	switch rq.Target.Normalize {
	case "":
	case "uuid":
		p.targetUUID = true
	default:
		pr.addf("request.target.normalize", "%q: expected uuid", rq.Target.Normalize)
	}
	if rq.Tenant != "" {
		src, name, _ := strings.Cut(rq.Tenant, ".")
		if src != "param" || !params[name] {
			pr.addf("request.tenant", "%q: expected param.NAME of a route parameter", rq.Tenant)
		}
		p.tenantParam = name
	}
	switch rq.Unknown {
	case "", "keep":
	case "reject":
		p.rejectExtra = true
	default:
		pr.addf("request.unknownFields", "%q: expected keep or reject", rq.Unknown)
	}
	for _, k := range rq.ReadOnly {
		if _, dup := p.keys[k]; dup {
			pr.addf("request.readOnly", "%q is listed twice or also has a rule", k)
		}
		p.keys[k] = &keyRules{readOnly: true}
	}
	for i := range rq.Fields {
		fr := p.compileField(pr, fmt.Sprintf("request.fields[%d]", i), &rq.Fields[i])
		if fr == nil {
			continue
		}
		kr := p.keys[fr.key]
		if kr == nil {
			kr = &keyRules{}
			p.keys[fr.key] = kr
		}
		if kr.readOnly || kr.target {
			pr.addf(fmt.Sprintf("request.fields[%d].source", i), "%q is read-only or names the user", fr.key)
		}
		kr.rules = append(kr.rules, fr)
		if fr.required {
			p.required = append(p.required, fr)
		}
		if fr.hasTo {
			if _, seen := p.sources[fr.to.name]; !seen {
				p.sources[fr.to.name] = fr.source
			}
		}
		for _, as := range fr.enum {
			for _, a := range as {
				if _, seen := p.sources[a.to.name]; !seen {
					p.sources[a.to.name] = fr.source
				}
			}
		}
	}
	p.checkUsernameFields(pr)
	checkSourceTypes(pr, rq.Fields)
}

// checkSourceTypes refuses two field rules that read one member as values
// of two types (labels as an object and as a string), and a rule that
// reads a member as no object when others read into it (profile as a
// string, profile.office): no value is both, so every request sending the
// member would be refused by one rule or another.
func checkSourceTypes(pr *problems, fields []FieldRule) {
	at := func(i int) string { return fmt.Sprintf("request.fields[%d].source", i) }
	first := map[string]int{} // a source → the first rule reading it
	for i := range fields {
		src := fields[i].Source
		j, ok := first[src]
		if !ok {
			first[src] = i
			continue
		}
		if a, b := fields[j].Type, fields[i].Type; !sameJSONType(a, b) {
			pr.addf(at(i), "%q is read as %s here and as %s by request.fields[%d] (line %d): no value is both, so every request that sends it would be refused; give the member one type in both rules, or type any",
				src, aOrAn(b), aOrAn(a), j, LineOf(pr.root, at(j)))
		}
	}
	for i := range fields {
		t := fields[i].Type
		if t == "object" || t == "any" || t == "" || first[fields[i].Source] != i {
			continue
		}
		var inside []string
		for j := range fields {
			if strings.HasPrefix(fields[j].Source, fields[i].Source+".") {
				inside = append(inside, fields[j].Source)
			}
		}
		if len(inside) > 0 {
			pr.addf(at(i), "%q is read as %s, but %s read into it as an object: no value is both, so every request that sends it would be refused; make this rule type object or any, or move the others",
				fields[i].Source, aOrAn(t), strings.Join(inside, ", "))
		}
	}
}

// sameJSONType reports whether a value may be of both rule types: the same
// type, either any (or unset), or integer and number.
func sameJSONType(a, b string) bool {
	num := func(t string) bool { return t == "number" || t == "integer" }
	return a == b || a == "" || b == "" || a == "any" || b == "any" || num(a) && num(b)
}

// checkUsernameFields makes sure a password rule's usernameField names a
// field of the body this file knows: a field rule's source, a readOnly
// field, or the body field that names the user. Any other name is a
// mistake: with unknownFields reject a body holding it is refused, so the
// check would always fall back to the stored username; with keep it is an
// opaque extension member, no username of the dialect's.
func (p *Program) checkUsernameFields(pr *problems) {
	rq := &p.file.Request
	for i := range rq.Fields {
		pw := rq.Fields[i].Validate.Password
		if pw == nil || pw.UsernameField == "" {
			continue
		}
		u := pw.UsernameField
		known := u == p.targetBody || slices.Contains(rq.ReadOnly, u)
		for j := range rq.Fields {
			known = known || rq.Fields[j].Source == u
		}
		if !known {
			pr.addf(fmt.Sprintf("request.fields[%d].validate.password.usernameField", i),
				"%q is no field of this file: it names the source of a field rule, a readOnly field or the target's body field", u)
		}
	}
}

// matchableMediaType reports whether a contentTypes entry can match a
// request's Content-Type as AcceptsContentType compares them: the media
// type a client sends, parameters stripped, equals the entry.
func matchableMediaType(ct string) bool {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || len(params) > 0 || !strings.EqualFold(mt, ct) || strings.Contains(mt, "*") {
		return false
	}
	typ, sub, ok := strings.Cut(mt, "/")
	return ok && typ != "" && sub != ""
}

// connectionHeader are the request headers of the connection and of the
// body's framing: userbridge's request to the upstream has its own.
var connectionHeader = map[string]bool{"Host": true, "Content-Length": true, "Transfer-Encoding": true,
	"Connection": true, "Upgrade": true, "Te": true, "Keep-Alive": true, "Proxy-Connection": true, "Trailer": true}

func pathParams(path string) map[string]bool {
	out := map[string]bool{}
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, ":") || strings.HasPrefix(seg, "*") {
			out[seg[1:]] = true
		}
	}
	return out
}

// credentialHeader are the standard headers that carry credentials: never
// forwardHeaders, which pass in every auth mode.
var credentialHeader = map[string]bool{"Authorization": true, "Proxy-Authorization": true, "Cookie": true}

// resolveSlot turns a canonical name into a slot.
func (p *Program) resolveSlot(name string) (slot, error) {
	if i := canonical.FieldIndex(name); i >= 0 {
		return slot{field: i, name: name}, nil
	}
	if rest, ok := strings.CutPrefix(name, "extensions."); ok {
		d, n, ok := strings.Cut(rest, ".")
		if ok && canonical.ValidDialectName(d) && canonical.ValidMemberName(n) {
			if d != p.file.Dialect {
				return slot{}, fmt.Errorf("%q: a dialect writes only its own extensions, extensions.%s.<name>", name, p.file.Dialect)
			}
			return slot{field: -1, ext: rest, name: name}, nil
		}
		return slot{}, fmt.Errorf("%q: extensions take the form extensions.<dialect>.<name>, the name of letters, digits, '_' or '-'", name)
	}
	for _, ro := range canonical.ReadOnly {
		if ro == name {
			return slot{}, fmt.Errorf("%q is read-only in the canonical contract", name)
		}
	}
	return slot{}, fmt.Errorf("%q is not a canonical field", name)
}
