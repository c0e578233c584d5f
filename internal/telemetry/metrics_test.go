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
