package app_test

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/mapping/canonical"
)

// unholdable is a body carrying a value no backend can hold as sent (or a
// rename userbridge could not address afterwards), the field the answer
// must name and words its message says.
type unholdable struct{ body, field, says string }

// unholdableBodies are, per dialect, such values carried by each kind of
// rule: a mapped field, a kept object, role items, nested members, unknown
// members kept as extensions, the username that names the user, a rename.
var unholdableBodies = map[string][]unholdable{
	"baasic": {
		{`{"email":"a@example.com","dashboardSettings":{"limit":1e400}}`, "dashboardSettings.limit", "float64"},
		{`{"legacyId":9007199254740993}`, "legacyId", "2^53"},
		{`{"roles":["Administrators","Users\u0000"]}`, "roles[1]", "NUL"},
		{`{"roles":[{"name":"Admins","description":"\u0000"}]}`, "roles[0].description", "NUL"},
		{`{"name":"Jane\u0000"}`, "name", "NUL"},
		{`{"userName":"../admin"}`, "userName", "'/'"},
		{`{"userName":"a/b?c#d"}`, "userName", "'/'"},
		{`{"userName":"  "}`, "userName", "blank"},
		{`{"userName":".."}`, "userName", `".."`},
	},
	"shift": {
		{`{"address":{"street":"Main St","zip":1E+400}}`, "address.zip", "float64"},
		{`{"legacy":{"ids":[-12345678901234567890]}}`, "legacy.ids[0]", "2^53"},
		{`{"firstName":"Jo\u0000hn"}`, "firstName", "NUL"},
		{`{"userName":"."}`, "userName", `"."`},
	},
	"trustedtwin": {
		{`{"description":{"count":12345678901234567890}}`, "description.count", "2^53"},
		{`{"activity":{"score":-1e999}}`, "activity.score", "float64"},
		{`{"activity":1e-400}`, "activity", "float64"},
		{`{"name":"Jane\u0000"}`, "name", "NUL"},
	},
	"finix": {
		{`{"tags":{"team":"blue\u0000"}}`, "tags.team", "NUL"},
		{`{"enabled":true,"meta":{"n":1e400}}`, "meta.n", "float64"},
	},
	"crafter": {
		{`{"username":"john.smith\u0000","first_name":"John"}`, "username", "NUL"},
		{`{"username":"john.smith","externally_managed":9007199254740993}`, "externally_managed", "2^53"},
		{`{"username":"john.smith","last_name":"Smith\u0000"}`, "last_name", "NUL"},
	},
}

// TestUnholdableValuesNotForwarded sends every dialect values a backend
// cannot hold as sent, through the real server: each is refused with the
// dialect's invalid_field naming the field, and the upstream receives
// nothing. Without the checks, each was forwarded verbatim.
func TestUnholdableValuesNotForwarded(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, e2eConfig)
	for _, d := range specs {
		for _, c := range unholdableBodies[d.name] {
			t.Run(d.name+"/"+c.body, func(t *testing.T) {
				rec.set(nil)
				a := s.do(t, d.method, d.path, d.header, c.body)
				if want := statusOf(d, canonical.InvalidField); a.Status != want {
					t.Fatalf("status %d, want %d: %s", a.Status, want, a.Body)
				}
				namesField(t, d, a.Body, c.field, c.says)
				if n := len(rec.requests()); n != 0 {
					t.Fatalf("the upstream received %d requests", n)
				}
			})
		}
	}
}

// namesField asserts that an invalid_field body names field, and that its
// message says says where the dialect shows userbridge's message.
func namesField(t *testing.T, d dialectSpec, body []byte, field, says string) {
	t.Helper()
	var named bool
	switch d.name {
	case "baasic":
		named = gjson.GetBytes(body, "details").Str == field && gjson.GetBytes(body, "statusCode").Int() == 400
	case "shift": // one member, keyed by the field
		named = gjson.GetBytes(body, gjson.Escape(field)).Exists() && len(gjson.ParseBytes(body).Map()) == 1
	case "finix":
		named = gjson.GetBytes(body, "_embedded.errors.0.field").Str == field
	case "crafter":
		named = gjson.GetBytes(body, "message").Str == "Invalid parameter: "+field &&
			gjson.GetBytes(body, "status").Str == "Invalid parameter: "+field
	case "trustedtwin":
		named = gjson.GetBytes(body, "subcode").Int() == 400000 // no field member: the message names it
	}
	if !named {
		t.Errorf("the answer does not name %s: %s", field, body)
	}
	if d.name == "crafter" { // Studio's own text
		return
	}
	if m := messageOf(d, body); !strings.HasPrefix(m, field+" ") || !strings.Contains(m, says) {
		t.Errorf("message %q: want it to name %s and say %q", m, field, says)
	}
}

// TestHoldableValuesForwardedAsSent: the largest integer a float64 holds
// exactly (2^53) and a float within its range go upstream as sent.
func TestHoldableValuesForwardedAsSent(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, e2eConfig)
	bodies := map[string]string{
		"baasic":      `{"legacyId":9007199254740992,"ratio":1.5e300}`,
		"shift":       `{"legacyId":-9007199254740992,"ratio":1.5e300}`,
		"trustedtwin": `{"activity":{"id":9007199254740992,"ratio":1.5e300}}`,
		"finix":       `{"legacyId":9007199254740992,"ratio":1.5e300}`,
		"crafter":     `{"username":"john.smith","legacyId":9007199254740992,"ratio":1.5e300}`,
	}
	for _, d := range specs {
		t.Run(d.name, func(t *testing.T) {
			rec.set(nil)
			s.do(t, d.method, d.path, d.header, bodies[d.name])
			got := rec.requests()
			if len(got) == 0 || got[0].Method != "PATCH" {
				t.Fatalf("no update forwarded: %v", got)
			}
			if b := string(got[0].Body); !strings.Contains(b, "9007199254740992") || !strings.Contains(b, "1.5e300") {
				t.Errorf("forwarded %s", b)
			}
		})
	}
}
