package app_test

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/upstream/scim"
	"github.com/userbridge/userbridge/internal/upstream/scim/scimtest"
)

// TestSCIMRefusalInClientTerms: a field the SCIM upstream cannot hold is
// refused naming the client's field, in words a legacy client can read;
// why (the configuration key, the schema URN) is in the operator's log.
// The message quoted "(upstream.scim.extension is false)", "(upstream.scim
// .unmapped is reject)" or the provider's schema URNs to the client.
func TestSCIMRefusalInClientTerms(t *testing.T) {
	off := false
	for _, tc := range []struct {
		name  string
		opts  scimtest.Options
		tweak func(*config.Config)
		log   string // in the operator's log
	}{
		{"unmapped reject", scimtest.Options{Extension: scim.DefaultExtensionSchema},
			func(c *config.Config) { c.Upstream.SCIM.Unmapped = config.UnmappedReject }, "upstream.scim.unmapped: reject"},
		{"extension pinned off", scimtest.Options{Extension: scim.DefaultExtensionSchema},
			func(c *config.Config) { c.Upstream.SCIM.Discover, c.Upstream.SCIM.Extension = &off, &off }, "upstream.scim.extension is false"},
		{"discovered without the extension", scimtest.Options{}, nil,
			"does not declare the schema " + scim.DefaultExtensionSchema},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, s, jane, _ := startSCIMWith(t, tc.opts, tc.tweak)
			srv.Requests()
			a := s.do(t, "PUT", "/v1/app/users/"+jane, jsonHdr, `{"isLockedOut":true}`)
			body := string(a.Body)
			if a.Status != 400 || gjson.GetBytes(a.Body, "details").Str != "isLockedOut" ||
				!strings.Contains(body, "the upstream cannot store this field") {
				t.Errorf("%d %s, want 400 naming isLockedOut", a.Status, body)
			}
			for _, leak := range []string{"upstream.scim", "urn:", "SCIM", "schema"} {
				if strings.Contains(body, leak) {
					t.Errorf("the client is told %q: %s", leak, body)
				}
			}
			if reqs := srv.Requests(); len(reqs) != 0 {
				t.Errorf("sent %+v", reqs)
			}
			if !strings.Contains(s.logs.String(), tc.log) {
				t.Errorf("the operator's log lacks %q: %s", tc.log, s.logs.String())
			}
		})
	}
}
