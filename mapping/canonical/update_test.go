package canonical

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestValidateUpdateAccepts(t *testing.T) {
	for _, doc := range []string{
		`{}`,
		` { "set" : { } , "unset" : [ ] } `,
		`{"set":{}}`,
		`{"unset":[]}`,
		// The contract's example.
		`{"set":{"givenName":"Jane","active":false,"attributes":{"dept":"sales"},
		  "extensions":{"shift":{"sso":true}}},
		  "unset":["familyName","extensions.shift.ssoId"]}`,
		`{"set":{"username":"u","password":"p","email":"e","givenName":"g","familyName":"f",
		  "displayName":"d","phone":"1","mobile":"2","organization":"o","address":{"city":"X"},
		  "active":true,"locked":false,"deleted":false,"roles":[],"attributes":{}}}`,
		`{"set":{"roles":[{"id":"1"},{"name":"ROLE_A","description":"d"},{"id":"2","name":"B"}]}}`,
		`{"set":{"roles":[{"name":"ROLE_A","description":""}]}}`,
		`{"set":{"attributes":{"a":{"b":[1,{"c":null}]},"d":"e"}}}`,
		`{"set":{"extensions":{}}}`,
		`{"set":{"extensions":{"shift":{}}}}`,
		`{"set":{"extensions":{"shift":{"a":1,"b":[1,2],"c":{"d":"e"},"Sso_Id-2":"x"},"trusted-twin":{"x":false}}}}`,
		`{"set":{"extensions":{"shift":{"a":1}}},"unset":["extensions.shift.b","extensions.finix.a"]}`,
		`{"unset":["username","password","email","address","roles","attributes","active"]}`,
		`{"unset":["extensions.shift.ssoId"],"set":{"givenName":"x"}}`,
		// Escaped keys are compared unescaped.
		`{"set":{"giv\u0065nName":"x"}}`,
		`{"set":{"attributes":{"a":1,"b":1}}}`,
		`{"set":{"displayName":"Zoë 👋"}}`,
	} {
		if err := ValidateUpdate([]byte(doc)); err != nil {
			t.Errorf("ValidateUpdate(%s) = %v, want nil", doc, err)
		}
	}
}

func TestValidateUpdateRefuses(t *testing.T) {
	deep := `{"set":{"attributes":` + strings.Repeat(`{"a":`, 31) + `1` + strings.Repeat(`}`, 31) + `}}`
	for _, tc := range []struct {
		doc   string
		code  Code
		field string
	}{
		// Not an update document at all.
		{``, BadRequest, ""},
		{`   `, BadRequest, ""},
		{`null`, BadRequest, ""},
		{`[]`, BadRequest, ""},
		{`"set"`, BadRequest, ""},
		{`{"set":`, BadRequest, ""},
		{`{"set":{}} {}`, BadRequest, ""},
		{`{"set":{},}`, BadRequest, ""},
		{`{'set':{}}`, BadRequest, ""},
		{"{\"set\":{\"givenName\":\"\xff\"}}", BadRequest, ""},
		{deep, BadRequest, ""},
		{`{"set":1}`, BadRequest, ""},
		{`{"set":null}`, BadRequest, ""},
		{`{"set":[]}`, BadRequest, ""},
		{`{"unset":{}}`, BadRequest, ""},
		{`{"unset":"email"}`, BadRequest, ""},
		{`{"unset":[1]}`, BadRequest, ""},
		{`{"unset":[null]}`, BadRequest, ""},
		{`{"set":{},"set":{}}`, BadRequest, ""},
		{`{"unset":[],"unset":[]}`, BadRequest, ""},
		{`{"set":{},"patch":{}}`, BadRequest, ""},
		{`{"Set":{}}`, BadRequest, ""},

		// set: names.
		{`{"set":{"nickname":"x"}}`, InvalidField, "nickname"},
		{`{"set":{"GivenName":"x"}}`, InvalidField, "GivenName"},
		{`{"set":{"id":"x"}}`, InvalidField, "id"},
		{`{"set":{"tenant":"t"}}`, InvalidField, "tenant"},
		{`{"set":{"updatedAt":"2024-01-15T09:30:00.000Z"}}`, InvalidField, "updatedAt"},
		{`{"set":{"lastLoginAt":null}}`, InvalidField, "lastLoginAt"},
		{`{"set":{"email":"a","email":"b"}}`, InvalidField, "email"},
		{`{"set":{"email":"a","\u0065mail":"b"}}`, InvalidField, "email"},
		{`{"set":{"extensions.shift.sso":true}}`, InvalidField, "extensions.shift.sso"},

		// set: kinds.
		{`{"set":{"email":1}}`, InvalidField, "email"},
		{`{"set":{"email":null}}`, InvalidField, "email"},
		{`{"set":{"password":["x"]}}`, InvalidField, "password"},
		{`{"set":{"active":"true"}}`, InvalidField, "active"},
		{`{"set":{"locked":1}}`, InvalidField, "locked"},
		{`{"set":{"deleted":null}}`, InvalidField, "deleted"},
		{`{"set":{"address":"Main St 1"}}`, InvalidField, "address"},
		{`{"set":{"address":[]}}`, InvalidField, "address"},
		{`{"set":{"attributes":null}}`, InvalidField, "attributes"},
		{`{"set":{"attributes":{"a":1,"a":2}}}`, InvalidField, "attributes"},
		{`{"set":{"address":{"x":[{"y":1,"y":1}]}}}`, InvalidField, "address"},
		{`{"set":{"roles":{"name":"A"}}}`, InvalidField, "roles"},
		{`{"set":{"roles":["ROLE_A"]}}`, InvalidField, "roles"},
		{`{"set":{"roles":[{"name":"A"},null]}}`, InvalidField, "roles"},
		{`{"set":{"roles":[{"name":"A","scope":"x"}]}}`, InvalidField, "roles"},
		{`{"set":{"roles":[{"id":7}]}}`, InvalidField, "roles"},
		{`{"set":{"roles":[{"name":"A","name":"B"}]}}`, InvalidField, "roles"},
		{`{"set":{"roles":[{}]}}`, InvalidField, "roles"},
		{`{"set":{"roles":[{"description":"only"}]}}`, InvalidField, "roles"},
		{`{"set":{"roles":[{"name":""}]}}`, InvalidField, "roles"},
		{`{"set":{"roles":[{"id":""}]}}`, InvalidField, "roles"},
		{`{"set":{"roles":[{"id":"","name":"A"}]}}`, InvalidField, "roles"},
		{`{"set":{"roles":[{"name":"A"},{"name":"","description":"d"}]}}`, InvalidField, "roles"},

		// set: extensions.
		{`{"set":{"extensions":[]}}`, InvalidField, "extensions"},
		{`{"set":{"extensions":{"shift":true}}}`, InvalidField, "extensions.shift"},
		{`{"set":{"extensions":{"Shift":{"a":1}}}}`, InvalidField, "extensions.Shift"},
		{`{"set":{"extensions":{"":{"a":1}}}}`, InvalidField, "extensions."},
		{`{"set":{"extensions":{"1shift":{"a":1}}}}`, InvalidField, "extensions.1shift"},
		{`{"set":{"extensions":{"sh.ift":{"a":1}}}}`, InvalidField, "extensions.sh.ift"},
		{`{"set":{"extensions":{"shift":{"sso.id":1}}}}`, InvalidField, "extensions.shift.sso.id"},
		{`{"set":{"extensions":{"shift":{"":1}}}}`, InvalidField, "extensions.shift."},
		{`{"set":{"extensions":{"shift":{"a*":1}}}}`, InvalidField, "extensions.shift.a*"},
		{`{"set":{"extensions":{"shift":{"a":null}}}}`, InvalidField, "extensions.shift.a"},
		{`{"set":{"extensions":{"shift":{"a":1},"shift":{"b":1}}}}`, InvalidField, "extensions.shift"},
		{`{"set":{"extensions":{"shift":{"a":1,"a":2}}}}`, InvalidField, "extensions.shift.a"},
		{`{"set":{"extensions":{"shift":{"a":{"b":1,"b":2}}}}}`, InvalidField, "extensions.shift.a"},
		{`{"set":{"extensions":{},"extensions":{}}}`, InvalidField, "extensions"},

		// unset.
		{`{"unset":["nickname"]}`, InvalidField, "nickname"},
		{`{"unset":[""]}`, InvalidField, ""},
		{`{"unset":["id"]}`, InvalidField, "id"},
		{`{"unset":["createdBy"]}`, InvalidField, "createdBy"},
		{`{"unset":["email","email"]}`, InvalidField, "email"},
		{`{"unset":["extensions"]}`, InvalidField, "extensions"},
		{`{"unset":["extensions.shift"]}`, InvalidField, "extensions.shift"},
		{`{"unset":["extensions.shift."]}`, InvalidField, "extensions.shift."},
		{`{"unset":["extensions.shift.sso.id"]}`, InvalidField, "extensions.shift.sso.id"},
		{`{"unset":["extensions.Shift.ssoId"]}`, InvalidField, "extensions.Shift.ssoId"},
		{`{"unset":["extensions.shift.a","extensions.shift.a"]}`, InvalidField, "extensions.shift.a"},
		{`{"set":{"email":"a"},"unset":["email"]}`, InvalidField, "email"},
		{`{"unset":["email"],"set":{"email":"a"}}`, InvalidField, "email"},
		{`{"set":{"extensions":{"shift":{"a":1}}},"unset":["extensions.shift.a"]}`, InvalidField, "extensions.shift.a"},
	} {
		err := ValidateUpdate([]byte(tc.doc))
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("ValidateUpdate(%s) = %v, want a *Error", tc.doc, err)
			continue
		}
		if e.Code != tc.code || e.Field != tc.field {
			t.Errorf("ValidateUpdate(%s) = %q %q (%v), want %q %q", tc.doc, e.Code, e.Field, e, tc.code, tc.field)
		}
		if e.Message == "" {
			t.Errorf("ValidateUpdate(%s): empty message", tc.doc)
		}
	}
}

func TestValidateUpdateDepth(t *testing.T) {
	// 32 levels in all is the limit: the document, set and 30 more.
	nest := func(n int) string {
		return `{"set":{"attributes":` + strings.Repeat(`{"a":`, n) + `1` + strings.Repeat(`}`, n) + `}}`
	}
	if err := ValidateUpdate([]byte(nest(30))); err != nil {
		t.Errorf("depth 32: %v", err)
	}
	if err := ValidateUpdate([]byte(nest(31))); err == nil {
		t.Error("depth 33 accepted")
	}
	// Brackets inside strings do not count.
	if err := ValidateUpdate([]byte(`{"set":{"givenName":"` + strings.Repeat(`[{\"`, 100) + `"}}`)); err != nil {
		t.Errorf("brackets in a string: %v", err)
	}
}

func TestValidateUpdateErrorText(t *testing.T) {
	err := ValidateUpdate([]byte(`{"set":{"email":1}}`))
	if got, want := err.Error(), "invalid_field: email: must be a string"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	err = ValidateUpdate([]byte(`{"set":{"` + strings.Repeat("x", 100) + `":1}}`))
	if err == nil || len(err.Error()) > 200 {
		t.Errorf("long unknown field: %v", err)
	}
}

// FuzzValidateUpdate checks that ValidateUpdate never panics and that every
// update it accepts applies to a valid user and yields a valid user.
func FuzzValidateUpdate(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"set":{"givenName":"Jane","extensions":{"shift":{"sso":true}}},"unset":["familyName","extensions.shift.ssoId"]}`,
		`{"set":{"roles":[{"id":"1","name":"A"}],"attributes":{"a":{"b":1}}}}`,
		`{"unset":["extensions.finix.tag","password"]}`, `{"set":{"password":"p"}}`, `[`, `{"set":{"a\u0000":1}}`,
	} {
		f.Add([]byte(seed))
	}
	user := []byte(testUser)
	f.Fuzz(func(t *testing.T, doc []byte) {
		if ValidateUpdate(doc) != nil {
			if _, err := Apply(user, doc); err == nil {
				t.Fatalf("Apply accepted what ValidateUpdate refused: %q", doc)
			}
			return
		}
		out, err := Apply(user, doc)
		if err != nil {
			t.Fatalf("Apply(%q): %v", doc, err)
		}
		if !json.Valid(out) {
			t.Fatalf("Apply(%q) = invalid JSON %s", doc, out)
		}
		if err := ValidateUser(out); err != nil {
			t.Fatalf("Apply(%q) = %s: %v", doc, out, err)
		}
	})
}
