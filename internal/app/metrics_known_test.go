package app_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/userbridge/userbridge/internal/migrate"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// countOf counts the samples of name whose labels include want.
func countOf(ss []sample, name string, want map[string]string) int {
	n := 0
	for _, s := range ss {
		if s.name != name {
			continue
		}
		match := true
		for k, v := range want {
			if s.labels[k] != v {
				match = false
				break
			}
		}
		if match {
			n++
		}
	}
	return n
}

// wantZeroSeries checks, before any event of the dialect, that every series
// the configuration names for it is there at 0, and the comparisons only
// when it migrates.
func wantZeroSeries(t *testing.T, ss []sample, dialect, field string, migrating bool) {
	t.Helper()
	for _, m := range []string{"GET", "PATCH"} {
		l := map[string]string{"dialect": dialect, "method": m}
		wantValue(t, ss, "userbridge_upstream_attempts_total", l, 0)
		wantValue(t, ss, "userbridge_upstream_retries_total", l, 0)
	}
	for _, f := range []string{field, "other"} {
		wantValue(t, ss, "userbridge_validation_failures_total", map[string]string{"dialect": dialect, "field": f}, 0)
	}
	for _, f := range canonical.AnswerFaults {
		wantValue(t, ss, "userbridge_upstream_invalid_answers_total", map[string]string{"dialect": dialect, "kind": string(f)}, 0)
	}
	n := countOf(ss, "userbridge_migration_comparisons_total", map[string]string{"dialect": dialect})
	if !migrating {
		if n != 0 {
			t.Errorf("%d comparison series for %s, which has no legacy vendor", n, dialect)
		}
		return
	}
	for _, o := range migrate.Outcomes {
		wantValue(t, ss, "userbridge_migration_comparisons_total", map[string]string{"dialect": dialect, "outcome": o}, 0)
	}
}

// The counters whose label values the configuration names exist at 0 from
// start, through the real server's /metrics: the upstream attempts and
// retries by method, the validation failures by the rules' field names and
// other, the invalid answers by kind, and the comparisons by outcome of a
// migrating dialect only. A reload that removes a dialect removes its
// series; one that adds a dialect makes its series at 0; one that removes
// a legacy block removes that dialect's comparisons. A count already made
// stays.
func TestMetricsSeriesFromStart(t *testing.T) {
	healthy := start(t, "", "", nil)
	log := filepath.Join(t.TempDir(), "migration.log")
	// Every dialect is served unless turned off: baasic and crafter are.
	head := fmt.Sprintf("listen: 127.0.0.1:0\nupstream: {url: demo}\nmigration: {log: %q}\ndialects:\n"+
		"  baasic: {enabled: false}\n  crafter: {enabled: false}\n", log)
	shift := "  shift:\n    prefix: /s\n"
	finixOff, finixOn, ttOff := "  finix: {enabled: false}\n", "  finix:\n    prefix: /f\n", "  trustedtwin: {enabled: false}\n"
	ttLegacy := fmt.Sprintf("  trustedtwin:\n    prefix: /t\n    legacy: {url: %q, mode: shadow, timeout: 2s}\n", healthy.base)
	f := startFile(t, fileSetup{yaml: head + shift + ttLegacy + finixOff})

	ss := scrape(t, f.base)
	wantZeroSeries(t, ss, "shift", "email", false)
	wantZeroSeries(t, ss, "trustedtwin", "other", true)
	if n := countOf(ss, "userbridge_upstream_attempts_total", map[string]string{"dialect": "finix"}); n != 0 {
		t.Errorf("%d attempt series for finix, which is not served", n)
	}

	// One shift update: its count, beside the zeros.
	sp := specNamed(t, "shift")
	if a := f.do(t, sp.method, "/s"+sp.path, sp.header, sp.body); a.Status != sp.success {
		t.Fatalf("shift update: %d %s", a.Status, a.Body)
	}
	wantValue(t, scrape(t, f.base), "userbridge_upstream_attempts_total", map[string]string{"dialect": "shift", "method": "PATCH"}, 1)

	// trustedtwin gone, finix added, shift's legacy block added.
	shiftLegacy := fmt.Sprintf("  shift:\n    prefix: /s\n    legacy: {url: %q, mode: shadow, timeout: 2s}\n", healthy.base)
	f.write(t, "config.yaml", head+shiftLegacy+finixOn+ttOff)
	if err := f.app.Reload(); err != nil {
		t.Fatal(err)
	}
	ss = scrape(t, f.base)
	wantZeroSeries(t, ss, "finix", "enabled", false)
	wantValue(t, ss, "userbridge_upstream_attempts_total", map[string]string{"dialect": "shift", "method": "PATCH"}, 1)
	wantValue(t, ss, "userbridge_migration_comparisons_total", map[string]string{"dialect": "shift", "outcome": migrate.Match}, 0)
	for _, name := range []string{"userbridge_upstream_attempts_total", "userbridge_upstream_retries_total",
		"userbridge_validation_failures_total", "userbridge_upstream_invalid_answers_total", "userbridge_migration_comparisons_total"} {
		if n := countOf(ss, name, map[string]string{"dialect": "trustedtwin"}); n != 0 {
			t.Errorf("%d series of %s for trustedtwin, no longer served", n, name)
		}
	}

	// shift's legacy block removed: its comparisons go.
	f.write(t, "config.yaml", head+shift+finixOn+ttOff)
	if err := f.app.Reload(); err != nil {
		t.Fatal(err)
	}
	ss = scrape(t, f.base)
	if n := countOf(ss, "userbridge_migration_comparisons_total", nil); n != 0 {
		t.Errorf("%d comparison series, no dialect migrating", n)
	}
	// Served again after an update counted: shift's attempts still count
	// where /metrics reads them.
	if a := f.do(t, sp.method, "/s"+sp.path, sp.header, sp.body); a.Status != sp.success {
		t.Fatalf("shift update: %d %s", a.Status, a.Body)
	}
	wantValue(t, scrape(t, f.base), "userbridge_upstream_attempts_total", map[string]string{"dialect": "shift", "method": "PATCH"}, 2)
}

// userbridge_config_restart_pending through the real server: 0 at start, 1
// once a reload holds a change for a restart (log.format), still 1 after a
// refused reload (the file served still asks for it), 0 again once a
// reload no longer asks for anything only a restart applies.
func TestConfigRestartPendingGauge(t *testing.T) {
	const gauge = "userbridge_config_restart_pending"
	base := "listen: 127.0.0.1:0\nupstream: {url: demo}\nlog: {format: json}\ndialects:\n  shift: {}\n"
	f := startFile(t, fileSetup{yaml: base})
	wantValue(t, scrape(t, f.base), gauge, nil, 0)

	held := "listen: 127.0.0.1:0\nupstream: {url: demo}\nlog: {format: text}\ndialects:\n  shift: {}\n"
	f.write(t, "config.yaml", held)
	if err := f.app.Reload(); err != nil {
		t.Fatal(err)
	}
	wantValue(t, scrape(t, f.base), gauge, nil, 1)

	f.write(t, "config.yaml", held+"  nosuchdialect: {}\n")
	if err := f.app.Reload(); err == nil {
		t.Fatal("a reload naming an unknown dialect was applied")
	}
	ss := scrape(t, f.base)
	wantValue(t, ss, gauge, nil, 1)
	wantValue(t, ss, "userbridge_config_last_reload_successful", nil, 0)

	f.write(t, "config.yaml", base)
	if err := f.app.Reload(); err != nil {
		t.Fatal(err)
	}
	wantValue(t, scrape(t, f.base), gauge, nil, 0)
}
