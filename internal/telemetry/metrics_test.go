package telemetry

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Request and Upstream resolve their series once per label set; every
// record must still land in the right series, and a series appears only
// once something is recorded in it.
func TestMetricsRecordBySeries(t *testing.T) {
	m := NewMetrics(Build{Version: "test"}, nil)
	for range 3 {
		m.Request("finix", "/users/:user_id", 200, 2*time.Millisecond)
	}
	m.Request("finix", "/users/:user_id", 422, time.Millisecond)
	m.Request("shift", "/users/:id", 200, time.Millisecond)

	m.Upstream("finix", "PATCH", 200, 1, time.Millisecond)
	m.Upstream("finix", "PATCH", 200, 3, time.Millisecond)
	m.Upstream("finix", "PATCH", 0, 0, time.Millisecond) // refused before sending: no attempt
	m.Upstream("shift", "GET", 0, 0, time.Millisecond)

	for _, tc := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"finix", "/users/:user_id", "200"}, 3},
		{[]string{"finix", "/users/:user_id", "422"}, 1},
		{[]string{"shift", "/users/:id", "200"}, 1},
	} {
		if got := testutil.ToFloat64(m.requests.WithLabelValues(tc.labels...)); got != tc.want {
			t.Errorf("requests%v = %v, want %v", tc.labels, got, tc.want)
		}
	}
	if got := testutil.ToFloat64(m.upCalls.WithLabelValues("finix", "PATCH", "200")); got != 2 {
		t.Errorf("upstream calls finix PATCH 200 = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.upCalls.WithLabelValues("finix", "PATCH", NoReply)); got != 1 {
		t.Errorf("upstream calls finix PATCH none = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.upAttempts.WithLabelValues("finix", "PATCH")); got != 4 {
		t.Errorf("attempts = %v, want 4", got)
	}
	if got := testutil.ToFloat64(m.upRetries.WithLabelValues("finix", "PATCH")); got != 2 {
		t.Errorf("retries = %v, want 2", got)
	}
	if n := testutil.CollectAndCount(m.requestDur); n != 2 {
		t.Errorf("%d request duration series, want 2", n)
	}
	// A call that made no attempt leaves no attempts series behind.
	out, err := testutil.CollectAndLint(m.upAttempts)
	if err != nil || len(out) != 0 {
		t.Fatalf("lint: %v %v", out, err)
	}
	want := `
# HELP userbridge_upstream_attempts_total HTTP requests sent to the upstream, retries included.
# TYPE userbridge_upstream_attempts_total counter
userbridge_upstream_attempts_total{dialect="finix",method="PATCH"} 4
`
	if err := testutil.CollectAndCompare(m.upAttempts, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// The vendor breaker gauge reads its function at each scrape: no series
// until it is set, then four per dialect it names, 1 for the state.
func TestMetricsVendorBreakers(t *testing.T) {
	m := NewMetrics(Build{Version: "test"}, nil)
	c := vendorBreakerCollector{m}
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Fatalf("%d series before SetVendorBreakers", n)
	}
	states := map[string]string{"finix": "open"}
	m.SetVendorBreakers(func() map[string]string { return states })
	want := `
# HELP userbridge_migration_vendor_breaker_state 1 for the current state of a migrating dialect's legacy vendor breaker (closed, half-open, open; disabled when it is off), 0 for the others; no series for a dialect without a legacy vendor.
# TYPE userbridge_migration_vendor_breaker_state gauge
userbridge_migration_vendor_breaker_state{dialect="finix",state="closed"} 0
userbridge_migration_vendor_breaker_state{dialect="finix",state="disabled"} 0
userbridge_migration_vendor_breaker_state{dialect="finix",state="half-open"} 0
userbridge_migration_vendor_breaker_state{dialect="finix",state="open"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	states = map[string]string{"shift": "closed"}
	if err := testutil.CollectAndCompare(c, strings.NewReader(strings.NewReplacer(`"finix"`, `"shift"`, `"closed"} 0`, `"closed"} 1`, `"open"} 1`, `"open"} 0`).Replace(want))); err != nil {
		t.Error(err)
	}
	if out, err := testutil.CollectAndLint(c); err != nil || len(out) != 0 {
		t.Errorf("lint: %v %v", out, err)
	}
}
