package finix

import (
	"testing"

	"github.com/userbridge/userbridge/adapters/conformance"
)

const typicalPath = "/users/USsRhsHYZGBPnQw8CFHjD7Un"

var typicalBody = []byte(`{"enabled":false,"tags":{"order_number":"25","item_type":"produce","department":"sales"}}`)

func FuzzTranslate(f *testing.F) { conformance.Fuzz(f, Builtin, "/users/{}") }

func BenchmarkTranslate(b *testing.B) {
	conformance.BenchTranslate(b, Builtin, typicalPath, typicalBody)
}

func BenchmarkRender(b *testing.B) {
	conformance.BenchRender(b, Builtin, typicalPath, typicalBody, []byte(`{"id":"USsRhsHYZGBPnQw8CFHjD7Un","username":"merchant.admin","email":"admin@example.com","active":false,"attributes":{"order_number":"25","item_type":"produce","department":"sales"},"roles":[{"name":"ROLE_MERCHANT"}],"createdAt":"2024-01-15T09:30:00.000Z","updatedAt":"2024-02-01T10:00:00.000Z"}`))
}
