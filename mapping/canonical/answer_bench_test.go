package canonical

import "testing"

// benchUser is bench.User: the user every upstream call of the bench
// answers with (bench/bench.go), so that this figure is the answer check's
// share of a bench request.
const benchUser = `{"id":"USsRhsHYZGBPnQw8CFHjD7Un","username":"merchant.admin","email":"admin@example.com",` +
	`"givenName":"Merchant","familyName":"Admin","displayName":"Merchant Admin","phone":"+1 415 555 0100",` +
	`"active":false,"locked":false,"roles":[{"id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","name":"ROLE_MERCHANT"}],` +
	`"attributes":{"order_number":"25","item_type":"produce","department":"sales"},` +
	`"createdAt":"2024-01-15T09:31:00.000Z","updatedAt":"2024-03-01T10:00:00.000Z",` +
	`"createdBy":"system","lastLoginAt":"2024-03-01T08:15:42.000Z"}`

func BenchmarkCheckAnswer(b *testing.B) {
	u := []byte(benchUser)
	want := Addressed{Value: "USsRhsHYZGBPnQw8CFHjD7Un"}
	b.SetBytes(int64(len(u)))
	b.ReportAllocs()
	for b.Loop() {
		if e := CheckAnswer(u, want); e != nil {
			b.Fatal(e)
		}
	}
}
