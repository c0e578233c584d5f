package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/auth"
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
				for _, e := range config.RuleProblems(cerr, rest.ErrRules) { // one problem a line
					errs = append(errs, fmt.Errorf("%w: %s: upstream.rules: %w", config.ErrInvalid, src.Name, e))
				}
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
//
// Profile scim reads the provider's capabilities first (discoverSCIM).
func newProfile(cfg *config.Config, src config.Source, hc *upstream.Client, log *slog.Logger) (server.Upstream, error) {
	switch cfg.Upstream.Profile {
	case config.ProfileLDAP:
		c, err := ldap.New(cfg.Upstream, log)
		if err != nil {
			return nil, err
		}
		if err := probeLDAP(c, cfg, src); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	case config.ProfileSCIM:
		c, err := newSCIM(cfg, src, hc, log)
		if err != nil {
			return nil, err
		}
		if err := discoverSCIM(c, cfg, src, log); err != nil {
			return nil, err
		}
		return c, nil
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
//
// Profile scim reads the provider's capabilities when it answers (an
// unreachable provider is not validate's to report: serve does, at start).
func CheckUpstream(cfg *config.Config, src config.Source) error {
	if cfg.Upstream.Profile == config.ProfileSCIM {
		return checkSCIM(cfg, src)
	}
	if cfg.Upstream.Profile != config.ProfileLDAP {
		return nil
	}
	c, err := ldap.New(cfg.Upstream, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	return probeLDAP(c, cfg, src)
}

// warnClearText logs one WARN for each thing profile ldap sends over the
// network in clear text (config.Upstream.ClearText): at start-up and on
// each reload, as validate prints them.
func warnClearText(log *slog.Logger, cfg *config.Config, src config.Source) {
	for _, w := range cfg.Upstream.ClearText() {
		log.Warn(w.Problem, "key", w.Key, "config", src.Name)
	}
}

// probeLDAP probes the directory within upstream.timeout.
func probeLDAP(c *ldap.Client, cfg *config.Config, src config.Source) error {
	err := c.Probe(context.Background())
	if err == nil {
		return nil
	}
	each := config.Problems(err) // both base DNs, when both are missing
	out := make([]error, 0, len(each))
	for _, e := range each {
		// The key at fault by the variable or flag that set it, if one did.
		var pe *ldap.ProbeError
		if errors.As(e, &pe) {
			out = append(out, fmt.Errorf("%w: %s: %s", config.ErrInvalid, cfg.Named(src, pe.Key), pe.Problem))
		} else {
			out = append(out, fmt.Errorf("%w: %s: %w", config.ErrInvalid, src.Name, e))
		}
	}
	return errors.Join(out...)
}

// checkSCIM runs profile scim's discovery for validate.
func checkSCIM(cfg *config.Config, src config.Source) error {
	if !cfg.Upstream.SCIM.Discovers() {
		return nil
	}
	hc, err := upstream.New(cfg.Upstream, upstream.Options{})
	if err != nil {
		return err
	}
	defer hc.Close()
	c, err := newSCIM(cfg, src, hc, nil)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Upstream.WithDefaults().Timeout.D())
	defer cancel()
	_, err = c.Discover(ctx)
	var de *scim.DiscoveryError
	if errors.As(err, &de) && de.Unreachable {
		return nil
	}
	if err != nil {
		hint := ""
		if !cfg.Upstream.SCIM.StartUndiscovered {
			hint = " (upstream.scim.startUndiscovered: true starts without it)" // as serve says it
		}
		return fmt.Errorf("%w: %s: %w%s", config.ErrInvalid, cfg.Named(src, "upstream.url"), err, hint)
	}
	return nil
}

// newSCIM builds profile scim's client over hc, with discovery's
// credential (upstream.scim.discoveryCredentials: its files read here) when
// one is configured. An OAuth2 token fetch is bounded by upstream.timeout,
// as a request's; its failure is discovery's to report. A discovery after
// start-up (startUndiscovered) logs what it found to log, when not nil.
func newSCIM(cfg *config.Config, src config.Source, hc *upstream.Client, log *slog.Logger) (*scim.Client, error) {
	var o scim.Options
	if log != nil {
		o.Discovered = func(caps *scim.Capabilities) { logCapabilities(log, caps) }
	}
	if u := cfg.Upstream.SCIM.DiscoveryCreds(src); u != nil {
		cred, err := auth.NewCredential(u, auth.Options{Where: "upstream.scim.discoveryCredentials",
			CredentialTimeout: cfg.Upstream.WithDefaults().Timeout.D()})
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", config.ErrInvalid, src.Name, err)
		}
		o.DiscoveryCredential = cred
	}
	return scim.NewWith(hc, cfg.Upstream, o)
}

// discoverSCIM reads the SCIM provider's capabilities within
// upstream.timeout (pinned ones are taken as they are) and says what they
// are in one log line. A discovery that fails stops start-up in one line,
// unless upstream.scim.startUndiscovered: then it is retried on /readyz
// and on each update.
func discoverSCIM(c *scim.Client, cfg *config.Config, src config.Source, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Upstream.WithDefaults().Timeout.D())
	defer cancel()
	if fields := c.Unmapped(); len(fields) > 0 {
		// A caller is told only that the upstream cannot store its field.
		log.Info("scim: fields only userbridge's extension schema holds are refused (upstream.scim.unmapped: reject)", "fields", fields)
	}
	caps, err := c.Discover(ctx)
	if err != nil {
		if cfg.Upstream.SCIM.StartUndiscovered {
			log.Warn("scim: discovery failed; not ready until it succeeds (upstream.scim.startUndiscovered)", "error", err.Error())
			return nil
		}
		return fmt.Errorf("%w: %s: %w (upstream.scim.startUndiscovered: true starts without it)", config.ErrInvalid, cfg.Named(src, "upstream.url"), err)
	}
	logCapabilities(log, caps)
	return nil
}

// logCapabilities says what a SCIM provider holds and supports, and why
// it cannot hold each field it refuses (the schema URN, the attribute or
// upstream.scim.extension): a caller is told only that the upstream cannot
// store its field.
func logCapabilities(log *slog.Logger, caps *scim.Capabilities) {
	from := "configured"
	if caps.Discovered {
		from = "discovered"
	}
	update := "PATCH"
	if !caps.Patch {
		update = "GET+PUT"
	}
	log.Info("scim: provider capabilities "+from, "schemas", caps.Schemas, "patch", caps.Patch, "etag", caps.ETag,
		"bulk", caps.Bulk, "update", update, "refused", caps.Refused(), "why", caps.Why())
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

	// Those that refuse updates they cannot store say so before any call.
	_ server.UpdateChecker = (*ldap.Client)(nil)
	_ server.UpdateChecker = (*rest.Client)(nil)
	_ server.UpdateChecker = (*scim.Client)(nil)
)

// CheckAuth builds the authenticator of every mounted dialect as serve does
// (server.CheckAuth: the same code reads and checks the files and
// environment variables each auth block names), fetching no JWKS, and
// closes them. Each problem is one config.ErrInvalid line naming the file,
// the key's line and the key ("FILE: line N: dialects.shift.auth.apiKeys.file:
// auth: shift.keys: line 3: ..."), one a bad line of a credential file;
// none quotes a secret or a hash.
func CheckAuth(cfg *config.Config, src config.Source, mounts []config.Mount) error {
	return authProblems(cfg, src, server.CheckAuth(cfg, mounts, slog.New(slog.DiscardHandler)))
}

// authProblems is err, from building the dialects' authenticators
// (server.CheckAuth, server.New, Swap), one problem a line, each under
// its key and config line as validate prints every problem; nil for nil.
// An error that is no auth problem is kept, under the config's name.
func authProblems(cfg *config.Config, src config.Source, err error) error {
	var errs []error
	var walk func(err error, key string)
	walk = func(err error, key string) {
		if ke, ok := err.(*auth.KeyError); ok {
			walk(ke.Err, ke.Key)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e, key)
			}
			return
		}
		switch {
		case key != "":
			errs = append(errs, fmt.Errorf("%w: %s: %s: %w", config.ErrInvalid, src.Name, cfg.Where(key), err))
		case errors.As(err, new(*auth.KeyError)):
			walk(errors.Unwrap(err), "") // "server: " around a block's problems
		case errors.Is(err, config.ErrInvalid):
			errs = append(errs, err)
		default:
			errs = append(errs, fmt.Errorf("%w: %s: %w", config.ErrInvalid, src.Name, err))
		}
	}
	if err != nil {
		walk(err, "")
	}
	return errors.Join(errs...)
}
