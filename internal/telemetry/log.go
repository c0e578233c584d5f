package telemetry

import (
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
)

// Redacted replaces the value of an attribute whose key names a secret.
const Redacted = "[redacted]"

// sensitive are the key fragments, lower case, that name a secret: an
// attribute whose key contains one is logged as Redacted, whatever its value.
var sensitive = []string{"password", "passwd", "secret", "token", "authorization", "cookie",
	"apikey", "api_key", "api-key", "credential", "private_key", "x-key"}

// Sensitive reports whether a log attribute or header name names a secret.
// The answer for a name is remembered (for the first few thousand names):
// every access line asks it of the same dozen attribute keys.
func Sensitive(key string) bool {
	if v, ok := sensitiveSeen.Load(key); ok {
		return v.(bool)
	}
	r := sensitiveName(key)
	if sensitiveSeenN.Add(1) <= 4096 {
		sensitiveSeen.Store(strings.Clone(key), r)
	}
	return r
}

var (
	sensitiveSeen  sync.Map // name → Sensitive(name)
	sensitiveSeenN atomic.Int32
)

func sensitiveName(key string) bool {
	k := strings.ToLower(key)
	for _, s := range sensitive {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// NewLogger returns a logger writing JSON (format "json", the default) or
// logfmt-style text (format "text") to w at level. Attributes whose key
// names a secret (Sensitive) are written as Redacted, at any depth.
func NewLogger(w io.Writer, format string, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: redact}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func redact(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() != slog.KindGroup && Sensitive(a.Key) {
		return slog.String(a.Key, Redacted)
	}
	return a
}

// ParseLevel reads debug, info, warn or error; anything else is info.
func ParseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}
