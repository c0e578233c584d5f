package server

import "testing"

func TestFieldLabel(t *testing.T) {
	known := map[string]bool{"tags": true, "address.street": true, "address": true, "user_id": true}
	for field, want := range map[string]string{
		"tags":               "tags",
		"tags.department":    "tags",
		"tags.a.b":           "tags",
		"address.street":     "address.street",
		"address.city":       "address",
		"user_id":            "user_id",
		"jane.doe@example":   "other",
		"0b6f4c1e-8c2a-4d7e": "other",
		"":                   "other",
	} {
		if got := fieldLabel(known, field); got != want {
			t.Errorf("fieldLabel(%q) = %q, want %q", field, got, want)
		}
	}
}
