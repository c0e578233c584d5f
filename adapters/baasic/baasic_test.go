package baasic

import (
	"testing"

	"github.com/userbridge/userbridge/adapters/conformance"
)

const typicalPath = "/v1/my-app/users/0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a"

// typicalBody is what the JS SDK sends after a GET with embedded roles.
var typicalBody = []byte(`{"id":"0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a","userName":"jane.doe","email":"jane@example.com",` +
	`"name":"Jane Doe","isApproved":true,"isLockedOut":false,"roles":["ROLE_MERCHANT"],` +
	`"creationDate":"2024-01-15T09:30:00.000Z"}`)

func FuzzTranslate(f *testing.F) { conformance.Fuzz(f, Builtin, "/v1/my-app/users/{}") }

func BenchmarkTranslate(b *testing.B) {
	conformance.BenchTranslate(b, Builtin, typicalPath, typicalBody)
}

func BenchmarkRender(b *testing.B) {
	conformance.BenchRender(b, Builtin, typicalPath, typicalBody, []byte(`{"id":"0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a","username":"jane.doe","email":"jane@example.com","displayName":"Jane Doe","active":true,"locked":false,"roles":[{"id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","name":"ROLE_MERCHANT"}],"attributes":{"department":"sales"},"createdAt":"2024-01-15T09:30:00.000Z","updatedAt":"2024-02-01T10:00:00.000Z"}`))
}
