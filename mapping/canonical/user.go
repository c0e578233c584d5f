package canonical

import (
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// ValidateUser reports whether user is a canonical user as an upstream
// returns it: a JSON object of writable fields with their kinds and of
// read-only fields (strings or null; createdAt, updatedAt and lastLoginAt in
// RFC 3339), no duplicate keys, no unknown fields and never a password.
func ValidateUser(user []byte) error {
	if err, _ := validateUser(user); err != nil {
		return err
	}
	return nil
}

// validateUser is ValidateUser, with the fault the refusal is.
func validateUser(user []byte) (*Error, AnswerFault) {
	if err := checkSyntax(user); err != nil {
		return err, FaultMalformed
	}
	root := gjson.ParseBytes(user)
	if !root.IsObject() {
		return Errorf(BadRequest, "a user must be a JSON object"), FaultMalformed
	}
	var seen fieldSet
	var keys keySeen
	var err *Error
	var fault AnswerFault
	root.ForEach(func(k, v gjson.Result) bool {
		name := k.Str
		switch {
		case !keys.add(name):
			err, fault = FieldError(name, "appears twice"), FaultMalformed
		case name == "password":
			err, fault = FieldError(name, "is write-only: never stored with the user nor returned"), FaultPassword
		case name == "extensions":
			err, fault = seen.validateExtensions(v), FaultWrongType
		case isReadOnly(name):
			err, fault = checkReadOnly(name, v)
		case FieldIndex(name) >= 0:
			err, fault = checkKind(name, Fields[FieldIndex(name)].Kind, v), FaultWrongType
		default:
			err, fault = FieldError(name, "is not a canonical field"), FaultUnknownField
		}
		return err == nil
	})
	if err != nil {
		return err, fault
	}
	return nil, ""
}

// checkReadOnly accepts a string or null; timestamps must be RFC 3339.
func checkReadOnly(name string, v gjson.Result) (*Error, AnswerFault) {
	switch {
	case v.Type == gjson.Null:
		return nil, ""
	case v.Type != gjson.String:
		return FieldError(name, "must be a string"), FaultWrongType
	case isTimestamp(name):
		if _, err := time.Parse(time.RFC3339Nano, v.Str); err != nil {
			return FieldError(name, "must be an RFC 3339 timestamp"), FaultTimestamp
		}
	}
	return nil, ""
}

func isTimestamp(name string) bool {
	return name == "createdAt" || name == "updatedAt" || name == "lastLoginAt"
}

// Addressed is the user an upstream call named: the user its answer must
// be.
type Addressed struct {
	// Target says whether Value is the user's id or username.
	Target Target
	// Value is the id, or the username, the answer must carry. After an
	// update addressed by username that renames the user, it is the new
	// username.
	Value string
	// Tenant is the tenant the call named ("" for none). An answer whose
	// tenant is set must carry this one; an answer without a tenant is a
	// user of every tenant (docs/canonical.md).
	Tenant string
}

// AnswerFault is why an upstream's answer is not the user a call
// addressed: a fixed word, for logs and metric labels, never anything the
// upstream sent.
type AnswerFault string

// The faults CheckAnswer reports.
const (
	// FaultOtherUser: the answer is another user's record (its id,
	// username or tenant is not the one addressed).
	FaultOtherUser AnswerFault = "other_user"
	// FaultUnidentified: the answer lacks the id or username the call
	// addressed the user by, so it cannot be told to be that user.
	FaultUnidentified AnswerFault = "unidentified"
	// FaultWrongType: a field holds a value of another type than the
	// contract's (active as a string, attributes as an array).
	FaultWrongType AnswerFault = "wrong_type"
	// FaultTimestamp: createdAt, updatedAt or lastLoginAt is not an RFC
	// 3339 timestamp.
	FaultTimestamp AnswerFault = "bad_timestamp"
	// FaultUnknownField: a member the contract does not have.
	FaultUnknownField AnswerFault = "unknown_field"
	// FaultPassword: the answer holds a password, which is write-only.
	FaultPassword AnswerFault = "password"
	// FaultMalformed: not one JSON object of unique keys, valid UTF-8,
	// nested at most MaxDepth deep.
	FaultMalformed AnswerFault = "malformed"
)

// AnswerFaults lists every AnswerFault.
var AnswerFaults = [...]AnswerFault{FaultOtherUser, FaultUnidentified, FaultWrongType, FaultTimestamp,
	FaultUnknownField, FaultPassword, FaultMalformed}

// AnswerError is an upstream answer CheckAnswer refuses.
type AnswerError struct {
	Fault AnswerFault
	// Field is the contract's name of the field at fault: a canonical or
	// read-only field, or "extensions"; "" when the fault is the whole
	// answer's or the member is not the contract's (its name is the
	// upstream's, never repeated).
	Field string
	// kind is the type the field must have, for the message.
	kind string
}

// Error implements error.
func (e *AnswerError) Error() string { return "canonical: upstream answer: " + e.Message() }

// Message is the refusal in words safe to show a caller: it names the
// field and what it must be, never a value the upstream sent.
func (e *AnswerError) Message() string {
	switch e.Fault {
	case FaultOtherUser:
		return "the upstream answered for another user"
	case FaultUnidentified:
		return "the upstream's answer does not say which user it is"
	case FaultWrongType, FaultTimestamp:
		if e.Field != "" {
			return `the upstream's answer is not a valid user: "` + e.Field + `" must be ` + e.kind
		}
	case FaultUnknownField:
		return "the upstream's answer is not a valid user: it holds a field the contract does not have"
	case FaultPassword:
		return "the upstream's answer is not a valid user: it holds a password"
	}
	return "the upstream's answer is not a valid user"
}

// CheckAnswer reports whether user, an upstream's answer to a call
// addressed to want, is a valid canonical user (ValidateUser) and the one
// addressed: by id, its id is want.Value, exactly; by username, its
// username is want.Value, compared without regard to case (as SCIM's
// userName is, and as the rules profile looks users up); where want names a
// tenant, a tenant the answer carries is that one. It returns nil or the
// refusal.
//
// A valid user, the common case, takes one walk (answerScan.walk) that
// allocates nothing; what the walk doubts goes through checkAnswer, which
// names the fault.
func CheckAnswer(user []byte, want Addressed) *AnswerError {
	var s answerScan
	if !s.walk(user) {
		return checkAnswer(user, want)
	}
	return s.addressed(want)
}

// checkAnswer is CheckAnswer without the fast path: ValidateUser's checks
// with gjson, then the answer's id or username, and its tenant.
func checkAnswer(user []byte, want Addressed) *AnswerError {
	if err, fault := validateUser(user); err != nil {
		return answerError(err, fault)
	}
	key := "id"
	if want.Target == ByUsername {
		key = "username"
	}
	got := gjson.GetBytes(user, key)
	switch {
	case got.Type != gjson.String || got.Str == "":
		return &AnswerError{Fault: FaultUnidentified}
	case want.Target == ByUsername && !strings.EqualFold(got.Str, want.Value),
		want.Target != ByUsername && got.Str != want.Value:
		return &AnswerError{Fault: FaultOtherUser}
	}
	if want.Tenant != "" {
		if t := gjson.GetBytes(user, "tenant"); t.Type == gjson.String && t.Str != "" && t.Str != want.Tenant {
			return &AnswerError{Fault: FaultOtherUser}
		}
	}
	return nil
}

// answerError names the field of a ValidateUser refusal when it is the
// contract's own name.
func answerError(err *Error, fault AnswerFault) *AnswerError {
	e := &AnswerError{Fault: fault}
	f := err.Field
	switch {
	case f == "extensions" || strings.HasPrefix(f, "extensions."):
		e.Field, e.kind = "extensions", "an object of {dialect: {name: value}}"
	case isTimestamp(f):
		e.Field, e.kind = f, "an RFC 3339 timestamp or null"
	case isReadOnly(f):
		e.Field, e.kind = f, "a string or null"
	case f == "roles":
		e.Field, e.kind = f, "an array of {id, name, description}"
	case FieldIndex(f) >= 0:
		e.Field, e.kind = f, "a "+Fields[FieldIndex(f)].Kind.String()
		if Fields[FieldIndex(f)].Kind == KindObject {
			e.kind = "an object"
		}
	}
	if e.Field != "" && fault == FaultMalformed {
		e.Field = "" // a duplicate key: the message names no field
	}
	return e
}
