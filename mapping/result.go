package mapping

import (
	"github.com/tidwall/gjson"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// Params gives path parameters by name; gin.Params satisfies it.
type Params interface {
	ByName(name string) string
}

// NoParams is an empty Params.
type NoParams struct{}

// ByName implements Params.
func (NoParams) ByName(string) string { return "" }

// Input is one inbound request as the engine sees it.
type Input struct {
	Body   []byte
	Params Params
	// URL is the absolute request URL without the query (for links).
	URL string
	// Path is the request path.
	Path string
	// RequestID is the request id userbridge answers with.
	RequestID string
}

// Result is a translated request: the canonical update and who it is for.
type Result struct {
	// Update is the canonical update document.
	Update []byte
	// Target says whether Value is an id or a username.
	Target canonical.Target
	// Value is the user's id or username.
	Value string
	// Tenant is the tenant, where the dialect carries one.
	Tenant string

	needStored bool   // the password rule needs the stored username
	password   string // kept only for that check
	pwField    string
}

// NeedsStoredUser reports whether CheckStored must be called with the
// stored user before the update is forwarded.
func (r *Result) NeedsStoredUser() bool { return r.needStored }

// Redacted returns the update with the password value replaced, for
// printing and logs.
func (r *Result) Redacted() []byte { return RedactUpdate(r.Update) }

// CheckStored runs the checks that need the stored user (a canonical user
// JSON object), such as "the password must not contain the username".
func (p *Program) CheckStored(r *Result, user []byte) *canonical.Error {
	if !r.needStored {
		return nil
	}
	name := gjson.GetBytes(user, "username").Str
	if containsUsername(r.password, name) {
		return canonical.FieldError(r.pwField, r.pwField+" must not contain the username")
	}
	return nil
}
