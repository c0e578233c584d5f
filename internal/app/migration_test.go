package app_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/userbridge/userbridge/internal/backend"
	"github.com/userbridge/userbridge/internal/migrate"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// migIgnore are the answer members two reference backends given the same
// update still differ in: the time each applied it, and links naming the
// host each was reached by (docs/migration.md's table: keep the two alike).
var migIgnore = map[string][]string{
	"trustedtwin": {"updated_ts"},
	"finix":       {"updated_at", "_links", "_embedded.errors.*._links"},
}

// migrating is a candidate userbridge serving one dialect under /mig, in
// front of its own reference backend, with a legacy vendor: a second
// userbridge serving the same dialect in front of its own.
type migrating struct {
	vendor, cand *started
	log          string
	spec         dialectSpec
}

func startMigrating(t *testing.T, d dialectSpec, mode, vendorURL, candURL string) *migrating {
	t.Helper()
	return startMigratingWithin(t, d, mode, vendorURL, candURL, "2s")
}

// startMigratingWithin is startMigrating with the vendor's timeout, and
// extra top-level YAML for the candidate.
func startMigratingWithin(t *testing.T, d dialectSpec, mode, vendorURL, candURL, timeout string, extra ...string) *migrating {
	t.Helper()
	return startMigratingSetup(t, d, migSetup{mode: mode, vendorURL: vendorURL, candURL: candURL, timeout: timeout, extra: extra})
}

// migSetup is how startMigratingSetup starts a migration.
type migSetup struct {
	mode, vendorURL, candURL, timeout string
	// dialect are more keys of the candidate's dialect block ("rules: F").
	dialect []string
	// extra is top-level YAML for the candidate.
	extra []string
	// upTimeout is the candidate's upstream.timeout ("": the default).
	upTimeout string
}

// startMigratingSetup is startMigrating as s says.
func startMigratingSetup(t *testing.T, d dialectSpec, s migSetup) *migrating {
	t.Helper()
	m := &migrating{spec: d, log: filepath.Join(t.TempDir(), "migration.log")}
	vendorURL := s.vendorURL
	if vendorURL == "" {
		m.vendor = start(t, "", "", nil)
		vendorURL = m.vendor.base
	}
	ignore, _ := json.Marshal(migIgnore[d.name])
	var block strings.Builder
	for _, k := range s.dialect {
		block.WriteString("    " + k + "\n")
	}
	upTimeout := ""
	if s.upTimeout != "" {
		upTimeout = ", timeout: " + s.upTimeout
	}
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
upstream: {url: %q%s}
log: {level: info, format: json}
migration: {log: %q}
dialects:
  %s:
    prefix: /mig
    legacy: {url: %q, mode: %s, timeout: %s, ignore: %s}
`, upstreamOr(s.candURL), upTimeout, m.log, d.name, vendorURL, s.mode, s.timeout, ignore) + block.String() + strings.Join(s.extra, "\n")
	m.cand = start(t, cfg, "", nil)
	return m
}

// send sends the spec's request to the candidate.
func (m *migrating) send(t *testing.T, body string) answer {
	t.Helper()
	return m.cand.do(t, m.spec.method, "/mig"+m.spec.path, m.spec.header, body)
}

// records reads the diff log.
func (m *migrating) records(t *testing.T) []migrate.Record {
	t.Helper()
	b, err := os.ReadFile(m.log)
	if err != nil {
		t.Fatal(err)
	}
	var out []migrate.Record
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var r migrate.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("log line %s: %v", sc.Bytes(), err)
		}
		out = append(out, r)
	}
	return out
}

func upstreamOr(u string) string {
	if u == "" {
		return "demo"
	}
	return u
}

// outcomes lists the records' outcomes.
func outcomes(rs []migrate.Record) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.Outcome)
	}
	return out
}

// applied is how many updates a started userbridge's demo backend applied.
func applied(s *started) int64 { return s.app.Demo.Stats().Applied }

// emptyBackend is a real reference backend without the demo users.
func emptyBackend(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(backend.New(backend.Options{}).Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// statusOf is the dialect's status for a canonical code, def when it uses
// the usual one.
func (d dialectSpec) statusOf(code canonical.Code, def int) int {
	if st, ok := d.status[code]; ok {
		return st
	}
	return def
}
