package config

import (
	"fmt"
	"time"
)

// Breaker configures the circuit breaker in front of the upstream (and,
// as dialects.<d>.legacy.breaker, the one in front of a legacy vendor). It
// opens on evidence that the upstream is unhealthy, not that one user's
// record is: within Window, at least Failures calls failed, they were at
// least FailureRatio of the calls that ended, and they came from at least
// Targets distinct users. A failure that says nothing about a user (no
// connection, a TLS failure, a 502 or 503 reply) counts as one more
// distinct user each; a failure that may be one record's (another 5xx, a
// timeout or a connection cut once the request was sent) counts for the
// user the call was for. A 4xx reply, a 429 included, is a working
// upstream. docs/security.md has the whole rule.
type Breaker struct {
	// Enabled turns it on (default true).
	Enabled *bool `yaml:"enabled"`
	// Failures is the fewest failed calls within Window that open it
	// (default 5).
	Failures uint32 `yaml:"failures"`
	// FailureRatio is the least share of the calls that ended within
	// Window that must have failed (default 0.5; above 0, at most 1).
	FailureRatio float64 `yaml:"failureRatio"`
	// Targets is the fewest distinct users the failures within Window
	// must come from (default 3; 1 to 100). A user is the kind of
	// reference (id or username), its value and its tenant, whatever the
	// dialect that named it; 1 opens on failures for any one user.
	Targets int `yaml:"targets"`
	// Window is how far back the breaker looks, a rolling window of ten
	// steps (default 30s; 1s to 1h).
	Window Duration `yaml:"window"`
	// OpenFor is how long it stays open before one trial call is let
	// through (default 10s).
	OpenFor Duration `yaml:"openFor"`
}

// IsEnabled reports whether the breaker is on.
func (b Breaker) IsEnabled() bool { return b.Enabled == nil || *b.Enabled }

// The breaker's defaults (DefaultBreakerFailures and DefaultBreakerOpenFor
// are with the upstream's) and limits.
const (
	DefaultBreakerFailureRatio = 0.5
	DefaultBreakerTargets      = 3
	DefaultBreakerWindow       = 30 * time.Second

	MaxBreakerTargets = 100
	MinBreakerWindow  = time.Second
	MaxBreakerWindow  = time.Hour
)

// WithDefaults returns b with every unset key at its default, for a
// breaker configured in code (Resolve gives a file's its defaults).
func (b Breaker) WithDefaults() Breaker { return b.withDefaults() }

// withDefaults returns b with every unset key at its default.
func (b Breaker) withDefaults() Breaker {
	setDefault(&b.Failures, DefaultBreakerFailures)
	setDefault(&b.FailureRatio, DefaultBreakerFailureRatio)
	setDefault(&b.Targets, DefaultBreakerTargets)
	setDefault(&b.Window, Duration(DefaultBreakerWindow))
	setDefault(&b.OpenFor, Duration(DefaultBreakerOpenFor))
	return b
}

// check reports every problem of upstream.breaker's keys, each a
// *KeyError. Unset keys (zero) take their defaults and are no problem.
func (b Breaker) check() []error { return b.checkAt("upstream.breaker") }

// checkAt is check for the breaker block at the dotted key at (the
// upstream's, or a legacy vendor's).
func (b Breaker) checkAt(at string) []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &KeyError{Key: at + "." + key, Problem: fmt.Sprintf(format, args...)})
	}
	if b.FailureRatio < 0 || b.FailureRatio > 1 || b.FailureRatio != b.FailureRatio { // NaN too
		bad("failureRatio", "%v: above 0, at most 1 (a share of the calls, 0.5 for half)", b.FailureRatio)
	}
	if b.Targets < 0 || b.Targets > MaxBreakerTargets {
		bad("targets", "%d: from 1 to %d", b.Targets, MaxBreakerTargets)
	}
	if w := b.Window.D(); w != 0 && (w < MinBreakerWindow || w > MaxBreakerWindow) {
		bad("window", "%v: from %v to %v", w, MinBreakerWindow, MaxBreakerWindow)
	}
	if b.OpenFor < 0 {
		bad("openFor", "must not be negative")
	}
	return errs
}
