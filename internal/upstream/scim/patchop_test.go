package scim

import (
	"encoding/json"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/mapping/canonical"
)

const ext = DefaultExtensionSchema

func TestBuildPatch(t *testing.T) {
	for _, tc := range []struct {
		update string
		ops    string // the Operations array
	}{
		{`{"set":{"username":"j.doe","givenName":"Jane","familyName":"Doe","displayName":"Jane Doe","active":false,"password":"S3cret!!"}}`,
			`[{"op":"replace","path":"userName","value":"j.doe"},{"op":"replace","path":"name.givenName","value":"Jane"},` +
				`{"op":"replace","path":"name.familyName","value":"Doe"},{"op":"replace","path":"displayName","value":"Jane Doe"},` +
				`{"op":"replace","path":"active","value":false},{"op":"replace","path":"password","value":"S3cret!!"}]`},
		{`{"set":{"email":"j@example.com","phone":"+1 555","mobile":"+1 666","organization":"Acme"}}`,
			`[{"op":"remove","path":"emails[type eq \"work\"]"},{"op":"add","path":"emails","value":[{"value":"j@example.com","type":"work","primary":true}]},` +
				`{"op":"remove","path":"phoneNumbers[type eq \"work\"]"},{"op":"add","path":"phoneNumbers","value":[{"value":"+1 555","type":"work"}]},` +
				`{"op":"remove","path":"phoneNumbers[type eq \"mobile\"]"},{"op":"add","path":"phoneNumbers","value":[{"value":"+1 666","type":"mobile"}]},` +
				`{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:organization","value":"Acme"}]`},
		{`{"set":{"address":{"streetAddress":"1 Main St","locality":"Springfield","country":"US"}}}`,
			`[{"op":"remove","path":"addresses[type eq \"work\"]"},` +
				`{"op":"add","path":"addresses","value":[{"streetAddress":"1 Main St","locality":"Springfield","country":"US","type":"work"}]}]`},
		{`{"set":{"roles":[{"id":"r1","name":"Admin","description":"all"},{"name":"Users"},{"id":"u-9"}]}}`,
			`[{"op":"remove","path":"roles"},{"op":"add","path":"roles","value":[{"value":"r1","display":"Admin","type":"all"},` +
				`{"value":"Users","display":"Users"},{"value":"u-9"}]}]`},
		{`{"set":{"roles":[]}}`, `[{"op":"remove","path":"roles"}]`},
		{`{"set":{"locked":true,"deleted":false,"attributes":{"dept":"sales","n":[1,"x\"y"]}}}`,
			`[{"op":"replace","path":"` + ext + `:locked","value":true},{"op":"replace","path":"` + ext + `:deleted","value":false},` +
				`{"op":"replace","path":"` + ext + `:attributes","value":"{\"dept\":\"sales\",\"n\":[1,\"x\\\"y\"]}"}]`},
		{`{"set":{"extensions":{"shift":{"ssoId":"ext-42","sso":true}}}}`,
			`[{"op":"remove","path":"` + ext + `:extensions[dialect eq \"shift\" and name eq \"ssoId\"]"},` +
				`{"op":"add","path":"` + ext + `:extensions","value":[{"dialect":"shift","name":"ssoId","value":"\"ext-42\""}]},` +
				`{"op":"remove","path":"` + ext + `:extensions[dialect eq \"shift\" and name eq \"sso\"]"},` +
				`{"op":"add","path":"` + ext + `:extensions","value":[{"dialect":"shift","name":"sso","value":"true"}]}]`},
		{`{"unset":["username","password","email","givenName","familyName","displayName","phone","mobile","organization","address",` +
			`"active","locked","deleted","roles","attributes","extensions.shift.ssoId"]}`,
			`[{"op":"remove","path":"userName"},{"op":"remove","path":"password"},{"op":"remove","path":"emails[type eq \"work\"]"},` +
				`{"op":"remove","path":"name.givenName"},{"op":"remove","path":"name.familyName"},{"op":"remove","path":"displayName"},` +
				`{"op":"remove","path":"phoneNumbers[type eq \"work\"]"},{"op":"remove","path":"phoneNumbers[type eq \"mobile\"]"},` +
				`{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:organization"},` +
				`{"op":"remove","path":"addresses[type eq \"work\"]"},{"op":"remove","path":"active"},` +
				`{"op":"remove","path":"` + ext + `:locked"},{"op":"remove","path":"` + ext + `:deleted"},{"op":"remove","path":"roles"},` +
				`{"op":"remove","path":"` + ext + `:attributes"},` +
				`{"op":"remove","path":"` + ext + `:extensions[dialect eq \"shift\" and name eq \"ssoId\"]"}]`},
		{`{"set":{"givenName":"x<&>"},"unset":["familyName"]}`,
			`[{"op":"replace","path":"name.givenName","value":"x<&>"},{"op":"remove","path":"name.familyName"}]`},
	} {
		if err := canonical.ValidateUpdate([]byte(tc.update)); err != nil {
			t.Fatalf("bad case %s: %v", tc.update, err)
		}
		body, _, err := buildPatch([]byte(tc.update), ext, nil)
		if err != nil {
			t.Errorf("%s: %v", tc.update, err)
			continue
		}
		if !json.Valid(body) {
			t.Fatalf("%s: invalid JSON %s", tc.update, body)
		}
		doc := gjson.ParseBytes(body)
		if got := doc.Get("schemas").Raw; got != `["`+PatchOpSchema+`"]` {
			t.Errorf("schemas %s", got)
		}
		if got := doc.Get("Operations").Raw; got != tc.ops {
			t.Errorf("%s\n got %s\nwant %s", tc.update, got, tc.ops)
		}
	}
}

func TestBuildPatchEmpty(t *testing.T) {
	for _, u := range []string{`{}`, `{"set":{},"unset":[]}`, `{"set":{"extensions":{}}}`} {
		if body, _, err := buildPatch([]byte(u), ext, nil); body != nil || err != nil {
			t.Errorf("%s: %s %v", u, body, err)
		}
	}
}

func TestBuildPatchRefuses(t *testing.T) {
	for _, tc := range []struct {
		update, ext, field string
	}{
		{`{"set":{"locked":true}}`, "", "locked"},
		{`{"set":{"givenName":"x","deleted":true}}`, "", "deleted"},
		{`{"set":{"attributes":{}}}`, "", "attributes"},
		{`{"unset":["attributes"]}`, "", "attributes"},
		{`{"set":{"extensions":{"shift":{"sso":true}}}}`, "", "extensions.shift.sso"},
		{`{"unset":["extensions.shift.sso"]}`, "", "extensions.shift.sso"},
		{`{"set":{"address":{"city":"Paris"}}}`, ext, "address"},
		{`{"set":{"address":{"locality":1}}}`, ext, "address"},
	} {
		_, _, err := buildPatch([]byte(tc.update), tc.ext, nil)
		if err == nil || err.Code != canonical.InvalidField || err.Field != tc.field || err.Message == "" {
			t.Errorf("%s (ext %q): %v, want invalid_field %s", tc.update, tc.ext, err, tc.field)
		}
	}
}

func TestFilterString(t *testing.T) {
	for in, want := range map[string]string{
		`jane`:        `"jane"`,
		`ja"ne`:       `"ja\"ne"`,
		`ja\ne`:       `"ja\\ne"`,
		"a\x01b\nc\t": `"a\u0001b\nc\t"`,
		`<&>`:         `"<&>"`,
		`zoë`:         `"zoë"`,
	} {
		got := filterString(in)
		if got != want {
			t.Errorf("filterString(%q) = %s, want %s", in, got, want)
		}
		var back string
		if json.Unmarshal([]byte(got), &back) != nil || back != in {
			t.Errorf("%s does not read back as %q", got, in)
		}
	}
}
