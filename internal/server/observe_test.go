package server

import (
	"testing"
	"unsafe"
)

func TestFieldLabel(t *testing.T) {
	known := map[string]string{}
	for _, f := range []string{"tags", "address.street", "address", "user_id"} {
		known[f] = f
	}
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

	// A field read from a request body is a view of a buffer the next
	// request reuses; the label, kept by the metric for good, must not be.
	body := []byte(`{"tags.department":1}`)
	field := unsafe.String(&body[2], len("tags.department"))
	label := fieldLabel(known, field)
	copy(body, `{"user_id.department":1}`)
	if label != "tags" {
		t.Errorf("the label changed with the request's buffer: %q", label)
	}
}
