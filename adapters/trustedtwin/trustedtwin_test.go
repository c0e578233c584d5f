package trustedtwin

import (
	"bytes"
	"testing"

	"github.com/userbridge/userbridge/adapters/conformance"
)

const typicalPath = "/users/0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a"

var typicalBody = []byte(`{"name":"Jane Doe","role":"7c9e6679-7425-40de-944b-e07fc1f90ae7","description":{"department":"sales","level":3}}`)

var typicalUser = []byte(`{"id":"0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a","tenant":"2f7e0026-d1b4-4e6c-9a57-8a5b1c3d4e6f","username":"jane.doe","email":"jane@example.com","displayName":"Jane Doe","active":true,"roles":[{"id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","name":"ROLE_MERCHANT"}],"attributes":{"department":"sales","level":3},"createdAt":"2024-01-15T09:30:00.000Z","updatedAt":"2024-02-01T10:00:00.500Z"}`)

func FuzzTranslate(f *testing.F) { conformance.Fuzz(f, Builtin, "/users/{}") }

func BenchmarkTranslate(b *testing.B) {
	conformance.BenchTranslate(b, Builtin, typicalPath, typicalBody)
}

func BenchmarkRender(b *testing.B) {
	conformance.BenchRender(b, Builtin, typicalPath, typicalBody, typicalUser)
}

// TestTimestampsKeepThreeDecimals checks the bytes, which the golden runner
// compares as numbers: Trusted Twin writes created_ts and updated_ts with
// exactly three decimals, trailing zeros included.
func TestTimestampsKeepThreeDecimals(t *testing.T) {
	p := conformance.Dialect(t, Builtin)
	in := conformance.Input(p, typicalPath, typicalBody)
	res, err := p.Translate(in)
	if err != nil {
		t.Fatal(err)
	}
	body := p.RenderSuccess(in, res, typicalUser).Body
	for _, want := range []string{`"created_ts":1705311000.000`, `"updated_ts":1706781600.500`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("%s missing from %s", want, body)
		}
	}
}
