package telemetry

import (
	"net/http"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// UpstreamMethods are the method label's values of the upstream series: a
// dialect request reads its user (GET) and updates it (PATCH).
var UpstreamMethods = []string{http.MethodGet, http.MethodPatch}

// Known is what the configuration served says of the label values. Declare
// sets every series it names to 0 before its first event, so that a
// dashboard, rate() and an alert see 0, not "no data". Nothing in it comes
// from a request: dialect names, the rules' field names, fixed words.
type Known struct {
	// Faults are the kind label's values of the invalid answers
	// (canonical.AnswerFaults).
	Faults []string
	// Outcomes are the outcome label's values of the comparisons
	// (migrate.Outcomes).
	Outcomes []string
	// Dialects are the dialects served.
	Dialects []KnownDialect
}

// KnownDialect is one dialect served.
type KnownDialect struct {
	Name string
	// Fields are the field names its rules know (config.Mount.Fields):
	// the validation metric's field label, OtherField besides.
	Fields []string
	// Migrating: it has a legacy vendor, whose answers are compared.
	Migrating bool
}

// Declare makes the series of the configuration served exist, at 0 until
// their first event: per dialect, the upstream attempts and retries by
// method (UpstreamMethods), the validation failures by field, the invalid
// answers by kind and, for a migrating dialect, the comparisons by outcome.
// Called again after a reload, it removes those series of a dialect no
// longer served (and the comparisons of one that stopped migrating, the
// validation failures of a field its rules no longer name), as the vendor
// breaker gauge drops a dialect's. A request still running on the previous
// configuration may count once more in a series just removed, which then
// shows again; the counters' other series (requests, upstream calls,
// field mismatches) keep their history.
func (m *Metrics) Declare(k Known) {
	m.declareMu.Lock()
	defer m.declareMu.Unlock()
	now := make(map[string]KnownDialect, len(k.Dialects))
	for _, d := range k.Dialects {
		now[d.Name] = d
	}
	for name, prev := range m.declared {
		d, ok := now[name]
		switch {
		case !ok:
			m.forget(name)
			continue
		case prev.Migrating && !d.Migrating:
			m.compared.DeletePartialMatch(prometheus.Labels{"dialect": name})
		}
		for _, f := range prev.Fields {
			if !slices.Contains(d.Fields, f) {
				m.invalid.DeleteLabelValues(name, f)
			}
		}
	}
	for _, d := range k.Dialects {
		for _, meth := range UpstreamMethods {
			m.upAttempts.WithLabelValues(d.Name, meth)
			m.upRetries.WithLabelValues(d.Name, meth)
		}
		m.invalid.WithLabelValues(d.Name, OtherField)
		for _, f := range d.Fields {
			m.invalid.WithLabelValues(d.Name, f)
		}
		for _, f := range k.Faults {
			m.answers.WithLabelValues(d.Name, f)
		}
		if d.Migrating {
			for _, o := range k.Outcomes {
				m.compared.WithLabelValues(d.Name, o)
			}
		}
	}
	m.declared = now
}

// forget removes the declared series of a dialect no longer served.
func (m *Metrics) forget(dialect string) {
	l := prometheus.Labels{"dialect": dialect}
	for _, v := range []*prometheus.CounterVec{m.upAttempts, m.upRetries, m.invalid, m.answers, m.compared} {
		v.DeletePartialMatch(l)
	}
	// Upstream keeps its attempts series at hand: the removed one would
	// count where no scrape reads it, were the dialect served again.
	m.upSeries.Range(func(k, _ any) bool {
		if k.(seriesKey).dialect == dialect {
			m.upSeries.Delete(k)
		}
		return true
	})
}
