package telemetry

import (
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/userbridge/userbridge/internal/lex"
)

// Redacted replaces the value of an attribute whose key names a secret.
const Redacted = "[redacted]"

// Sensitive reports whether a log attribute names a secret (sensitiveName).
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

// sensitiveName is lex.SecretName (the rule every redaction by name
// follows) but for the access line's own attribute "auth", which says how
// a caller proved who they are, never with what; and with "x-key", the
// name some dialects' key headers have (Shift's, which names its key).
func sensitiveName(key string) bool {
	if key == "auth" {
		return false
	}
	return lex.SecretName(key) || strings.Contains(strings.ToLower(key), "x-key")
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
