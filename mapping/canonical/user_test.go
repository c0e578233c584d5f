package canonical

import (
	"errors"
	"strings"
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

func TestCheckAnswer(t *testing.T) {
	const jane = `{"id":"u1","username":"jane.doe","tenant":"acme","active":true,"attributes":{"a":"b"},` +
		`"createdAt":"2024-01-15T09:30:00.000Z","updatedAt":null}`
	byID := Addressed{Target: ByID, Value: "u1"}
	byName := Addressed{Target: ByUsername, Value: "Jane.Doe", Tenant: "acme"}
	for _, want := range []Addressed{byID, byName, {Target: ByUsername, Value: "jane.doe"}} {
		if e := CheckAnswer([]byte(jane), want); e != nil {
			t.Errorf("CheckAnswer(jane, %+v) = %v", want, e)
		}
	}
	if e := CheckAnswer([]byte(`{"id":"u1","username":"jane.doe"}`), Addressed{Target: ByUsername, Value: "jane", Tenant: "t"}); e == nil ||
		e.Fault != FaultOtherUser {
		t.Errorf("a renamed answer to the old username: %v, want other_user", e)
	}
	for _, tc := range []struct {
		user  string
		want  Addressed
		fault AnswerFault
		field string
		msg   string
	}{
		{`{"id":"u2","username":"jane.doe"}`, byID, FaultOtherUser, "", "the upstream answered for another user"},
		{`{"id":"U1","username":"jane.doe"}`, byID, FaultOtherUser, "", ""},
		{`{"id":"u1","username":"john"}`, byName, FaultOtherUser, "", ""},
		{`{"id":"u1","username":"jane.doe","tenant":"globex"}`, byName, FaultOtherUser, "", ""},
		{`{"username":"jane.doe"}`, byID, FaultUnidentified, "", ""},
		{`{"id":null,"username":"jane.doe"}`, byID, FaultUnidentified, "", ""},
		{`{"id":"u1"}`, byName, FaultUnidentified, "", ""},
		{`{"id":1,"username":"jane.doe"}`, byID, FaultWrongType, "id", `"id" must be a string or null`},
		{`{"id":"u1","active":"true"}`, byID, FaultWrongType, "active", `"active" must be a boolean`},
		{`{"id":"u1","attributes":["a"]}`, byID, FaultWrongType, "attributes", `"attributes" must be an object`},
		{`{"id":"u1","email":1}`, byID, FaultWrongType, "email", `"email" must be a string`},
		{`{"id":"u1","roles":{}}`, byID, FaultWrongType, "roles", `"roles" must be an array`},
		{`{"id":"u1","extensions":{"Bad":{}}}`, byID, FaultWrongType, "extensions", `"extensions" must be an object`},
		{`{"id":"u1","createdAt":"yesterday"}`, byID, FaultTimestamp, "createdAt", `"createdAt" must be an RFC 3339 timestamp`},
		{`{"id":"u1","updatedAt":1705311000}`, byID, FaultWrongType, "updatedAt", `"updatedAt" must be an RFC 3339 timestamp`},
		{`{"id":"u1","secret_sauce":"x"}`, byID, FaultUnknownField, "", "a field the contract does not have"},
		{`{"id":"u1","password":"hunter2"}`, byID, FaultPassword, "password", "holds a password"},
		{`{"id":"u1","id":"u1"}`, byID, FaultMalformed, "", "not a valid user"},
		{`[{"id":"u1"}]`, byID, FaultMalformed, "", ""},
	} {
		e := CheckAnswer([]byte(tc.user), tc.want)
		if e == nil || e.Fault != tc.fault || e.Field != tc.field {
			t.Errorf("CheckAnswer(%s) = %+v, want %s %q", tc.user, e, tc.fault, tc.field)
			continue
		}
		if !strings.Contains(e.Message(), tc.msg) {
			t.Errorf("CheckAnswer(%s): message %q does not say %q", tc.user, e.Message(), tc.msg)
		}
		for _, v := range []string{"u2", "john", "globex", "yesterday", "secret_sauce", "hunter2", "Bad"} {
			if strings.Contains(e.Message(), v) {
				t.Errorf("CheckAnswer(%s): message %q repeats the upstream's %q", tc.user, e.Message(), v)
			}
		}
	}
}
