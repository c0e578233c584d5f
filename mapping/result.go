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

// Result is a translated request: who the update is for, and the canonical
// update, which only Update gives, after the check of the stored user that
// some rules need. A Result owns its memory: nothing in it points into the
// request body, which may be reused as soon as Translate returns.
type Result struct {
	// Target says whether Value is an id or a username.
	Target canonical.Target
	// Value is the user's id or username.
	Value string
	// Tenant is the tenant, where the dialect carries one.
	Tenant string

	update []byte
	stored *storedCheck // nil: no rule needs the stored user
}

// storedCheck is a password rule's "must not contain the username" for a
// request that did not carry the username: the stored user's decides.
type storedCheck struct {
	password string // the password the update sets, kept only for the check
	field    string // the rule's source, which a refusal names
}

// StoredUser fetches the stored user, a canonical user JSON object, from
// the upstream; its error is the upstream call's.
type StoredUser func() ([]byte, *canonical.Error)

// FetchesStoredUser reports whether Update will call its fetch: a call to
// the upstream before the update is sent.
func (r *Result) FetchesStoredUser() bool { return r.stored != nil }

// Update returns the canonical update document to forward. Where a rule
// needs the stored user (the password must not contain the username, and
// the request did not carry the username), Update first fetches it with
// fetch and checks the update against it: fetch's error, or the refusal,
// is returned as it is. Otherwise fetch is not called. Only this way can
// the update be had, so that no caller forwards one whose check it
// skipped. The user fetch returns is not kept.
func (r *Result) Update(fetch StoredUser) ([]byte, *canonical.Error) {
	if r.stored != nil {
		user, e := fetch()
		if e != nil {
			return nil, e
		}
		if e := r.stored.check(user); e != nil {
			return nil, e
		}
	}
	return r.update, nil
}

// check refuses a password that contains the stored user's username.
func (c *storedCheck) check(user []byte) *canonical.Error {
	if containsUsername(c.password, gjson.GetBytes(user, "username").Str) {
		return canonical.FieldError(c.field, c.field+" must not contain the username")
	}
	return nil
}

// NeedsStoredUser reports whether Update will fetch the stored user.
func (r *Result) NeedsStoredUser() bool { return r.stored != nil }

// Redacted returns the update with its secrets replaced (see RedactUpdate),
// for printing, logs and the auth policy, which reads which fields an
// update sets: never for forwarding. The slice is the Result's when there
// is nothing to redact: read it, do not change it.
func (r *Result) Redacted() []byte { return RedactUpdate(r.update) }

// Password is the password the update sets, "" when none: what an
// upstream's words passed on to the client must not show.
func (r *Result) Password() string {
	if pw := gjson.GetBytes(r.update, "set.password"); pw.Type == gjson.String {
		return pw.Str
	}
	return ""
}
