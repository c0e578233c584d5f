// Package telemetry is how userbridge is observed: Prometheus metrics on a
// registry of its own, the slog logger with secrets redacted, and
// OpenTelemetry tracing configured by the standard OTEL_* environment.
package telemetry

import "runtime/debug"

// Stamped at build time by the release build (README, Dockerfile):
//
//	-ldflags "-X github.com/userbridge/userbridge/internal/telemetry.version=v1.2.3
//	          -X github.com/userbridge/userbridge/internal/telemetry.commit=<sha>
//	          -X github.com/userbridge/userbridge/internal/telemetry.date=<RFC 3339>"
//
// Each left empty is read from the binary's build information instead
// (the module version, vcs.revision and vcs.time that go build records in
// a git checkout).
var (
	version string
	commit  string
	date    string
)

// Build says which userbridge is running.
type Build struct {
	// Version is the release (the tag, as git describe gives it), else the
	// module version, "(devel)" for a local build.
	Version string
	// Revision is the VCS commit, "unknown" when not recorded.
	Revision string
	// Date is when the commit was made (or the build, as stamped), RFC
	// 3339; "unknown" when not recorded.
	Date string
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string
}

// ReadBuild reads the build information stamped into the binary.
func ReadBuild() Build {
	b := Build{Version: "(devel)", Revision: "unknown", Date: "unknown", GoVersion: "unknown"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		b.GoVersion = bi.GoVersion
		if bi.Main.Version != "" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch {
			case s.Value == "":
			case s.Key == "vcs.revision":
				b.Revision = s.Value
			case s.Key == "vcs.time":
				b.Date = s.Value
			}
		}
	}
	for _, s := range []struct {
		stamped string
		into    *string
	}{{version, &b.Version}, {commit, &b.Revision}, {date, &b.Date}} {
		if s.stamped != "" {
			*s.into = s.stamped
		}
	}
	return b
}
