package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Migration modes of a dialect's legacy vendor (Legacy.Mode).
const (
	// LegacyOff: the vendor is not called (the default).
	LegacyOff = "off"
	// LegacyShadow: the vendor is the truth; the client gets its answer,
	// userbridge computes its own and compares.
	LegacyShadow = "shadow"
	// LegacyPrimary: userbridge is the truth; the vendor is kept current
	// with every update the upstream applied, and its answer compared.
	LegacyPrimary = "primary"
)

// DefaultLegacyTimeout bounds one call to a legacy vendor.
const DefaultLegacyTimeout = 5 * time.Second

// Legacy is the vendor API a dialect's clients used until now, for a
// migration with proof (docs/migration.md).
type Legacy struct {
	// URL is the vendor's base URL (http or https); the client's path,
	// without the dialect's prefix, is appended to it. https checks the
	// vendor's certificate against the system roots, or legacy.tls.
	URL string `yaml:"url"`
	// Mode is shadow, primary or off (default off).
	Mode string `yaml:"mode"`
	// Timeout bounds one call to the vendor (default 5s). Added to
	// upstream.timeout it must stay below server.writeTimeout: the answer
	// is written after both calls.
	Timeout Duration `yaml:"timeout"`
	// Ignore lists answer members (dotted paths, e.g. "_links" or
	// "user.updatedAt") left out of the comparisons.
	Ignore []string `yaml:"ignore"`
	// TLS is the vendor's own (https only): a CA bundle that replaces the
	// system roots, a client certificate, a server name. Never the
	// upstream's: the vendor is a third party.
	TLS TLS `yaml:"tls"`
	// Breaker stops calling a vendor that keeps failing: while it is
	// open, a call fails at once (legacy_error "vendor breaker open")
	// instead of waiting up to Timeout. The keys and defaults of
	// upstream.breaker; a failure is the vendor unreachable or too slow,
	// or its 5xx answer.
	Breaker Breaker `yaml:"breaker"`
}

// ClientTLS is the TLS configuration of the hop to the vendor, from
// legacy.tls alone; nil for an http vendor. Its problems are
// *KeyErrors named under upstream.tls, as TLS.ClientConfig's; problems
// renames them under the legacy block.
func (l Legacy) ClientTLS() (*tls.Config, error) {
	u, err := url.Parse(l.URL)
	if err != nil {
		return nil, &KeyError{Key: "url", Problem: "not a URL"}
	}
	return l.TLS.ClientConfig(u.Scheme == "https")
}

// Active reports whether the vendor is called (mode shadow or primary).
func (l Legacy) Active() bool { return l.Mode == LegacyShadow || l.Mode == LegacyPrimary }

// withDefaults returns l with its defaults applied.
func (l Legacy) withDefaults() Legacy {
	if l.Mode == "" {
		l.Mode = LegacyOff
	}
	if l.Timeout == 0 {
		l.Timeout = Duration(DefaultLegacyTimeout)
	}
	l.Breaker = l.Breaker.withDefaults()
	return l
}

// problems lists what is wrong with l, each as (key under where, problem).
func (l Legacy) problems(bad func(key, format string, args ...any), where string) {
	switch l.Mode {
	case LegacyOff, LegacyShadow, LegacyPrimary:
	default:
		bad(where+".mode", "%q is not shadow, primary or off", l.Mode)
	}
	if l.Active() || l.URL != "" {
		u, err := url.Parse(l.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			bad(where+".url", "%q is not an http(s) URL without query (mode %s needs one)", l.URL, l.Mode)
		}
	}
	if l.Active() {
		// As serve builds the vendor's client: its files read and parsed.
		if _, err := l.ClientTLS(); err != nil {
			for _, e := range unjoin(err) {
				var ke *KeyError
				if errors.As(e, &ke) && strings.HasPrefix(ke.Key, "upstream.tls") {
					bad(where+".tls"+strings.TrimPrefix(ke.Key, "upstream.tls"), "%s", ke.Problem)
				}
			}
		}
	}
	if l.Timeout.D() < 0 || l.Timeout.D() > time.Hour {
		bad(where+".timeout", "%s is out of range (0 < timeout <= 1h)", l.Timeout.D())
	}
	for _, e := range l.Breaker.checkAt(where + ".breaker") {
		var ke *KeyError
		if errors.As(e, &ke) {
			bad(ke.Key, "%s", ke.Problem)
		}
	}
	for i, p := range l.Ignore {
		if p == "" || strings.HasPrefix(p, ".") || strings.HasSuffix(p, ".") || strings.Contains(p, "..") {
			bad(fmt.Sprintf("%s.ignore.%d", where, i), "%q is not a dotted path such as _links or user.updatedAt", p)
		}
	}
}

// unjoin lists the errors an errors.Join holds, or err alone.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Migration configures what the comparisons of every dialect write.
type Migration struct {
	// Log is the file the comparisons are appended to, one JSON object a
	// line (stderr when empty). Changing it needs a restart.
	Log string `yaml:"log"`
}
