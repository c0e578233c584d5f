package mapping

import (
	"net/http"
	"sort"

	"github.com/userbridge/userbridge/mapping/canonical"
)

type headerTmpl struct {
	name  string
	parts []strPart
}

type successTmpl struct {
	status      int
	contentType string
	headers     []headerTmpl
	body        *tmpl
	needsUser   bool
}

type errorTmpls struct {
	contentType string
	status      map[canonical.Code]int
	codes       map[canonical.Code]string
	defCode     string
	messages    map[canonical.Code]string
	headers     []headerTmpl
	body        *tmpl
	byCode      map[canonical.Code]*errorVariant
}

type errorVariant struct {
	headers   []headerTmpl
	body      *tmpl
	withField *tmpl
}

func compileHeaders(pr *problems, where string, hs map[string]string) []headerTmpl {
	names := make([]string, 0, len(hs))
	for k := range hs {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]headerTmpl, 0, len(names))
	for _, k := range names {
		out = append(out, headerTmpl{name: http.CanonicalHeaderKey(k), parts: compileInterp(pr, place{where: where + "." + k}, hs[k])})
	}
	return out
}

func compileSuccess(pr *problems, r *Response) *successTmpl {
	t := &successTmpl{status: r.Status, contentType: r.ContentType, headers: compileHeaders(pr, "response.headers", r.Headers)}
	if r.Status < 200 || r.Status > 299 {
		pr.addf("response.status", "%d is not a success status", r.Status)
	}
	if r.Body.Kind != 0 {
		t.body = compileNode(pr, "response.body", &r.Body)
		if r.Status == http.StatusNoContent {
			pr.addf("response.body", "a 204 answer has no body")
		}
		if t.contentType == "" {
			t.contentType = "application/json"
		}
	}
	t.needsUser = t.body.uses(srcUser)
	for _, h := range t.headers {
		for _, p := range h.parts {
			if p.expr != nil && p.expr.src == srcUser {
				t.needsUser = true
			}
		}
	}
	return t
}

func parseCode(pr *problems, where, s string) (canonical.Code, bool) {
	for _, c := range canonical.Codes {
		if string(c) == s {
			return c, true
		}
	}
	pr.addf(where, "%q is not a canonical error code", s)
	return "", false
}

func compileErrors(pr *problems, e *Errors) *errorTmpls {
	t := &errorTmpls{contentType: e.ContentType, status: map[canonical.Code]int{}, codes: map[canonical.Code]string{},
		messages: map[canonical.Code]string{}, byCode: map[canonical.Code]*errorVariant{},
		headers: compileHeaders(pr, "errors.headers", e.Headers)}
	if t.contentType == "" {
		t.contentType = "application/json"
	}
	for k, v := range e.Status {
		if c, ok := parseCode(pr, "errors.status."+k, k); ok {
			if v < 400 || v > 599 {
				pr.addf("errors.status."+k, "%d is not an error status", v)
			}
			t.status[c] = v
		}
	}
	for k, v := range e.Codes {
		if k == "default" {
			t.defCode = v
			continue
		}
		if c, ok := parseCode(pr, "errors.codes."+k, k); ok {
			t.codes[c] = v
		}
	}
	for k, v := range e.Messages {
		if c, ok := parseCode(pr, "errors.messages."+k, k); ok {
			t.messages[c] = v
		}
	}
	if e.Body.Kind == 0 {
		pr.addf("errors.body", "missing: every dialect renders its errors")
	} else {
		t.body = compileNode(pr, "errors.body", &e.Body)
	}
	for k, v := range e.ByCode {
		c, ok := parseCode(pr, "errors.byCode."+k, k)
		if !ok {
			continue
		}
		ev := &errorVariant{headers: compileHeaders(pr, "errors.byCode."+k+".headers", v.Headers)}
		if v.Body.Kind != 0 {
			ev.body = compileNode(pr, "errors.byCode."+k+".body", &v.Body)
		}
		if v.WithField.Kind != 0 {
			ev.withField = compileNode(pr, "errors.byCode."+k+".withField", &v.WithField)
		}
		t.byCode[c] = ev
	}
	for _, tp := range []*tmpl{t.body} {
		if tp.uses(srcUser) {
			pr.addf("errors.body", "an error has no user to read")
		}
	}
	return t
}
