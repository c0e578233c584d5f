package telemetry

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Label values used where no request-supplied value may go.
const (
	// NoDialect is the dialect label of a request no dialect serves.
	NoDialect = "none"
	// Unmatched is the route label of a request no route matches.
	Unmatched = "unmatched"
	// OtherField is the field label of a field the dialect's rules do not
	// name: the label set stays bounded by the rule files.
	OtherField = "other"
	// NoReply is the status label of an upstream call that got no answer.
	NoReply = "none"
)

// durationBuckets suit a proxy in front of an upstream with a 5s default
// deadline: from 1ms to 10s.
var durationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Metrics are userbridge's Prometheus metrics, on a registry of their own
// (never the global default), so that two apps in one process — tests — do
// not share series. Every label value is a dialect name, a route template, a
// status code, an HTTP method or a field name from a rule file: never a user
// id, a username or a credential.
type Metrics struct {
	// Registry holds every userbridge series plus the Go and process
	// collectors.
	Registry *prometheus.Registry

	requests   *prometheus.CounterVec
	requestDur *prometheus.HistogramVec
	upCalls    *prometheus.CounterVec
	upDur      *prometheus.HistogramVec
	upAttempts *prometheus.CounterVec
	upRetries  *prometheus.CounterVec
	invalid    *prometheus.CounterVec
	answers    *prometheus.CounterVec
	reloads    *prometheus.CounterVec
	reloadOK   prometheus.Gauge
	reloadAt   prometheus.Gauge
	compared   *prometheus.CounterVec
	fieldDiffs *prometheus.CounterVec
	// vendors reports the legacy vendors' breakers (SetVendorBreakers);
	// nil until set.
	vendors atomic.Pointer[func() map[string]string]
	// restartPending is 1 while a reload holds a change for a restart.
	restartPending prometheus.Gauge

	// declared are the dialects Declare last made series for.
	declareMu sync.Mutex
	declared  map[string]KnownDialect

	// The series Request and Upstream record, by label values: resolving
	// them through the vectors hashes and checks every label value on
	// every request. Bounded as the series themselves are.
	reqSeries sync.Map // seriesKey → *reqSeries
	upSeries  sync.Map // seriesKey → *upSeries
}

// seriesKey is the label values of a request's or an upstream call's series:
// dialect, route or method, status.
type seriesKey struct {
	dialect, name string
	status        int
}

type reqSeries struct {
	count prometheus.Counter
	dur   prometheus.Observer
}

type upSeries struct {
	calls    prometheus.Counter
	dur      prometheus.Observer
	attempts func() prometheus.Counter // resolved at first use: no series before an attempt
}

// NewMetrics registers every series. breaker reports the upstream breaker's
// state ("closed", "half-open", "open" or "disabled") at each scrape.
func NewMetrics(b Build, breaker func() string) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "userbridge_requests_total",
			Help: "Requests answered, by dialect, route template and HTTP status sent.",
		}, []string{"dialect", "route", "status"}),
		requestDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "userbridge_request_duration_seconds",
			Help:    "Time from receiving a request to having answered it, upstream calls included.",
			Buckets: durationBuckets,
		}, []string{"dialect", "route"}),
		upCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "userbridge_upstream_calls_total",
			Help: "Upstream calls (each possibly several attempts), by dialect, HTTP method and the upstream's last status (none: no answer, a call the breaker paused included).",
		}, []string{"dialect", "method", "status"}),
		upDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "userbridge_upstream_call_duration_seconds",
			Help:    "Time of one upstream call that sent a request, every attempt and wait between attempts included (a call the breaker paused is not timed).",
			Buckets: durationBuckets,
		}, []string{"dialect", "method"}),
		upAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "userbridge_upstream_attempts_total",
			Help: "HTTP requests sent to the upstream, retries included.",
		}, []string{"dialect", "method"}),
		upRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "userbridge_upstream_retries_total",
			Help: "HTTP requests sent to the upstream again after a failed attempt.",
		}, []string{"dialect", "method"}),
		invalid: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "userbridge_validation_failures_total",
			Help: "Requests refused for a field, by dialect and the field's name in the dialect's rules (other: a name the rules do not know).",
		}, []string{"dialect", "field"}),
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "userbridge_upstream_invalid_answers_total",
			Help: "Upstream answers refused for not being the canonical user the call addressed, by dialect and kind (other_user, unidentified, wrong_type, bad_timestamp, unknown_field, password, malformed).",
		}, []string{"dialect", "kind"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "userbridge_config_reloads_total",
			Help: "Configuration reloads, by result (success or failure).",
		}, []string{"result"}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "userbridge_config_last_reload_successful",
			Help: "1 when the last configuration reload (or the start-up load) succeeded, 0 when it was refused.",
		}),
		reloadAt: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "userbridge_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last configuration successfully loaded.",
		}),
	}
	m.compared = prometheus.NewCounterVec(prometheus.CounterOpts{
		// The outcomes are migrate.Outcomes (TestOutcomesInMetricHelp keeps them true).
		Name: "userbridge_migration_comparisons_total",
		Help: "Comparisons of a legacy vendor's answer with userbridge's, by dialect and outcome (match, mismatch, candidate_error, legacy_error, not_comparable).",
	}, []string{"dialect", "outcome"})
	m.fieldDiffs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "userbridge_migration_field_mismatches_total",
		Help: "Answer members that differed between a legacy vendor and userbridge, by dialect and dotted path (indices as #; status; body; other past the first 64 paths).",
	}, []string{"dialect", "field"})
	m.restartPending = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "userbridge_config_restart_pending",
		Help: "1 while the configuration file asks for a change that only a restart applies (a reload held it: a listen address, log.format, upstream.* or an upstream file), 0 otherwise.",
	})
	m.reloadOK.Set(1)
	m.reloadAt.SetToCurrentTime()
	m.reloads.WithLabelValues("success")
	m.reloads.WithLabelValues("failure")
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "userbridge_build_info",
		Help: "Always 1; the labels say which build is running.",
	}, []string{"version", "revision", "goversion"})
	buildInfo.WithLabelValues(b.Version, b.Revision, b.GoVersion).Set(1)
	reg.MustRegister(m.requests, m.requestDur, m.upCalls, m.upDur, m.upAttempts, m.upRetries, m.invalid, m.answers,
		m.reloads, m.reloadOK, m.reloadAt, m.restartPending, m.compared, m.fieldDiffs, buildInfo, breakerCollector{state: breaker},
		vendorBreakerCollector{m}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Request records one answered request. route is the route template
// (never the request's path).
func (m *Metrics) Request(dialect, route string, status int, elapsed time.Duration) {
	k := seriesKey{dialect, route, status}
	v, ok := m.reqSeries.Load(k)
	if !ok {
		v, _ = m.reqSeries.LoadOrStore(k, &reqSeries{
			count: m.requests.WithLabelValues(dialect, route, strconv.Itoa(status)),
			dur:   m.requestDur.WithLabelValues(dialect, route),
		})
	}
	s := v.(*reqSeries)
	s.count.Inc()
	s.dur.Observe(elapsed.Seconds())
}

// Upstream records one upstream call: its last status (0: no answer), its
// attempts and its time.
func (m *Metrics) Upstream(dialect, method string, status, attempts int, elapsed time.Duration) {
	k := seriesKey{dialect, method, status}
	v, ok := m.upSeries.Load(k)
	if !ok {
		st := NoReply
		if status > 0 {
			st = strconv.Itoa(status)
		}
		v, _ = m.upSeries.LoadOrStore(k, &upSeries{
			calls: m.upCalls.WithLabelValues(dialect, method, st),
			dur:   m.upDur.WithLabelValues(dialect, method),
			attempts: sync.OnceValue(func() prometheus.Counter {
				return m.upAttempts.WithLabelValues(dialect, method)
			}),
		})
	}
	s := v.(*upSeries)
	s.calls.Inc()
	if attempts > 0 {
		// A call that sent nothing (the breaker paused it, maxConns kept
		// it until its deadline) is counted, not timed: its microseconds
		// made the upstream's latency look better than ever in an outage.
		s.dur.Observe(elapsed.Seconds())
		s.attempts().Add(float64(attempts))
	}
	if attempts > 1 {
		m.upRetries.WithLabelValues(dialect, method).Add(float64(attempts - 1))
	}
}

// Invalid records a request refused for a field. field must already be
// bounded: a name from the dialect's rules, or OtherField.
func (m *Metrics) Invalid(dialect, field string) {
	m.invalid.WithLabelValues(dialect, field).Inc()
}

// InvalidAnswer records an upstream answer refused for not being the user
// addressed. fault must be one of canonical.AnswerFaults' fixed words.
func (m *Metrics) InvalidAnswer(dialect, fault string) {
	m.answers.WithLabelValues(dialect, fault).Inc()
}

// Reload records a configuration reload.
func (m *Metrics) Reload(ok bool) {
	if !ok {
		m.reloads.WithLabelValues("failure").Inc()
		m.reloadOK.Set(0)
		return
	}
	m.reloads.WithLabelValues("success").Inc()
	m.reloadOK.Set(1)
	m.reloadAt.SetToCurrentTime()
}

// RestartPending sets userbridge_config_restart_pending: true while the
// configuration file asks for a change that only a restart applies (a
// reload held it).
func (m *Metrics) RestartPending(pending bool) {
	v := 0.0
	if pending {
		v = 1
	}
	m.restartPending.Set(v)
}

// breakerStates are the values of the breaker gauge's state label.
var breakerStates = []string{"closed", "half-open", "open", "disabled"}

var breakerDesc = prometheus.NewDesc("userbridge_upstream_breaker_state",
	"1 for the upstream circuit breaker's current state (closed, half-open, open; disabled when it is off), 0 for the others.",
	[]string{"state"}, nil)

// breakerCollector reads the breaker's state at each scrape.
type breakerCollector struct{ state func() string }

func (breakerCollector) Describe(ch chan<- *prometheus.Desc) { ch <- breakerDesc }

func (b breakerCollector) Collect(ch chan<- prometheus.Metric) {
	cur := "disabled"
	if b.state != nil {
		cur = b.state()
	}
	for _, s := range breakerStates {
		v := 0.0
		if s == cur {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(breakerDesc, prometheus.GaugeValue, v, s)
	}
}

var vendorBreakerDesc = prometheus.NewDesc("userbridge_migration_vendor_breaker_state",
	"1 for the current state of a migrating dialect's legacy vendor breaker (closed, half-open, open; disabled when it is off), 0 for the others; no series for a dialect without a legacy vendor.",
	[]string{"dialect", "state"}, nil)

// SetVendorBreakers sets what the vendor breaker gauge reads at each
// scrape: the breaker state of each dialect with a legacy vendor in the
// routing being served, by dialect name. Until it is set, the gauge has
// no series.
func (m *Metrics) SetVendorBreakers(states func() map[string]string) { m.vendors.Store(&states) }

// vendorBreakerCollector reads the legacy vendors' breakers at each scrape.
type vendorBreakerCollector struct{ m *Metrics }

func (vendorBreakerCollector) Describe(ch chan<- *prometheus.Desc) { ch <- vendorBreakerDesc }

func (c vendorBreakerCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.m.vendors.Load()
	if f == nil || *f == nil {
		return
	}
	for dialect, cur := range (*f)() {
		for _, s := range breakerStates {
			v := 0.0
			if s == cur {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(vendorBreakerDesc, prometheus.GaugeValue, v, dialect, s)
		}
	}
}

// Comparison counts one comparison with a legacy vendor by its outcome.
func (m *Metrics) Comparison(dialect, outcome string) {
	m.compared.WithLabelValues(dialect, outcome).Inc()
}

// FieldMismatch counts one answer member that differed from a legacy
// vendor's; field is bounded by the recorder (migrate.Recorder).
func (m *Metrics) FieldMismatch(dialect, field string) {
	m.fieldDiffs.WithLabelValues(dialect, field).Inc()
}
