package backend

import "encoding/json"

// The demo users' ids, as the README's examples use them.
const (
	DemoJaneID     = "0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a"
	DemoMerchantID = "USsRhsHYZGBPnQw8CFHjD7Un"
	DemoJohnID     = "a1f2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
)

// demoUsers are stored as written here; their timestamps are fixed so that
// outputs built from them are stable.
var demoUsers = [...]string{
	`{"id":"` + DemoJaneID + `","username":"jane.doe","email":"jane@example.com",` +
		`"givenName":"Jane","familyName":"Doe","displayName":"Jane Doe","phone":"+1 415 555 0100",` +
		`"active":true,"locked":false,` +
		`"roles":[{"id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","name":"ROLE_MERCHANT"}],` +
		`"attributes":{"department":"sales"},` +
		`"createdAt":"2024-01-15T09:30:00.000Z","updatedAt":"2024-01-15T09:30:00.000Z",` +
		`"createdBy":"system","lastLoginAt":"2024-03-01T08:15:42.000Z"}`,
	`{"id":"` + DemoMerchantID + `","username":"merchant.admin","email":"admin@example.com",` +
		`"active":true,"locked":false,"roles":[{"name":"ROLE_MERCHANT"}],` +
		`"createdAt":"2024-01-15T09:31:00.000Z","updatedAt":"2024-01-15T09:31:00.000Z",` +
		`"createdBy":"system","lastLoginAt":null}`,
	`{"id":"` + DemoJohnID + `","username":"john.smith","email":"john@example.com",` +
		`"givenName":"John","familyName":"Smith","displayName":"John Smith","organization":"Acme",` +
		`"active":true,"locked":false,` +
		`"createdAt":"2024-01-15T09:32:00.000Z","updatedAt":"2024-01-15T09:32:00.000Z",` +
		`"createdBy":"system","lastLoginAt":null}`,
}

// DemoUsers returns a fresh copy of the three demo users, without tenant or
// password: jane.doe, merchant.admin (a Finix-style id) and john.smith.
func DemoUsers() []json.RawMessage {
	users := make([]json.RawMessage, len(demoUsers))
	for i, u := range demoUsers {
		users[i] = json.RawMessage(u)
	}
	return users
}
