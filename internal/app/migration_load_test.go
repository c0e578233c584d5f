package app_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/tidwall/gjson"
	"github.com/userbridge/userbridge/internal/migrate"
)

// Shadow mode under load: every client gets the vendor's answer, every
// update the vendor applied reaches the upstream, in order per user (each
// worker updates a user of its own, one update after another, and the
// last one is what both backends hold). Logged: the client latency of
// shadow mode against the vendor called directly. MIGRATION_LOAD sets the
// time of each of the two phases (default 1s; the run: 60s).
func TestMigrationShadowUnderLoad(t *testing.T) {
	phase := time.Second
	if v := os.Getenv("MIGRATION_LOAD"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		phase = d
	}
	d := specNamed(t, "trustedtwin")
	m := startMigrating(t, d, "shadow", "", "")
	const workers = 8
	users := make([]string, workers)
	for i := range users {
		users[i] = uuid.NewString()
		// One creation time for both backends: put a moment apart, they
		// would otherwise hold users created in different milliseconds,
		// and every answer would differ in created_ts.
		u := fmt.Sprintf(`{"id":%q,"username":"load-%d","displayName":"start","createdAt":"2026-01-02T03:04:05.000Z","updatedAt":"2026-01-02T03:04:05.000Z"}`, users[i], i)
		for _, s := range []*started{m.vendor, m.cand} {
			if err := s.app.Demo.Put([]byte(u)); err != nil {
				t.Fatal(err)
			}
		}
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	// Closed before the servers shut down: a connection dialed while
	// another served the request, and never used, would hold a server's
	// Shutdown for 5 s (net/http's grace for a new one), past its deadline.
	t.Cleanup(hc.CloseIdleConnections)
	run := func(base string) (lat []time.Duration, last []int) {
		var mu sync.Mutex
		last = make([]int, workers)
		var wg sync.WaitGroup
		stop := time.Now().Add(phase)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []time.Duration
				for seq := 1; time.Now().Before(stop); seq++ {
					req, _ := http.NewRequest("PATCH", base+"/users/"+users[w], strings.NewReader(fmt.Sprintf(`{"name":"w%d-%d"}`, w, seq)))
					req.Header.Set("Authorization", d.header["Authorization"])
					req.Header.Set("Content-Type", "application/json")
					t0 := time.Now()
					resp, err := hc.Do(req)
					if err != nil {
						t.Errorf("worker %d update %d: %v", w, seq, err) // a lost answer
						return
					}
					body, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					mine = append(mine, time.Since(t0))
					if err != nil || resp.StatusCode != 200 || gjson.GetBytes(body, "name").Str != fmt.Sprintf("w%d-%d", w, seq) {
						t.Errorf("worker %d update %d: %d %s %v", w, seq, resp.StatusCode, body, err)
						return
					}
					last[w] = seq
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		return lat, last
	}
	direct, _ := run(m.vendor.base)
	vendorBefore, candBefore := applied(m.vendor), applied(m.cand)
	shadow, last := run(m.cand.base + "/mig")
	sent := int64(0)
	for _, n := range last {
		sent += int64(n)
	}
	if got := applied(m.vendor) - vendorBefore; got != sent {
		t.Errorf("the vendor applied %d of %d updates", got, sent)
	}
	if got := applied(m.cand) - candBefore; got != sent {
		t.Errorf("the upstream applied %d of the %d updates the vendor applied", got, sent)
	}
	for w, id := range users {
		want := fmt.Sprintf("w%d-%d", w, last[w])
		for name, s := range map[string]*started{"vendor": m.vendor, "upstream": m.cand} {
			u, _ := s.app.Demo.User(id)
			if got := gjson.GetBytes(u, "displayName").Str; got != want {
				t.Errorf("%s holds %q for worker %d, want its last update %q", name, got, w, want)
			}
		}
	}
	rs := m.records(t)
	if int64(len(rs)) != sent {
		t.Errorf("%d comparisons for %d requests", len(rs), sent)
	}
	var other []string
	for _, r := range rs {
		if r.Outcome != migrate.Match {
			other = append(other, fmt.Sprintf("%s %s %+v", r.Outcome, r.Note, r.Diffs))
		}
	}
	if len(other) > 0 {
		t.Errorf("%d comparisons did not match: %v", len(other), other[:min(len(other), 5)])
	}
	t.Logf("%d workers, %s a phase: direct to the vendor %d requests, p50 %s p99 %s; through userbridge in shadow %d requests, p50 %s p99 %s",
		workers, phase, len(direct), pct(direct, 50), pct(direct, 99), len(shadow), pct(shadow, 50), pct(shadow, 99))
}

// pct is the p-th percentile of ds.
func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}
