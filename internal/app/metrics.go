package app

import (
	"slices"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/migrate"
	"github.com/userbridge/userbridge/internal/telemetry"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// declareSeries makes the metrics' series the configuration served names
// exist at 0 (telemetry.Metrics.Declare): its dialects (mounts), their
// rules' field names, and, for the dialects with a legacy vendor in the
// routing served (the vendor breaker gauge's), the comparisons' outcomes.
func (a *App) declareSeries(mounts []config.Mount) {
	vendors := a.Server.VendorBreakers()
	at := map[string]int{} // a dialect's index in k.Dialects
	k := telemetry.Known{Outcomes: migrate.Outcomes}
	for _, f := range canonical.AnswerFaults {
		k.Faults = append(k.Faults, string(f))
	}
	for _, m := range mounts {
		name := m.Dialect.Name()
		i, ok := at[name]
		if !ok {
			_, migrating := vendors[name]
			i, at[name] = len(k.Dialects), len(k.Dialects)
			k.Dialects = append(k.Dialects, telemetry.KnownDialect{Name: name, Migrating: migrating})
		}
		d := &k.Dialects[i]
		for _, f := range m.Fields {
			if !slices.Contains(d.Fields, f) {
				d.Fields = append(d.Fields, f)
			}
		}
	}
	a.Metrics.Declare(k)
}
