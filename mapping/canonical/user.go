package canonical

import (
	"time"

	"github.com/tidwall/gjson"
)

// ValidateUser reports whether user is a canonical user as an upstream
// returns it: a JSON object of writable fields with their kinds and of
// read-only fields (strings or null; createdAt, updatedAt and lastLoginAt in
// RFC 3339), no duplicate keys, no unknown fields and never a password.
func ValidateUser(user []byte) error {
	if err := checkSyntax(user); err != nil {
		return err
	}
	root := gjson.ParseBytes(user)
	if !root.IsObject() {
		return Errorf(BadRequest, "a user must be a JSON object")
	}
	var seen fieldSet
	var keys keySeen
	var err *Error
	root.ForEach(func(k, v gjson.Result) bool {
		name := k.Str
		switch {
		case !keys.add(name):
			err = FieldError(name, "appears twice")
		case name == "password":
			err = FieldError(name, "is write-only: never stored with the user nor returned")
		case name == "extensions":
			err = seen.validateExtensions(v)
		case isReadOnly(name):
			err = checkReadOnly(name, v)
		case FieldIndex(name) >= 0:
			err = checkKind(name, Fields[FieldIndex(name)].Kind, v)
		default:
			err = FieldError(name, "is not a canonical field")
		}
		return err == nil
	})
	if err != nil {
		return err
	}
	return nil
}

// checkReadOnly accepts a string or null; timestamps must be RFC 3339.
func checkReadOnly(name string, v gjson.Result) *Error {
	switch {
	case v.Type == gjson.Null:
		return nil
	case v.Type != gjson.String:
		return FieldError(name, "must be a string")
	case name == "createdAt" || name == "updatedAt" || name == "lastLoginAt":
		if _, err := time.Parse(time.RFC3339Nano, v.Str); err != nil {
			return FieldError(name, "must be an RFC 3339 timestamp")
		}
	}
	return nil
}
