package crafter

import (
	"testing"

	"github.com/userbridge/userbridge/adapters/conformance"
)

const typicalPath = "/studio/api/1/services/api/1/user/update.json"

// typicalBody is the documented example.
var typicalBody = []byte(`{"username":"jane.doe","password":"SuperSecretPassword123#","first_name":"Jane","last_name":"Doe","email":"jane@example.com"}`)

// FuzzTranslate fuzzes the body; the route has no path parameter.
func FuzzTranslate(f *testing.F) { conformance.Fuzz(f, Builtin, typicalPath) }

func BenchmarkTranslate(b *testing.B) {
	conformance.BenchTranslate(b, Builtin, typicalPath, typicalBody)
}

func BenchmarkRender(b *testing.B) {
	conformance.BenchRender(b, Builtin, typicalPath, typicalBody, []byte(`{"id":"0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a","username":"jane.doe","email":"jane@example.com","givenName":"Jane","familyName":"Doe","active":true,"roles":[{"id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","name":"ROLE_MERCHANT"}],"attributes":{"department":"sales"},"createdAt":"2024-01-15T09:30:00.000Z","updatedAt":"2024-02-01T10:00:00.000Z"}`))
}
