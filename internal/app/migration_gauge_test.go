package app_test

import (
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/mapping/canonical"
)

const vendorGauge = "userbridge_migration_vendor_breaker_state"

// The vendors' breakers through the real server: a shadow dialect whose
// vendor is down (a closed listener) reads open in
// userbridge_migration_vendor_breaker_state once enough updates failed, one
// whose vendor works reads closed, a dialect without a legacy block has no
// series; /readyz names the same states and stays 200. A reload that
// removes a legacy block removes its series (and its /readyz entry).
func TestMigrationVendorBreakerGauge(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close()
	healthy := start(t, "", "", nil)
	log := filepath.Join(t.TempDir(), "migration.log")
	head := fmt.Sprintf("listen: 127.0.0.1:0\nupstream: {url: demo}\nmigration: {log: %q}\ndialects:\n", log)
	shiftLegacy := fmt.Sprintf("  shift:\n    prefix: /s\n    legacy: {url: %q, mode: shadow, timeout: 2s}\n", down)
	ttLegacy := fmt.Sprintf("  trustedtwin:\n    prefix: /t\n    legacy: {url: %q, mode: shadow, timeout: 2s}\n", healthy.base)
	f := startFile(t, fileSetup{yaml: head + shiftLegacy + ttLegacy})

	shift, tt := specNamed(t, "shift"), specNamed(t, "trustedtwin")
	bad := shift.statusOf(canonical.BadGateway, http.StatusBadGateway)
	for i := range config.DefaultBreakerFailures {
		if a := f.do(t, shift.method, "/s"+shift.path, shift.header, shift.body); a.Status != bad {
			t.Fatalf("shift update %d: %d %s", i, a.Status, a.Body)
		}
	}
	if a := f.do(t, tt.method, "/t"+tt.path, tt.header, tt.body); a.Status != tt.success {
		t.Fatalf("trustedtwin update: %d %s", a.Status, a.Body)
	}
	wantStates(t, scrape(t, f.base), map[string]string{"shift": "open", "trustedtwin": "closed"})
	wantVendors(t, f.started, map[string]string{"shift": "open", "trustedtwin": "closed"})

	// shift's legacy block removed: its series go, trustedtwin's stay.
	f.write(t, "config.yaml", head+"  shift:\n    prefix: /s\n"+ttLegacy)
	if err := f.app.Reload(); err != nil {
		t.Fatal(err)
	}
	wantStates(t, scrape(t, f.base), map[string]string{"trustedtwin": "closed"})
	wantVendors(t, f.started, map[string]string{"trustedtwin": "closed"})

	// No legacy block left: no series at all, no vendors in /readyz.
	f.write(t, "config.yaml", head+"  shift:\n    prefix: /s\n")
	if err := f.app.Reload(); err != nil {
		t.Fatal(err)
	}
	wantStates(t, scrape(t, f.base), nil)
	wantVendors(t, f.started, nil)
}

// wantStates checks the vendor breaker gauge: for each dialect of want, 1
// for its state and 0 for the three others; no series for any other dialect.
func wantStates(t *testing.T, ss []sample, want map[string]string) {
	t.Helper()
	n := 0
	for _, s := range ss {
		if s.name != vendorGauge {
			continue
		}
		n++
		cur, ok := want[s.labels["dialect"]]
		if !ok {
			t.Errorf("a series for dialect %q, which has no legacy vendor: %v", s.labels["dialect"], s.labels)
			continue
		}
		v := 0.0
		if s.labels["state"] == cur {
			v = 1
		}
		if s.value != v {
			t.Errorf("%s%v = %v, want %v (state %s)", vendorGauge, s.labels, s.value, v, cur)
		}
	}
	if n != 4*len(want) {
		t.Errorf("%d series of %s, want 4 for each of %v", n, vendorGauge, want)
	}
}

// wantVendors checks /readyz: 200, and "vendors" naming each dialect of want
// with its state, absent when want is empty.
func wantVendors(t *testing.T, s *started, want map[string]string) {
	t.Helper()
	a := s.do(t, "GET", "/readyz", nil, "")
	if a.Status != http.StatusOK {
		t.Errorf("readyz %d %s", a.Status, a.Body)
	}
	got := map[string]string{}
	gjson.GetBytes(a.Body, "vendors").ForEach(func(k, v gjson.Result) bool {
		got[k.Str] = v.Str
		return true
	})
	if len(got) != len(want) || (len(want) == 0 && gjson.GetBytes(a.Body, "vendors").Exists()) {
		t.Errorf("readyz vendors %v, want %v: %s", got, want, a.Body)
	}
	for d, st := range want {
		if got[d] != st {
			t.Errorf("readyz vendors.%s = %q, want %q: %s", d, got[d], st, a.Body)
		}
	}
}
