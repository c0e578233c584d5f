package app

import (
	"fmt"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/server"
	"github.com/userbridge/userbridge/internal/upstream"
	"github.com/userbridge/userbridge/internal/upstream/rest"
	"github.com/userbridge/userbridge/internal/upstream/scim"
)

// newProfile builds the client of the configured upstream profile over hc,
// the HTTP client of upstream.url: hc itself for canonical.
func newProfile(cfg *config.Config, src config.Source, hc *upstream.Client) (server.Upstream, error) {
	u := cfg.Upstream
	switch u.Profile {
	case config.ProfileSCIM:
		return scim.New(hc, scim.Config{ExtensionSchema: u.SCIM.ExtensionSchema, Unmapped: u.SCIM.Unmapped, LookupTTL: u.LookupTTL.D()})
	case config.ProfileRules:
		rules, err := cfg.LoadRules(src)
		if err != nil {
			return nil, fmt.Errorf("app: upstream.rules: %w", err)
		}
		return rest.New(hc, rules, rest.Config{LookupTTL: u.LookupTTL.D()})
	}
	return hc, nil
}

// The profiles' clients serve the dialects and the probes alike.
var (
	_ server.Upstream = (*scim.Client)(nil)
	_ server.Upstream = (*rest.Client)(nil)
	_ server.Upstream = (*upstream.Client)(nil)
)
