// Package telemetry is how userbridge is observed: Prometheus metrics on a
// registry of its own, the slog logger with secrets redacted, and
// OpenTelemetry tracing configured by the standard OTEL_* environment.
package telemetry

import "runtime/debug"

// Build says which userbridge is running.
type Build struct {
	// Version is the module version, "(devel)" for a local build.
	Version string
	// Revision is the VCS commit, "unknown" when not stamped.
	Revision string
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string
}

// ReadBuild reads the build information stamped into the binary.
func ReadBuild() Build {
	b := Build{Version: "(devel)", Revision: "unknown", GoVersion: "unknown"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.GoVersion = bi.GoVersion
	if bi.Main.Version != "" {
		b.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && s.Value != "" {
			b.Revision = s.Value
		}
	}
	return b
}
