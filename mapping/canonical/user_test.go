package canonical

import (
	"errors"
	"testing"
)

func TestValidateUser(t *testing.T) {
	for _, user := range []string{
		`{}`,
		testUser,
		`{"id":"u1","tenant":"t","createdBy":"admin","lastLoginAt":null,"createdAt":"2024-01-15T09:30:00Z",` +
			`"updatedAt":"2024-01-15T09:30:00.123+02:00","address":{"a":[1]},"locked":false,"roles":[]}`,
	} {
		if err := ValidateUser([]byte(user)); err != nil {
			t.Errorf("ValidateUser(%s) = %v", user, err)
		}
	}
	for _, tc := range []struct {
		user  string
		code  Code
		field string
	}{
		{`[]`, BadRequest, ""},
		{`{"id":`, BadRequest, ""},
		{`{"password":"p"}`, InvalidField, "password"},
		{`{"nickname":"n"}`, InvalidField, "nickname"},
		{`{"id":1}`, InvalidField, "id"},
		{`{"id":"a","id":"b"}`, InvalidField, "id"},
		{`{"createdAt":"yesterday"}`, InvalidField, "createdAt"},
		{`{"lastLoginAt":"2024-01-15"}`, InvalidField, "lastLoginAt"},
		{`{"active":"yes"}`, InvalidField, "active"},
		{`{"roles":[{"name":1}]}`, InvalidField, "roles"},
		{`{"extensions":{"shift":{"a":null}}}`, InvalidField, "extensions.shift.a"},
		{`{"extensions":{"shift":{"a":1}},"extensions":{}}`, InvalidField, "extensions"},
	} {
		err := ValidateUser([]byte(tc.user))
		var e *Error
		if !errors.As(err, &e) || e.Code != tc.code || e.Field != tc.field {
			t.Errorf("ValidateUser(%s) = %v, want %s %q", tc.user, err, tc.code, tc.field)
		}
	}
}
