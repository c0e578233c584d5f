package app_test

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/userbridge/userbridge/mapping/canonical"
)

const (
	janeID  = "0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a"
	johnID  = "a1f2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
	finixID = "USsRhsHYZGBPnQw8CFHjD7Un"
)

// idOf names the demo user a spec updates.
func idOf(d dialectSpec) string {
	switch d.name {
	case "baasic", "trustedtwin":
		return janeID
	case "finix":
		return finixID
	}
	return johnID
}

// str asserts a JSON string member.
func str(t *testing.T, body []byte, path, want string) {
	t.Helper()
	if got := gjson.GetBytes(body, path); got.Type != gjson.String || (want != "" && got.Str != want) || got.Str == "" {
		t.Errorf("%s = %s, want %q in %s", path, got.Raw, want, body)
	}
}

// specs are the five dialects as their real clients call them.
var specs = []dialectSpec{
	{
		name: "baasic", method: "PUT", path: "/v1/demo-app/users/jane.doe",
		header:    map[string]string{"Authorization": "BEARER 2a1b3c"},
		body:      `{"email":"jane.doe@example.org","name":"Jane Q. Doe","isApproved":true,"roles":["Administrators"]}`,
		upPath:    "/users/by-username/jane.doe",
		upForward: []string{"Authorization"}, upTenant: "demo-app",
		update:  `{"set":{"email":"jane.doe@example.org","displayName":"Jane Q. Doe","active":true,"roles":[{"name":"Administrators"}]},"unset":[]}`,
		success: 204,
		checkSuccess: func(t *testing.T, a answer) {
			if len(a.Body) != 0 {
				t.Errorf("204 with a body: %s", a.Body)
			}
		},
		checkError: func(t *testing.T, a answer, code canonical.Code, msg string) {
			str(t, a.Body, "message", msg)
			str(t, a.Body, "error", "")
			if gjson.GetBytes(a.Body, "statusCode").Int() != int64(a.Status) || gjson.GetBytes(a.Body, "errorCode").Int() == 0 {
				t.Errorf("statusCode/errorCode: %s", a.Body)
			}
			if code == canonical.Unauthorized && a.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		},
	},
	{
		name: "shift", method: "PUT", path: "/v3/users/" + johnID,
		header:    map[string]string{"x-key": "k-123", "x-secret": "s-456"},
		body:      `{"firstName":"Johnny","lastName":"","company":"Acme Ltd","phone":"+1 555 0100","status":"LOCKED","ssoId":"ext-42"}`,
		upPath:    "/users/" + johnID,
		upForward: []string{"X-Key", "X-Secret"},
		update:    `{"set":{"givenName":"Johnny","organization":"Acme Ltd","phone":"+1 555 0100","locked":true,"extensions":{"shift":{"ssoId":"ext-42"}}},"unset":["familyName"]}`,
		success:   204,
		status:    map[canonical.Code]int{canonical.RateLimited: 420},
		checkSuccess: func(t *testing.T, a answer) {
			if len(a.Body) != 0 {
				t.Errorf("204 with a body: %s", a.Body)
			}
		},
		checkError: func(t *testing.T, a answer, code canonical.Code, msg string) {
			if code == canonical.InvalidField {
				// keyed by the offending field, in Shift's own terms.
				str(t, a.Body, "email", msg)
				return
			}
			str(t, a.Body, "message", msg)
		},
	},
	{
		name: "trustedtwin", method: "PATCH", path: "/users/" + janeID,
		header:    map[string]string{"Authorization": "tt-secret-abc"},
		body:      `{"name":"Jane Doe 2","description":{"team":"blue","level":3}}`,
		upPath:    "/users/" + janeID,
		upForward: []string{"Authorization"},
		update:    `{"set":{"displayName":"Jane Doe 2","attributes":{"team":"blue","level":3}},"unset":[]}`,
		success:   200, needsUser: true,
		checkSuccess: func(t *testing.T, a answer) {
			str(t, a.Body, "uuid", janeID)
			str(t, a.Body, "role", "7c9e6679-7425-40de-944b-e07fc1f90ae7")
			if gjson.GetBytes(a.Body, "created_ts").Type != gjson.Number {
				t.Errorf("created_ts: %s", a.Body)
			}
		},
		checkError: func(t *testing.T, a answer, code canonical.Code, msg string) {
			str(t, a.Body, "description", msg)
			str(t, a.Body, "trace", "")
			if sub := gjson.GetBytes(a.Body, "subcode").Int(); sub/1000 != int64(a.Status) {
				t.Errorf("subcode %d for status %d", sub, a.Status)
			}
		},
	},
	{
		name: "finix", method: "PUT", path: "/users/" + finixID,
		header:    map[string]string{"Authorization": "Basic VVN1c2VyOnBhc3N3b3Jk", "Finix-Version": "2022-02-01"},
		body:      `{"enabled":false,"tags":{"order_number":"25","item_type":"produce","department":"sales"}}`,
		upPath:    "/users/" + finixID,
		upForward: []string{"Authorization", "Finix-Version"},
		update:    `{"set":{"active":false,"attributes":{"order_number":"25","item_type":"produce","department":"sales"}},"unset":[]}`,
		success:   200, needsUser: true,
		status: map[canonical.Code]int{canonical.InvalidField: 422},
		checkSuccess: func(t *testing.T, a answer) {
			str(t, a.Body, "id", "")
			str(t, a.Body, "_links.self.href", "")
			if ct := a.Header.Get("Content-Type"); ct != "application/hal+json" {
				t.Errorf("content type %q", ct)
			}
		},
		checkError: func(t *testing.T, a answer, code canonical.Code, msg string) {
			if gjson.GetBytes(a.Body, "total").Int() != 1 {
				t.Errorf("total: %s", a.Body)
			}
			str(t, a.Body, "_embedded.errors.0.code", "")
			str(t, a.Body, "_embedded.errors.0.logref", a.Header.Get("X-Request-Id"))
			str(t, a.Body, "_embedded.errors.0.message", msg)
		},
	},
	{
		name: "crafter", method: "POST", path: "/studio/api/1/services/api/1/user/update.json",
		header:    map[string]string{"Cookie": "JSESSIONID=abc123; XSRF-TOKEN=tok-1", "X-XSRF-TOKEN": "tok-1"},
		body:      `{"username":"john.smith","first_name":"Johnny","last_name":"Smith","email":"johnny@example.com"}`,
		upPath:    "/users/by-username/john.smith",
		upForward: []string{"Cookie", "X-Xsrf-Token"},
		update:    `{"set":{"email":"johnny@example.com","givenName":"Johnny","familyName":"Smith"},"unset":[]}`,
		success:   200,
		checkSuccess: func(t *testing.T, a answer) {
			str(t, a.Body, "status", "OK")
			str(t, a.Body, "message", "OK")
			if loc := a.Header.Get("Location"); loc == "" || !contains(loc, "/studio/api/1/services/api/1/user/get.json?username=john.smith") {
				t.Errorf("Location %q", loc)
			}
		},
		checkError: func(t *testing.T, a answer, code canonical.Code, msg string) {
			want := map[canonical.Code]string{canonical.Unauthorized: "Unauthorized", canonical.NotFound: "User not found",
				canonical.Conflict: "User already exists"}[code]
			if code == canonical.InvalidField {
				want = "Invalid parameter: email"
			}
			if want == "" {
				want = msg
			}
			str(t, a.Body, "message", want)
			str(t, a.Body, "status", want)
		},
	},
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
