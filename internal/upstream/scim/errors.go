package scim

import (
	"net/http"
	"slices"

	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/internal/upstream"
	"github.com/userbridge/userbridge/mapping/canonical"
)

const maxDetailLen = 512

// scimTypes maps RFC 7644 §3.12 scimType keywords to canonical codes.
var scimTypes = map[string]canonical.Code{
	"uniqueness":    canonical.Conflict,
	"invalidValue":  canonical.InvalidField,
	"mutability":    canonical.InvalidField,
	"invalidSyntax": canonical.InvalidField,
	"invalidPath":   canonical.InvalidField,
	"invalidFilter": canonical.InvalidField,
	"invalidVers":   canonical.InvalidField,
	"tooMany":       canonical.InvalidField,
	// A PATCH path filter that matched nothing (RFC 7644 §3.12), not a
	// missing user. Patch sends such a PATCH again as GET + PUT; a
	// noTarget still answered refuses the update as it stands.
	"noTarget":  canonical.InvalidField,
	"sensitive": canonical.Forbidden,
}

// mapError maps a SCIM error reply (RFC 7644 §3.12: status, scimType,
// detail) to a canonical error. fields are the canonical fields the update
// names: when it names one, an invalid_field error names it; a uniqueness
// conflict names username when the update sets it (userName is the one
// attribute the core schema makes unique).
func mapError(status int, body []byte, retryAfter string, fields []string, update bool) *canonical.Error {
	doc := gjson.ParseBytes(body)
	scimType, detail := get(doc, "scimType").Str, clip(get(doc, "detail").Str)
	e := &canonical.Error{Message: detail}
	switch {
	case status >= 500:
		return upstream.ServerError(status, retryAfter, update)
	case status == http.StatusTooManyRequests:
		e.Code, e.RetryAfter = canonical.RateLimited, retryAfter
	case status >= 400:
		if c, ok := scimTypes[scimType]; ok && status != http.StatusUnauthorized && status != http.StatusForbidden {
			e.Code = c
		} else if e.Code = canonical.CodeForStatus(status); e.Code == canonical.BadGateway {
			return upstream.UnexpectedStatus(status)
		}
	default:
		return upstream.UnexpectedStatus(status)
	}
	switch {
	case e.Code == canonical.Conflict && scimType == "uniqueness" && slices.Contains(fields, "username"):
		e.Field = "username"
	case e.Code == canonical.InvalidField && len(fields) == 1:
		e.Field = fields[0]
	}
	if e.Message == "" {
		e.Message = genericMessage(e.Code, scimType)
	}
	return e
}

// genericMessage is the text shown when the SCIM error says nothing.
func genericMessage(code canonical.Code, scimType string) string {
	if code == canonical.InvalidField && scimType != "" {
		return "the SCIM upstream rejected the request (" + scimType + ")"
	}
	if m := upstream.GenericMessage(code); m != "" {
		return m
	}
	return "the upstream failed"
}

// clip bounds an upstream text shown to a caller.
func clip(s string) string { return upstream.Clip(s, maxDetailLen) }
