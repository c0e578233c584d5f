package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
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
	return src.Path(c.Upstream.Rules)
}

// Profile scim's defaults and the values of its unmapped key.
const (
	// DefaultSCIMExtensionSchema holds the canonical fields SCIM has no
	// attribute for, unless upstream.scim.extensionSchema names another.
	DefaultSCIMExtensionSchema = "urn:userbridge:params:scim:schemas:extension:2.0:User"
	// DefaultLookupTTL is upstream.lookupTTL's default.
	DefaultLookupTTL = 30 * time.Second
	// UnmappedExtension sends those fields to the extension schema.
	UnmappedExtension = "extension"
	// UnmappedReject refuses an update that sets or unsets one.
	UnmappedReject = "reject"
)

// ReadRules reads profile rules' rule file; it returns the file's resolved
// name with its bytes, for the rules profile (internal/upstream/rest) to
// compile.
func (c *Config) ReadRules(src Source) (file string, data []byte, err error) {
	file = c.RulesFile(src)
	data, err = os.ReadFile(file)
	return file, data, err
}

// Check reports the problems of profile scim's keys, each a *KeyError,
// joined; nil when there is none. Unset keys take their defaults.
func (s SCIM) Check() error {
	var errs []error
	if s.ExtensionSchema != "" {
		if err := CheckSchemaURN(s.ExtensionSchema); err != nil {
			errs = append(errs, &KeyError{Key: "upstream.scim.extensionSchema", Problem: err.Error()})
		}
	}
	switch s.Unmapped {
	case "", UnmappedExtension, UnmappedReject:
	default:
		errs = append(errs, &KeyError{Key: "upstream.scim.unmapped", Problem: fmt.Sprintf("%q: extension or reject", s.Unmapped)})
	}
	if s.Discovers() {
		for _, k := range [...]struct {
			key string
			set bool
		}{{"extension", s.Extension != nil}, {"patch", s.Patch != nil}, {"etag", s.ETag != nil}} {
			if k.set {
				errs = append(errs, &KeyError{Key: "upstream.scim." + k.key, Problem: "pins a capability: only with upstream.scim.discover: false (discovery reads it from the provider)"})
			}
		}
	} else {
		if s.StartUndiscovered {
			errs = append(errs, &KeyError{Key: "upstream.scim.startUndiscovered", Problem: "set, but upstream.scim.discover is false"})
		}
		if s.DiscoveryCredentials != nil {
			errs = append(errs, &KeyError{Key: "upstream.scim.discoveryCredentials", Problem: "set, but upstream.scim.discover is false: nothing is discovered"})
		}
	}
	if u := s.DiscoveryCredentials; u != nil {
		for _, err := range u.Validate("upstream.scim.discoveryCredentials") {
			var p *authProblem
			if errors.As(err, &p) {
				errs = append(errs, &KeyError{Key: p.key, Problem: p.text})
			}
		}
	}
	return errors.Join(errs...)
}

// CheckSchemaURN accepts a schema URN usable in a SCIM PATCH path: "urn:",
// then no space, quote, bracket or other character a path cannot hold,
// and not ending with ':'.
func CheckSchemaURN(s string) error {
	if !strings.HasPrefix(strings.ToLower(s), "urn:") || strings.HasSuffix(s, ":") || len(s) > 256 {
		return fmt.Errorf("%q is not a schema URN such as %s", s, DefaultSCIMExtensionSchema)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"[]\`+"`"+`{}<>`, c) >= 0 {
			return fmt.Errorf("%q: character %q is not allowed in a schema URN", s, c)
		}
	}
	return nil
}

// checkProfile validates upstream.profile and the keys of each profile.
func (c *Config) checkProfile(src Source, bad func(string, string, ...any), errs *[]error) {
	u := &c.Upstream
	switch u.Profile {
	case ProfileCanonical, ProfileSCIM, ProfileRules, ProfileLDAP:
	default:
		bad("upstream.profile", "%q: the profiles are canonical, scim, rules and ldap", u.Profile)
		return
	}
	// The profile as the problems of other keys name it: with the
	// variable or flag that set it, when one did.
	profile := u.Profile
	if by, ok := c.origins["upstream.profile"]; ok {
		profile += " (" + by + ")"
	}
	if u.Profile != ProfileCanonical && c.IsDemo() {
		bad("upstream.url", "profile %s needs the upstream's URL: the demo backend speaks the canonical profile", profile)
	}
	if u.Profile != ProfileCanonical && (u.ByIDPath != "" || u.ByUsernamePath != "") {
		bad("upstream.byIdPath", "only profile canonical has path templates; profile %s sets its own paths", profile)
	}
	if u.Profile != ProfileSCIM && u.SCIM != (SCIM{}) {
		bad("upstream.scim", "set, but upstream.profile is %s", profile)
	}
	if u.Profile != ProfileLDAP && !u.LDAP.IsZero() {
		bad("upstream.ldap", "set, but upstream.profile is %s", profile)
	}
	if u.Profile != ProfileRules && u.Rules != "" {
		bad("upstream.rules", "set, but upstream.profile is %s", profile)
	}
	switch u.Profile {
	case ProfileSCIM:
		for _, ke := range keyErrors(u.SCIM.Check()) {
			bad(ke.Key, "%s", ke.Problem)
		}
	case ProfileLDAP:
		if u.MaxConns != 0 || u.MaxIdleConns != 0 {
			bad("upstream.maxConns", "profile ldap keeps a pool of its own: upstream.ldap.poolSize")
		}
		if u.LookupTTL != 0 {
			bad("upstream.lookupTTL", "profile ldap searches the user on every call; nothing is remembered")
		}
		for _, ke := range keyErrors(u.LDAP.Check(u.URL)) {
			if ke.Key != "upstream.url" { // Check reports the URL (BaseURL)
				bad(ke.Key, "%s", ke.Problem)
			}
		}
	case ProfileRules:
		if u.Rules == "" {
			bad("upstream.rules", "required by profile %s: the upstream rule file (docs/upstreams.md)", profile)
			return
		}
		// Read here; compiled where the rules profile is built (app.Resolve
		// reports its problems with the others).
		if _, _, err := c.ReadRules(src); err != nil {
			*errs = append(*errs, fmt.Errorf("%w: %s: upstream.rules: %w", ErrInvalid, src.Name, err))
		}
	}
}
