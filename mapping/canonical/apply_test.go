package canonical

import (
	"encoding/json"
	"errors"
	"testing"
)

// testUser is a stored user with every kind of field.
const testUser = `{"id":"u1","username":"jane","givenName":"Jane","familyName":"Doe",` +
	`"active":true,"roles":[{"name":"A"}],"attributes":{"dept":"ops"},` +
	`"extensions":{"shift":{"ssoId":"s1","sso":false},"finix":{"tag":1}},` +
	`"createdAt":"2024-01-15T09:30:00.000Z","updatedAt":"2024-01-15T09:30:00.000Z"}`

func TestApply(t *testing.T) {
	for _, tc := range []struct {
		name, user, doc, want string
	}{
		{
			name: "empty update",
			user: testUser, doc: `{}`,
			want: testUser,
		},
		{
			name: "contract example",
			user: testUser,
			doc: `{"set":{"givenName":"Janet","active":false,"attributes":{"dept":"sales"},
			       "extensions":{"shift":{"sso":true}}},
			       "unset":["familyName","extensions.shift.ssoId"]}`,
			want: `{"id":"u1","username":"jane","givenName":"Janet","active":false,"roles":[{"name":"A"}],` +
				`"attributes":{"dept":"sales"},"extensions":{"shift":{"sso":true},"finix":{"tag":1}},` +
				`"createdAt":"2024-01-15T09:30:00.000Z","updatedAt":"2024-01-15T09:30:00.000Z"}`,
		},
		{
			name: "objects and arrays replace whole, new fields follow in set order",
			user: `{"id":"u1","roles":[{"name":"A"},{"name":"B"}],"attributes":{"a":1,"b":2}}`,
			doc:  `{"set":{"phone":"+1 555","roles":[{"id":"r1"}],"attributes":{"c":3},"address":{"city":"Oslo"}}}`,
			want: `{"id":"u1","roles":[{"id":"r1"}],"attributes":{"c":3},"phone":"+1 555","address":{"city":"Oslo"}}`,
		},
		{
			name: "values are compacted, strings kept byte for byte",
			user: `{ "id" : "u1" ,
			        "displayName" : "Jane  Doe" }`,
			doc:  `{"set":{"address":{ "street" : "Main St 1", "lines" : [ 1 , 2 ] },"givenName":"a \" { b"}}`,
			want: `{"id":"u1","displayName":"Jane  Doe","address":{"street":"Main St 1","lines":[1,2]},"givenName":"a \" { b"}`,
		},
		{
			name: "unset of absent fields is a no-op",
			user: `{"id":"u1","email":"e"}`,
			doc:  `{"unset":["phone","extensions.shift.ssoId"]}`,
			want: `{"id":"u1","email":"e"}`,
		},
		{
			name: "new dialect appended, other dialects verbatim",
			user: testUser,
			doc:  `{"set":{"extensions":{"baasic":{"isApproved":true}}}}`,
			want: `{"id":"u1","username":"jane","givenName":"Jane","familyName":"Doe",` +
				`"active":true,"roles":[{"name":"A"}],"attributes":{"dept":"ops"},` +
				`"extensions":{"shift":{"ssoId":"s1","sso":false},"finix":{"tag":1},"baasic":{"isApproved":true}},` +
				`"createdAt":"2024-01-15T09:30:00.000Z","updatedAt":"2024-01-15T09:30:00.000Z"}`,
		},
		{
			name: "extension member replaced in place, new member appended",
			user: `{"extensions":{"shift":{"ssoId":"s1","sso":false}}}`,
			doc:  `{"set":{"extensions":{"shift":{"extra":{"k":[1]},"ssoId":"s2"}}}}`,
			want: `{"extensions":{"shift":{"ssoId":"s2","sso":false,"extra":{"k":[1]}}}}`,
		},
		{
			name: "dialect left empty is dropped",
			user: `{"id":"u1","extensions":{"shift":{"ssoId":"s1"},"finix":{"tag":1}}}`,
			doc:  `{"unset":["extensions.shift.ssoId"]}`,
			want: `{"id":"u1","extensions":{"finix":{"tag":1}}}`,
		},
		{
			name: "extensions left empty are dropped",
			user: `{"id":"u1","extensions":{"shift":{"ssoId":"s1"},"finix":{"tag":1}},"email":"e"}`,
			doc:  `{"unset":["extensions.shift.ssoId","extensions.finix.tag"]}`,
			want: `{"id":"u1","email":"e"}`,
		},
		{
			name: "extensions created when absent",
			user: `{"id":"u1"}`,
			doc:  `{"set":{"extensions":{"shift":{"sso":true},"finix":{}}}}`,
			want: `{"id":"u1","extensions":{"shift":{"sso":true}}}`,
		},
		{
			name: "empty dialect in set leaves the stored one alone",
			user: `{"id":"u1","extensions":{"shift":{}}}`,
			doc:  `{"set":{"extensions":{"shift":{}}}}`,
			want: `{"id":"u1","extensions":{"shift":{}}}`,
		},
		{
			name: "stored extensions that are not an object are replaced when touched",
			user: `{"id":"u1","extensions":"junk"}`,
			doc:  `{"set":{"extensions":{"shift":{"sso":true}}}}`,
			want: `{"id":"u1","extensions":{"shift":{"sso":true}}}`,
		},
		{
			name: "password is never written, a stored one is dropped",
			user: `{"id":"u1","password":"old","email":"e"}`,
			doc:  `{"set":{"password":"secret","email":"f"}}`,
			want: `{"id":"u1","email":"f"}`,
		},
		{
			name: "unset password removes nothing else",
			user: `{"id":"u1","email":"e"}`,
			doc:  `{"unset":["password"]}`,
			want: `{"id":"u1","email":"e"}`,
		},
		{
			name: "read-only and unknown stored fields are kept",
			user: `{"id":"u1","tenant":"t1","lastLoginAt":null,"x-legacy":1}`,
			doc:  `{"set":{"locked":true}}`,
			want: `{"id":"u1","tenant":"t1","lastLoginAt":null,"x-legacy":1,"locked":true}`,
		},
		{
			name: "escaped keys match unescaped names",
			user: `{"giv\u0065nName":"Jane","unicode":"\u00e9"}`,
			doc:  `{"set":{"givenName":"Janet"}}`,
			want: `{"giv\u0065nName":"Janet","unicode":"\u00e9"}`,
		},
		{
			name: "stored duplicates are written once",
			user: `{"email":"a","email":"b","extensions":{"shift":{"a":1,"a":2}}}`,
			doc:  `{"set":{"email":"c","extensions":{"shift":{"b":1}}}}`,
			want: `{"email":"c","extensions":{"shift":{"a":1,"b":1}}}`,
		},
		{
			name: "escaped set and unset keys",
			user: `{"id":"u1","email":"e"}`,
			doc:  `{"s\u0065t":{"givenName":"x"},"uns\u0065t":["email"]}`,
			want: `{"id":"u1","givenName":"x"}`,
		},
		{
			name: "empty user",
			user: `{}`,
			doc:  `{"set":{"username":"u","deleted":false}}`,
			want: `{"username":"u","deleted":false}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Apply([]byte(tc.user), []byte(tc.doc))
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("Apply =\n%s\nwant\n%s", got, tc.want)
			}
			if !json.Valid(got) {
				t.Errorf("Apply = invalid JSON %s", got)
			}
		})
	}
}

func TestApplyRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, user, doc string
		code            Code // "" means ErrNotObject
		field           string
	}{
		{"invalid update", testUser, `{"set":{"email":1}}`, InvalidField, "email"},
		{"read-only field", testUser, `{"set":{"updatedAt":"2025-01-01T00:00:00Z"}}`, InvalidField, "updatedAt"},
		{"set and unset", testUser, `{"set":{"email":"a"},"unset":["email"]}`, InvalidField, "email"},
		{"not an update", testUser, `[]`, BadRequest, ""},
		{"user is an array", `[]`, `{}`, "", ""},
		{"user is not JSON", `{"id":`, `{}`, "", ""},
		{"user is empty", ``, `{}`, "", ""},
		{"user is a string", `"u"`, `{}`, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Apply([]byte(tc.user), []byte(tc.doc))
			if got != nil {
				t.Errorf("Apply = %s, want nil", got)
			}
			if tc.code == "" {
				if !errors.Is(err, ErrNotObject) {
					t.Errorf("Apply error = %v, want ErrNotObject", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != tc.code || e.Field != tc.field {
				t.Errorf("Apply error = %#v, want %s %q", err, tc.code, tc.field)
			}
		})
	}
}

func BenchmarkApply(b *testing.B) {
	user := []byte(testUser)
	doc := []byte(`{"set":{"givenName":"Janet","active":false,"attributes":{"dept":"sales"},` +
		`"extensions":{"shift":{"sso":true}}},"unset":["familyName","extensions.shift.ssoId"]}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Apply(user, doc); err != nil {
			b.Fatal(err)
		}
	}
}
