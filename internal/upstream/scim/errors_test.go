package scim

import (
	"testing"

	"github.com/userbridge/userbridge/mapping/canonical"
)

// TestNoTargetIsNotAMissingUser: noTarget is a PATCH path filter that
// matched nothing (RFC 7644 §3.12); the user exists, so it is no 404.
func TestNoTargetIsNotAMissingUser(t *testing.T) {
	e := mapError(400, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"scimType":"noTarget","status":"400"}`), "", []string{"email"}, true)
	if e.Code != canonical.InvalidField || e.Field != "email" {
		t.Errorf("noTarget: %s field %q, want invalid_field on email", e.Code, e.Field)
	}
}
