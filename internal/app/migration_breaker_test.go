package app_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/migrate"
	"github.com/userbridge/userbridge/internal/testutil"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// deadVendor is a vendor that accepts connections and closes each at once
// (no answer), counting them.
type deadVendor struct {
	ln       net.Listener
	accepted atomic.Int64
}

func startDeadVendor(t *testing.T) *deadVendor {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	v := &deadVendor{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			v.accepted.Add(1)
			c.Close()
		}
	}()
	return v
}

func (v *deadVendor) url() string { return "http://" + v.ln.Addr().String() }

// targetKinds are the access line's target of each spec's update.
var targetKinds = map[string]string{"baasic": "username", "shift": "id", "trustedtwin": "id", "finix": "id", "crafter": "username"}

// A vendor too slow gets the shadow client the dialect's 504: the access
// line names the kind of user the request named (its lock was taken), as
// the diff log names the user.
func TestMigrationVendorTimeoutTarget(t *testing.T) {
	hung := make(chan struct{})
	vendor := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-hung:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(vendor.Close)
	t.Cleanup(func() { close(hung) })
	for _, d := range specs {
		t.Run(d.name, func(t *testing.T) {
			m := startMigratingWithin(t, d, "shadow", vendor.URL, "", "100ms")
			a := m.send(t, d.body)
			if want := d.statusOf(canonical.GatewayTimeout, http.StatusGatewayTimeout); a.Status != want {
				t.Fatalf("status %d, want %d: %s", a.Status, want, a.Body)
			}
			if line := accessLine(t, m.cand.logs.String(), a.Header.Get("X-Request-Id")); line["target"] != targetKinds[d.name] {
				t.Errorf("access line target %q, want %q", line["target"], targetKinds[d.name])
			}
			if rs := m.records(t); len(rs) != 1 || rs[0].Note != "vendor timed out" || rs[0].Target == "" {
				t.Errorf("records %+v", rs)
			}
		})
	}
}

// A vendor that is down opens its breaker: the first updates are recorded
// legacy_error "vendor unreachable", the next ones "vendor breaker open"
// and reach no vendor. In primary mode the client gets userbridge's own
// answer either way; in shadow mode the dialect's 502.
func TestMigrationVendorBreaker(t *testing.T) {
	for _, mode := range []string{"primary", "shadow"} {
		for _, d := range specs {
			t.Run(mode+"/"+d.name, func(t *testing.T) {
				v := startDeadVendor(t)
				m := startMigrating(t, d, mode, v.url(), "")
				want := d.success
				if mode == "shadow" {
					want = d.statusOf(canonical.BadGateway, http.StatusBadGateway)
				}
				const paused = 3
				for i := range config.DefaultBreakerFailures + paused {
					a := m.send(t, d.body)
					if a.Status != want {
						t.Fatalf("update %d: %d %s", i, a.Status, a.Body)
					}
					// The user was known (its lock taken) though nothing was
					// translated in shadow mode: the access line names its kind.
					if line := accessLine(t, m.cand.logs.String(), a.Header.Get("X-Request-Id")); line["target"] != targetKinds[d.name] {
						t.Errorf("update %d: access line target %q, want %q", i, line["target"], targetKinds[d.name])
					}
					if i == config.DefaultBreakerFailures-1 {
						v.accepted.Store(0) // from here on, the breaker is open
					}
				}
				if n := v.accepted.Load(); n != 0 {
					t.Errorf("the vendor got %d connections while its breaker was open", n)
				}
				if got := breakerChanges(m.cand.logs.String(), "legacy vendor", strings.TrimPrefix(v.url(), "http://")); !slices.Equal(got, []string{"WARN closed>open"}) {
					t.Errorf("the vendor breaker's changes logged: %q, want its opening", got)
				}
				rs := m.records(t)
				if len(rs) != config.DefaultBreakerFailures+paused {
					t.Fatalf("%d records", len(rs))
				}
				for i, r := range rs {
					note := "vendor unreachable"
					if i >= config.DefaultBreakerFailures {
						note = "vendor breaker open"
					}
					if r.Outcome != migrate.LegacyError || r.Note != note || r.Target == "" {
						t.Errorf("record %d: %s %q target %q, want legacy_error %q", i, r.Outcome, r.Note, r.Target, note)
					}
					if mode == "primary" && r.CandidateStatus != d.success {
						t.Errorf("record %d: candidate status %d", i, r.CandidateStatus)
					}
				}
				if mode == "primary" && applied(m.cand) != int64(config.DefaultBreakerFailures+paused) {
					t.Errorf("userbridge applied %d updates", applied(m.cand))
				}
				if mode == "shadow" && applied(m.cand) != 0 {
					t.Errorf("the upstream got %d updates the vendor never applied", applied(m.cand))
				}
			})
		}
	}
}

// A reload that changes or drops a dialect's legacy block closes the
// replaced vendor's idle connections.
func TestMigrationReloadClosesVendorConns(t *testing.T) {
	var conns testutil.ConnCounter
	vendor := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	vendor.Config.ConnState = conns.Track
	vendor.Start()
	t.Cleanup(vendor.Close)
	openConns := conns.Open
	d := specNamed(t, "shift")
	log := filepath.Join(t.TempDir(), "migration.log")
	cfg := "listen: 127.0.0.1:0\nupstream: {url: demo}\nmigration: {log: %q}\ndialects:\n  shift:\n    legacy: {url: %q, mode: %s, timeout: %s}\n"
	f := startFile(t, fileSetup{yaml: fmt.Sprintf(cfg, log, vendor.URL, "shadow", "2s")})
	for i, next := range []string{
		fmt.Sprintf(cfg, log, vendor.URL, "shadow", "3s"), // changed: a new vendor
		fmt.Sprintf(cfg, log, vendor.URL, "off", "3s"),    // dropped
	} {
		if a := f.do(t, d.method, d.path, d.header, d.body); a.Status != http.StatusNoContent {
			t.Fatalf("%d: %d %s", i, a.Status, a.Body)
		}
		if openConns() != 1 {
			t.Fatalf("%d: %d connections to the vendor, want its idle one", i, openConns())
		}
		f.write(t, "config.yaml", next)
		if err := f.app.Reload(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(5 * time.Second); openConns() > 0; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d: the replaced vendor's idle connection is still open", i)
			}
		}
	}
}

// A reload that leaves a dialect's legacy block as it was keeps its vendor:
// a breaker opened on a vendor that is down stays open (no call reaches
// it), where a new vendor would start closed and send the next updates to
// it. A reload that changes the block builds a new vendor, its breaker
// closed.
func TestMigrationReloadKeepsVendorBreaker(t *testing.T) {
	v := startDeadVendor(t)
	d := specNamed(t, "shift")
	log := filepath.Join(t.TempDir(), "migration.log")
	cfg := "listen: 127.0.0.1:0\nupstream: {url: demo}\nlog: {level: %s}\nmigration: {log: %q}\ndialects:\n  shift:\n    legacy: {url: %q, mode: primary, timeout: %s}\n"
	f := startFile(t, fileSetup{yaml: fmt.Sprintf(cfg, "info", log, v.url(), "2s")})
	state := func() string { return f.app.Server.VendorBreakers()["shift"] }
	for i := range config.DefaultBreakerFailures {
		if a := f.do(t, d.method, d.path, d.header, d.body); a.Status != d.success {
			t.Fatalf("update %d: %d %s", i, a.Status, a.Body)
		}
	}
	if state() != "open" {
		t.Fatalf("vendor breaker %q after %d failures, want open", state(), config.DefaultBreakerFailures)
	}

	// Another key changed, the legacy block not: the vendor is kept.
	f.write(t, "config.yaml", fmt.Sprintf(cfg, "warn", log, v.url(), "2s"))
	if err := f.app.Reload(); err != nil {
		t.Fatal(err)
	}
	v.accepted.Store(0)
	if a := f.do(t, d.method, d.path, d.header, d.body); a.Status != d.success {
		t.Fatalf("after the reload: %d %s", a.Status, a.Body)
	}
	if state() != "open" || v.accepted.Load() != 0 {
		t.Errorf("after a reload that kept the legacy block: breaker %q, %d calls reached the vendor; want open, 0", state(), v.accepted.Load())
	}

	// The legacy block changed: a new vendor, its breaker closed.
	f.write(t, "config.yaml", fmt.Sprintf(cfg, "warn", log, v.url(), "3s"))
	if err := f.app.Reload(); err != nil {
		t.Fatal(err)
	}
	if state() != "closed" {
		t.Errorf("after a reload that changed the legacy block: breaker %q, want closed", state())
	}
	if a := f.do(t, d.method, d.path, d.header, d.body); a.Status != d.success {
		t.Fatalf("after the second reload: %d %s", a.Status, a.Body)
	}
	if v.accepted.Load() == 0 {
		t.Error("the new vendor was not called")
	}
}

// A reload after only a legacy.tls file changed (a CA bundle or client
// certificate rotated, the configuration as it was) applies it: the file is
// part of what is served, and the vendor is built again with it.
func TestMigrationReloadVendorTLSFile(t *testing.T) {
	vendor := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(vendor.Close)
	ca := writeCA(t, vendor)
	d := specNamed(t, "shift")
	log := filepath.Join(t.TempDir(), "migration.log")
	f := startFile(t, fileSetup{yaml: fmt.Sprintf("listen: 127.0.0.1:0\nupstream: {url: demo}\nmigration: {log: %q}\n"+
		"dialects:\n  shift:\n    legacy: {url: %q, mode: primary, tls: {caFile: %q}}\n", log, vendor.URL, ca)})
	if a := f.do(t, d.method, d.path, d.header, d.body); a.Status != d.success {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	bundle, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	// The same certificate twice: other bytes, a bundle the vendor still trusts.
	if err := os.WriteFile(ca, append(bundle, bundle...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.app.Reload(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(f.logs.String(), "nothing to reload") {
		t.Fatal("the rotated CA file was not reloaded")
	}
	wantValue(t, scrape(t, f.base), "userbridge_config_reloads_total", map[string]string{"result": "success"}, 1)
	if a := f.do(t, d.method, d.path, d.header, d.body); a.Status != d.success {
		t.Fatalf("after the reload: %d %s", a.Status, a.Body)
	}
	m := &migrating{log: log}
	rs := m.records(t)
	for deadline := time.Now().Add(5 * time.Second); len(rs) < 2 && time.Now().Before(deadline); rs = m.records(t) {
		time.Sleep(5 * time.Millisecond)
	}
	if len(rs) != 2 || rs[1].Outcome == migrate.LegacyError {
		t.Fatalf("records %+v", rs)
	}
}
