package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/auth"
	"github.com/userbridge/userbridge/internal/migrate"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// authFor builds a mount's authenticator (reading the credential files its
// auth block names and, for jwt, fetching the JWKS) and the headers its
// handler passes upstream unchanged: the rule file's forwardHeaders and,
// with auth passthrough, its credentialHeaders. In verify mode the
// credential headers stay behind: userbridge sends its own. With check, the
// authenticator is built only to be checked (auth.Options.Check: no JWKS
// fetched).
func authFor(m config.Mount, log *slog.Logger, upstreamTimeout time.Duration, check bool) (*auth.Authenticator, []string, error) {
	p := m.Dialect.Program()
	name := m.Dialect.Name()
	// The authenticator's background work (JWKS refresh) lives until
	// Close, not until some request's context ends.
	a, err := auth.New(context.Background(), m.Auth, auth.Options{
		Where:   "dialects." + name + ".auth",
		Dialect: auth.Dialect{Name: name, CredentialHeaders: p.CredentialHeaders(), FieldName: p.UpstreamField},
		Logger:  log,
		// A token fetch is part of the upstream call: one deadline.
		CredentialTimeout: upstreamTimeout,
		Check:             check,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("server: %w", err)
	}
	forward := slices.Clone(p.ForwardHeaders()) // the rules' slice is theirs
	if !a.Verifies() {
		forward = append(forward, p.CredentialHeaders()...)
	}
	// Canonical names (the rules compile them so): upstreamHeader looks
	// them up as they are, on every request. Made so here, once, whatever
	// the rules hand over.
	for i, name := range forward {
		forward[i] = http.CanonicalHeaderKey(name)
	}
	return a, forward, nil
}

// CheckAuth builds every mount's authenticator as New and Swap do, reading
// and checking every credential file and environment variable its auth
// block names, then closes them: what `userbridge validate` runs. Unlike
// New it fetches no JWKS (a provider that does not answer does not stop
// start-up either). It reports the problems of every dialect at once, each
// problem of what a block names an *auth.KeyError.
func CheckAuth(cfg *config.Config, mounts []config.Mount, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	var errs []error
	seen := map[string]bool{}
	for _, m := range mounts {
		name := m.Dialect.Name()
		if seen[name] { // one auth block a dialect, whatever its routes
			continue
		}
		seen[name] = true
		a, _, err := authFor(m, log, cfg.Upstream.Timeout.D(), true)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		a.Close()
	}
	return errors.Join(errs...)
}

// admit checks the request's credentials, once: first that no credential
// header is sent twice (checkOnce), so that a duplicated credential is
// refused alike whether userbridge or the upstream would judge it; then,
// in verify mode, the caller (x.caller; nil in passthrough). run admits
// the request first; serveMigrating admits it before the user's lock in
// primary mode, and run then does not check it again.
func (h *handler) admit(x *exchange) *canonical.Error {
	if x.admitted {
		return nil
	}
	if e := h.checkOnce(x); e != nil {
		return e
	}
	caller, e := h.auth.Authenticate(x.c.Request)
	if e != nil {
		return e
	}
	x.caller, x.admitted = caller, true
	return nil
}

// authSet are the authenticators of one routing, and its legacy vendors
// by dialect name: what is stopped when the routing is replaced or the
// server closed.
type authSet struct {
	auths   []*auth.Authenticator
	vendors map[string]*migrate.Vendor
}

// close stops the authenticators' background work and closes the
// vendors' idle connections (Vendor.Retire: also those the calls still
// running leave idle when they end), but for a vendor keep holds under its
// dialect: one the next routing took over (an unchanged legacy block).
func (s authSet) close(keep map[string]*migrate.Vendor) {
	for _, a := range s.auths {
		a.Close()
	}
	for name, v := range s.vendors {
		if keep[name] != v {
			v.Retire()
		}
	}
}

// Close stops the background work of the current routing's authenticators
// (JWKS refreshes). Call it once Shutdown has let the requests finish; the
// server does not serve afterwards. It is safe to call more than once.
func (s *Server) Close() {
	s.mu.Lock()
	as := s.auths
	s.auths = authSet{}
	s.mu.Unlock()
	as.close(nil)
}

// VendorBreakers is the breaker state ("closed", "half-open", "open",
// "disabled") of each dialect's legacy vendor in the routing being served
// (after a reload, the new one's), by dialect name; a dialect without an
// active legacy block has none. It is safe to call at any time, from any
// goroutine: the metrics read it at each scrape, /readyz on each probe.
func (s *Server) VendorBreakers() map[string]string {
	vs := *s.vendors.Load()
	out := make(map[string]string, len(vs))
	for name, v := range vs {
		out[name] = v.BreakerState()
	}
	return out
}

// swapAuths makes as the current routing's authenticators and stops the
// previous ones. Requests still running on the previous routing keep
// verifying with the keys those hold; only their refresh stops.
func (s *Server) swapAuths(as authSet) {
	s.vendors.Store(&as.vendors)
	s.mu.Lock()
	old := s.auths
	s.auths = as
	s.mu.Unlock()
	old.close(as.vendors)
}
