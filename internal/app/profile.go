package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/server"
	"github.com/userbridge/userbridge/internal/upstream"
	"github.com/userbridge/userbridge/internal/upstream/ldap"
	"github.com/userbridge/userbridge/internal/upstream/rest"
	"github.com/userbridge/userbridge/internal/upstream/scim"
)

// Resolve validates the configuration as config's Resolve does, and
// compiles profile rules' upstream rule file, which package config cannot
// (the rules profile is internal/upstream/rest's). Every problem is
// reported at once, each with where it is. validate, serve and reload all
// call it, so that they refuse the same configurations.
func Resolve(cfg *config.Config, src config.Source) ([]config.Mount, error) {
	mounts, err := cfg.Resolve(src)
	errs := []error{err}
	if cfg.Upstream.Profile == config.ProfileRules && cfg.Upstream.Rules != "" {
		// An unreadable file is cfg.Resolve's to report.
		if file, data, rerr := cfg.ReadRules(src); rerr == nil {
			if _, cerr := rest.Load(file, data); cerr != nil {
				errs = append(errs, fmt.Errorf("%w: %s: upstream.rules: %w", config.ErrInvalid, src.Name, cerr))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return mounts, nil
}

// LoadRules reads and compiles profile rules' upstream rule file.
func LoadRules(cfg *config.Config, src config.Source) (*rest.Rules, error) {
	file, data, err := cfg.ReadRules(src)
	if err != nil {
		return nil, err
	}
	return rest.Load(file, data)
}

// newProfile builds the client of the configured upstream profile over hc,
// the HTTP client of upstream.url: hc itself for canonical. Profile ldap
// has a client of its own (hc is nil), and is probed: a directory that
// cannot serve fails start-up, in one line (CheckUpstream).
func newProfile(cfg *config.Config, src config.Source, hc *upstream.Client) (server.Upstream, error) {
	switch cfg.Upstream.Profile {
	case config.ProfileLDAP:
		c, err := ldap.New(cfg.Upstream)
		if err != nil {
			return nil, err
		}
		if err := probeLDAP(c, src); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	case config.ProfileSCIM:
		return scim.New(hc, cfg.Upstream)
	case config.ProfileRules:
		rules, err := LoadRules(cfg, src)
		if err != nil {
			return nil, fmt.Errorf("app: upstream.rules: %w", err)
		}
		return rest.New(hc, rules, cfg.Upstream)
	}
	return hc, nil
}

// CheckUpstream checks, for `validate`, that the upstream can serve where
// that takes more than reading the configuration: profile ldap connects,
// binds and reads its base DNs. Other profiles: nil. The error is one line
// naming the key at fault.
func CheckUpstream(cfg *config.Config, src config.Source) error {
	if cfg.Upstream.Profile != config.ProfileLDAP {
		return nil
	}
	c, err := ldap.New(cfg.Upstream)
	if err != nil {
		return err
	}
	defer c.Close()
	return probeLDAP(c, src)
}

// probeLDAP probes the directory within upstream.timeout.
func probeLDAP(c *ldap.Client, src config.Source) error {
	if err := c.Probe(context.Background()); err != nil {
		return fmt.Errorf("%w: %s: %w", config.ErrInvalid, src.Name, err)
	}
	return nil
}

// probed is what the probes, the metrics and Shutdown need of the upstream.
type probed interface {
	Ready(context.Context) error
	BreakerState() string
	Close()
}

// probed is the HTTP client of the upstream, or the profile's client when
// it has none (ldap).
func (a *App) probed() probed {
	if a.Upstream != nil {
		return a.Upstream
	}
	return a.Profile.(probed)
}

// The profiles' clients serve the dialects and the probes alike.
var (
	_ server.Upstream = (*ldap.Client)(nil)
	_ probed          = (*ldap.Client)(nil)
	_ server.Upstream = (*scim.Client)(nil)
	_ server.Upstream = (*rest.Client)(nil)
	_ server.Upstream = (*upstream.Client)(nil)
)
