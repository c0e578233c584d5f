package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/userbridge/userbridge/config"
)

// TestUnexplainedStatusEveryProfile: an upstream 4xx that neither the
// contract nor a rule explains (418, 405) is the upstream's refusal, not
// userbridge's own failure: every HTTP profile answers the dialect's 502
// naming the status (it was a 500 "internal" under canonical and rules),
// and a 413 is the same invalid_field under each (Finix's 422; scim alone
// mapped it).
func TestUnexplainedStatusEveryProfile(t *testing.T) {
	profiles := map[string]func(c *config.Config){
		"canonical": func(*config.Config) {},
		"scim": func(c *config.Config) {
			c.Upstream.Profile = config.ProfileSCIM
			c.Upstream.SCIM.Discover = new(bool) // the stand-in serves no discovery endpoints
		},
		"rules": func(c *config.Config) {
			c.Upstream.Profile = config.ProfileRules
			c.Upstream.Rules = "../../examples/upstreams/keycloak.yaml"
		},
	}
	for name, profile := range profiles {
		for _, tc := range []struct{ status, want int }{{418, 502}, {405, 502}, {413, 422}} {
			t.Run(name+"/"+http.StatusText(tc.status), func(t *testing.T) {
				rec := newRecorder(t)
				rec.set(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					if r.Method == http.MethodGet { // the rules profile's merge reads the user first
						_, _ = w.Write([]byte(`{"id":"u-1","username":"jane","enabled":true}`))
						return
					}
					w.WriteHeader(tc.status)
					_, _ = w.Write([]byte(`{"detail":"the upstream's own words"}`))
				})
				s := start(t, "", rec.srv.URL, func(c *config.Config) { e2eConfig(c); profile(c) })
				a := s.do(t, "PUT", "/users/u-1", map[string]string{"Content-Type": "application/json"}, `{"enabled":false}`)
				if a.Status != tc.want {
					t.Fatalf("%d %s, want %d", a.Status, a.Body, tc.want)
				}
				body := string(a.Body)
				if tc.want == 502 && (!strings.Contains(body, "unexpected status "+itoa(tc.status)) ||
					strings.Contains(body, "own words") || strings.Contains(body, "may have been applied")) {
					t.Errorf("message: %s", a.Body)
				}
			})
		}
	}
}
