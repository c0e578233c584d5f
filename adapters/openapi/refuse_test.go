package openapi_test

import (
	"testing"

	"github.com/userbridge/userbridge/adapters/conformance"
	"github.com/userbridge/userbridge/adapters/registry"
	"github.com/userbridge/userbridge/mapping"
)

func dialect(t *testing.T, name string) *contract {
	t.Helper()
	for _, b := range registry.Builtins() {
		if b.Name == name {
			return load(t, conformance.Dialect(t, b))
		}
	}
	t.Fatalf("no dialect %s", name)
	return nil
}

// TestTypeRefusals: requests the rules refuse for a reason a schema can
// say (a type, an enum, a pattern, an empty string, a map's limits, the
// user's name in the body) are refused by the document too.
func TestTypeRefusals(t *testing.T) {
	tags51 := `{"tags":{`
	for i := 0; i < 51; i++ {
		if i > 0 {
			tags51 += ","
		}
		tags51 += `"k` + string(rune('A'+i/26)) + string(rune('a'+i%26)) + `":"v"`
	}
	tags51 += "}}"
	for _, tc := range []struct{ dialect, path, body string }{
		{"shift", "/v3/users/u1", `{"sso":"yes"}`},
		{"shift", "/v3/users/u1", `{"status":"active"}`},
		{"shift", "/v3/users/u1", `{"userName":"jane doe"}`},
		{"shift", "/v3/users/u1", `{"email":""}`},
		{"shift", "/v3/users/u1", `{"password":"Sh0rt!"}`},
		{"finix", "/users/US1", `{"enabled":"no"}`},
		{"finix", "/users/US1", `{"tags":{"a":1}}`},
		{"finix", "/users/US1", tags51},
		{"baasic", "/v1/app/users/jane", `{"isApproved":1}`},
		{"baasic", "/v1/app/users/jane", `{"roles":[""]}`},
		{"baasic", "/v1/app/users/jane", `{"roles":[{"name":"admin","rank":1}]}`},
		{"trustedtwin", "/users/0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a", `{"role":"admin"}`},
		{"crafter", "/studio/api/1/services/api/1/user/update.json", `{"first_name":"Jo"}`},
		{"crafter", "/studio/api/1/services/api/1/user/update.json", `{"username":"jo","email":7}`},
	} {
		t.Run(tc.dialect+" "+tc.body, func(t *testing.T) {
			c := dialect(t, tc.dialect)
			in := conformance.Input(c.p, tc.path, []byte(tc.body))
			if res, err := c.p.Translate(in); err == nil {
				if _, err := res.Update(conformance.AnyStoredUser); err == nil {
					t.Fatalf("the rules accept %s", tc.body)
				}
			}
			if _, err := c.request(t, tc.path, []byte(tc.body)); err == nil {
				t.Fatalf("the rules refuse %s, the document accepts it", tc.body)
			}
		})
	}
}

// TestWrongAnswersRefused: the answer schemas say something: a success
// body missing a member the rules always write, one with a member they
// never write, and an error envelope of another shape fail validation.
func TestWrongAnswersRefused(t *testing.T) {
	c := dialect(t, "finix")
	in, err := c.request(t, "/users/US1", []byte(`{"enabled":true}`))
	if err != nil {
		t.Fatal(err)
	}
	for name, rep := range map[string]*mapping.Reply{
		"success without id":                            {Status: 200, ContentType: "application/hal+json", Body: []byte(`{"enabled":true}`)},
		"error as Shift's":                              {Status: 422, ContentType: "application/hal+json", Body: []byte(`{"email":"bad"}`)},
		"error of a status never answered, other shape": {Status: 418, ContentType: "application/hal+json", Body: []byte(`[]`)},
	} {
		if err := c.response(t, in, rep); err == nil {
			t.Errorf("%s: validates", name)
		}
	}
	ok := c.p.RenderSuccess(conformance.Input(c.p, "/users/US1", []byte(`{"enabled":true}`)), nil, []byte(`{"id":"US1"}`))
	if err := c.response(t, in, ok); err != nil {
		t.Fatalf("a rendered answer fails: %v", err)
	}
	ok.Body = append(ok.Body[:len(ok.Body)-1], []byte(`,"zz":1}`)...)
	if err := c.response(t, in, ok); err == nil {
		t.Error("a success body with a member the rules never write validates")
	}
}
