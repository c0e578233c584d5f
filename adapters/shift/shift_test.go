package shift

import (
	"testing"

	"github.com/userbridge/userbridge/adapters/conformance"
)

const typicalPath = "/v3/users/USsRhsHYZGBPnQw8CFHjD7Un"

// typicalBody is a six-field Shift update.
var typicalBody = []byte(`{"firstName":"Jane","lastName":"Doe","company":"Acme","email":"jane@example.com","phone":"+1 555 0100","status":"ACTIVE"}`)

func FuzzTranslate(f *testing.F) { conformance.Fuzz(f, Builtin, "/v3/users/{}") }

func BenchmarkTranslate(b *testing.B) {
	conformance.BenchTranslate(b, Builtin, typicalPath, typicalBody)
}

func BenchmarkRender(b *testing.B) {
	conformance.BenchRender(b, Builtin, typicalPath, typicalBody, []byte(`{"id":"USsRhsHYZGBPnQw8CFHjD7Un","username":"merchant.admin","email":"jane@example.com","givenName":"Jane","familyName":"Doe","organization":"Acme","phone":"+1 555 0100","active":true,"locked":false,"deleted":false,"createdAt":"2024-01-15T09:30:00.000Z","updatedAt":"2024-02-01T10:00:00.000Z"}`))
}
