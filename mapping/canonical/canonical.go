// Package canonical is the canonical update contract in Go
// (docs/canonical.md): the user fields, the update document and the error
// codes every dialect and every upstream profile agree on.
package canonical

import "net/http"

// Kind is the JSON type of a canonical field.
type Kind uint8

// The JSON kinds a canonical field may hold.
const (
	KindString Kind = iota + 1
	KindBool
	KindObject
	KindRoles // array of {id?, name?, description?}
)

// String names the kind as the docs do.
func (k Kind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindBool:
		return "boolean"
	case KindObject:
		return "object"
	case KindRoles:
		return "array"
	}
	return "unknown"
}

// Field describes one writable canonical field.
type Field struct {
	Name string
	Kind Kind
}

// Fields lists the writable canonical fields in the order userbridge writes
// them. Index positions are stable and used as bit positions by the mapping
// engine. `extensions` is not listed: each extensions.<dialect>.<name> is a
// field of its own.
var Fields = [...]Field{
	{"username", KindString},
	{"password", KindString},
	{"email", KindString},
	{"givenName", KindString},
	{"familyName", KindString},
	{"displayName", KindString},
	{"phone", KindString},
	{"mobile", KindString},
	{"organization", KindString},
	{"address", KindObject},
	{"active", KindBool},
	{"locked", KindBool},
	{"deleted", KindBool},
	{"roles", KindRoles},
	{"attributes", KindObject},
}

// ReadOnly lists the fields only the upstream returns.
var ReadOnly = [...]string{"id", "tenant", "createdAt", "updatedAt", "createdBy", "lastLoginAt"}

// FieldIndex returns the index of a writable field in Fields, or -1.
func FieldIndex(name string) int {
	for i := range Fields {
		if Fields[i].Name == name {
			return i
		}
	}
	return -1
}

// Target says how an update addresses its user.
type Target uint8

// The ways a dialect names a user.
const (
	ByID Target = iota + 1
	ByUsername
)

// String is the placeholder name the upstream path templates use.
func (t Target) String() string {
	if t == ByUsername {
		return "username"
	}
	return "id"
}

// Code is a canonical error code. The first eight are the contract's; the
// rest are userbridge's own outcomes, which every dialect renders too.
type Code string

// Canonical error codes.
const (
	InvalidField Code = "invalid_field"
	Unauthorized Code = "unauthorized"
	Forbidden    Code = "forbidden"
	NotFound     Code = "not_found"
	Conflict     Code = "conflict"
	RateLimited  Code = "rate_limited"
	Unavailable  Code = "unavailable"
	Internal     Code = "internal"

	// userbridge's own outcomes.
	BadRequest           Code = "bad_request"            // the body is not a JSON object
	PayloadTooLarge      Code = "payload_too_large"      // body over the limit
	UnsupportedMediaType Code = "unsupported_media_type" // not a JSON content type
	MethodNotAllowed     Code = "method_not_allowed"     // a method the dialect's route does not serve
	BadGateway           Code = "bad_gateway"            // upstream unreachable or unreadable
	GatewayTimeout       Code = "gateway_timeout"        // upstream too slow
)

// Codes lists every code, for rule-file validation.
var Codes = [...]Code{InvalidField, Unauthorized, Forbidden, NotFound, Conflict, RateLimited,
	Unavailable, Internal, BadRequest, PayloadTooLarge, UnsupportedMediaType, MethodNotAllowed, BadGateway, GatewayTimeout}

// Status is the HTTP status a code has in the canonical contract; dialects
// may render it with another.
func (c Code) Status() int {
	switch c {
	case InvalidField, BadRequest:
		return http.StatusBadRequest
	case Unauthorized:
		return http.StatusUnauthorized
	case Forbidden:
		return http.StatusForbidden
	case NotFound:
		return http.StatusNotFound
	case Conflict:
		return http.StatusConflict
	case PayloadTooLarge:
		return http.StatusRequestEntityTooLarge
	case UnsupportedMediaType:
		return http.StatusUnsupportedMediaType
	case MethodNotAllowed:
		return http.StatusMethodNotAllowed
	case RateLimited:
		return http.StatusTooManyRequests
	case Unavailable:
		return http.StatusServiceUnavailable
	case BadGateway:
		return http.StatusBadGateway
	case GatewayTimeout:
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// CodeForStatus maps an upstream status to the canonical code: 400, 413
// and 422 are invalid_field (the upstream refused what the update holds),
// 412 conflict (the stored user changed), 410 not_found. Any other 4xx is
// bad_gateway: the upstream refused the request for a reason userbridge
// cannot name, which is neither the client's error nor userbridge's own
// (internal). Other statuses (5xx) are internal.
func CodeForStatus(status int) Code {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge:
		return InvalidField
	case http.StatusPreconditionFailed:
		return Conflict
	case http.StatusGone:
		return NotFound
	case http.StatusUnauthorized:
		return Unauthorized
	case http.StatusForbidden:
		return Forbidden
	case http.StatusNotFound:
		return NotFound
	case http.StatusConflict:
		return Conflict
	case http.StatusTooManyRequests:
		return RateLimited
	case http.StatusServiceUnavailable:
		return Unavailable
	}
	if status >= 400 && status < 500 {
		return BadGateway
	}
	return Internal
}

// Error is a canonical error: what went wrong, in terms every dialect can
// render. It is the typed error that carries the HTTP outcome.
type Error struct {
	Code    Code
	Status  int    // HTTP status; 0 means Code.Status()
	Message string // human-readable, safe to show the caller
	Field   string // the offending field in the caller's terms, if any
	// RetryAfter is the upstream's Retry-After value, passed on verbatim.
	RetryAfter string
	// Applied marks the failure of an update the upstream did apply, whose
	// answer could not be used: the front end adds to Message how to get
	// the answer (repeat the update with its Idempotency-Key), naming the
	// key when userbridge chose it. Message itself never says so.
	Applied bool
}

// Error implements error.
func (e *Error) Error() string {
	if e.Field != "" {
		return string(e.Code) + ": " + e.Field + ": " + e.Message
	}
	return string(e.Code) + ": " + e.Message
}

// HTTPStatus is the status the error carries.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	return e.Code.Status()
}

// Errorf builds an Error without a field.
func Errorf(code Code, msg string) *Error { return &Error{Code: code, Message: msg} }

// FieldError builds an invalid_field Error naming the field.
func FieldError(field, msg string) *Error {
	return &Error{Code: InvalidField, Field: field, Message: msg}
}
