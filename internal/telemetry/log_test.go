package telemetry

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// Sensitive remembers its answers: asked again, it answers the same.
func TestSensitiveRemembered(t *testing.T) {
	for _, k := range []string{"status", "Authorization", "x-api-key", "request_id", "newPassword", "latency"} {
		first, again := Sensitive(k), Sensitive(k)
		if first != sensitiveName(k) || again != first {
			t.Errorf("Sensitive(%q): %v then %v, want %v", k, first, again, sensitiveName(k))
		}
	}
}

// BenchmarkAccessLine is the cost of one access line as the server writes
// it at level info (internal/server's finish), formatted and redacted.
func BenchmarkAccessLine(b *testing.B) {
	log := NewLogger(io.Discard, "json", slog.LevelInfo)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		log.LogAttrs(ctx, slog.LevelInfo, "request",
			slog.String("request_id", "8f76dac9-6e6d-41f5-a3e5-bbd3507e5c4b"), slog.String("dialect", "finix"),
			slog.String("method", "PUT"), slog.String("route", "/users/:user_id"),
			slog.String("target", "id"), slog.Int("status", 200),
			slog.Int("upstream_status", 200), slog.Int("attempts", 1),
			slog.Duration("latency", 586892*time.Nanosecond), slog.Duration("upstream_latency", 481555*time.Nanosecond),
			slog.String("auth", "passthrough"))
	}
}
