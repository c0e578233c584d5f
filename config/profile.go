package config

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/userbridge/userbridge/internal/upstream/rest"
	"github.com/userbridge/userbridge/internal/upstream/scim"
)

// The upstream profiles.
const (
	ProfileCanonical = "canonical"
	ProfileSCIM      = "scim"
	ProfileRules     = "rules"
)

// RulesFile is upstream.rules resolved against the config file's
// directory; "" when unset.
func (c *Config) RulesFile(src Source) string {
	f := c.Upstream.Rules
	if f != "" && !filepath.IsAbs(f) && src.Dir != "" {
		f = filepath.Join(src.Dir, f)
	}
	return f
}

// LoadRules reads and compiles profile rules' rule file.
func (c *Config) LoadRules(src Source) (*rest.Rules, error) {
	file := c.RulesFile(src)
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return rest.Load(file, data)
}

// checkProfile validates upstream.profile and the keys of each profile.
func (c *Config) checkProfile(src Source, bad func(string, string, ...any), errs *[]error) {
	u := &c.Upstream
	switch u.Profile {
	case ProfileCanonical, ProfileSCIM, ProfileRules:
	default:
		bad("upstream.profile", "%q: the profiles are canonical, scim and rules", u.Profile)
		return
	}
	if u.Profile != ProfileCanonical && c.IsDemo() {
		bad("upstream.url", "profile %s needs the upstream's URL: the demo backend speaks the canonical profile", u.Profile)
	}
	if u.Profile != ProfileCanonical && (u.ByIDPath != "" || u.ByUsernamePath != "") {
		bad("upstream.byIdPath", "only profile canonical has path templates; profile %s sets its own paths", u.Profile)
	}
	if u.Profile != ProfileSCIM && u.SCIM != (SCIM{}) {
		bad("upstream.scim", "set, but upstream.profile is %s", u.Profile)
	}
	if u.Profile != ProfileRules && u.Rules != "" {
		bad("upstream.rules", "set, but upstream.profile is %s", u.Profile)
	}
	switch u.Profile {
	case ProfileSCIM:
		if u.SCIM.ExtensionSchema != "" {
			if err := scim.CheckSchemaURN(u.SCIM.ExtensionSchema); err != nil {
				bad("upstream.scim.extensionSchema", "%v", err)
			}
		}
		switch u.SCIM.Unmapped {
		case "", scim.UnmappedExtension, scim.UnmappedReject:
		default:
			bad("upstream.scim.unmapped", "%q: extension or reject", u.SCIM.Unmapped)
		}
	case ProfileRules:
		if u.Rules == "" {
			bad("upstream.rules", "required by profile rules: the upstream rule file (docs/upstreams.md)")
			return
		}
		if _, err := c.LoadRules(src); err != nil {
			*errs = append(*errs, fmt.Errorf("%w: %s: upstream.rules: %w", ErrInvalid, src.Name, err))
		}
	}
}
