package app_test

import (
	"bytes"
	"compress/gzip"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/userbridge/userbridge/internal/migrate"
)

// A vendor that answers 5xx or 429 failed: legacy_error ("vendor failed:
// N"), nothing reaches the candidate's upstream, and in shadow mode the
// client gets the vendor's answer; in primary mode userbridge's.
func TestMigrationVendorFailureStatus(t *testing.T) {
	for _, st := range []int{503, 429} {
		vendor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(st)
			_, _ = w.Write([]byte("vendor says no"))
		}))
		t.Cleanup(vendor.Close)
		for _, d := range specs {
			t.Run(d.name, func(t *testing.T) {
				m := startMigrating(t, d, "shadow", vendor.URL, "")
				a := m.send(t, d.body)
				if a.Status != st || string(a.Body) != "vendor says no" {
					t.Fatalf("the client did not get the vendor's answer: %d %s", a.Status, a.Body)
				}
				if applied(m.cand) != 0 {
					t.Error("an update the vendor failed reached the candidate's upstream")
				}
				rs := m.records(t)
				want := "vendor failed: " + strconv.Itoa(st)
				if len(rs) != 1 || rs[0].Outcome != migrate.LegacyError || rs[0].Note != want || rs[0].LegacyStatus != st {
					t.Fatalf("shadow records %+v", rs)
				}
				p := startMigrating(t, d, "primary", vendor.URL, "")
				if a := p.send(t, d.body); a.Status != d.success {
					t.Fatalf("primary: status %d: %s", a.Status, a.Body)
				}
				rs = p.records(t)
				if len(rs) != 1 || rs[0].Outcome != migrate.LegacyError || rs[0].Note != want || rs[0].CandidateStatus != d.success {
					t.Fatalf("primary records %+v", rs)
				}
			})
		}
	}
}

// A vendor answer in a content coding userbridge cannot decode (br, a
// truncated gzip stream) is relayed as sent and its body not compared: the
// vendor did answer, so the statuses are. The same status is
// not_comparable with both statuses recorded (the upstream applied the
// update: candidate_status is its answer's), never a legacy_error; a
// different one a mismatch of status.
func TestMigrationVendorEncodingNotComparable(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(`{"message":"OK","status":"OK"}`))
	_ = zw.Close()
	truncated := gz.Bytes()[:gz.Len()-6]
	vendorOf := func(status int, enc string, body []byte) string {
		v := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", enc)
			w.WriteHeader(status)
			_, _ = w.Write(body)
		}))
		t.Cleanup(v.Close)
		return v.URL
	}
	br := []byte("\x0b\x02\x80{}\x03")
	crafter, baasic := specNamed(t, "crafter"), specNamed(t, "baasic")
	for _, c := range []struct {
		name, mode, enc string
		d               dialectSpec
		body            string
		sent            []byte
		outcome, note   string
		candidate       int
		applied         int64
	}{
		{"br, same status", "shadow", "br", crafter, crafter.body, br, migrate.NotComparable, "answer encoding br not comparable", 200, 1},
		{"truncated gzip, same status", "shadow", "gzip", crafter, crafter.body, truncated, migrate.NotComparable, "answer encoding gzip not comparable", 200, 1},
		{"br, primary", "primary", "br", crafter, crafter.body, br, migrate.NotComparable, "answer encoding br not comparable", 200, 1},
		{"br, another status", "shadow", "br", baasic, baasic.body, br, migrate.Mismatch, "answer encoding br not comparable", 204, 1},
		{"br, candidate refuses", "shadow", "br", crafter, `{"username":"john.smith","email":""}`, br, migrate.Mismatch, "candidate refuses", 400, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := startMigrating(t, c.d, c.mode, vendorOf(200, c.enc, c.sent), "")
			// As a client that accepts the coding: its transport leaves the
			// body as sent.
			hdr := map[string]string{"Accept-Encoding": "gzip, br"}
			for k, v := range c.d.header {
				hdr[k] = v
			}
			a := m.cand.do(t, c.d.method, "/mig"+c.d.path, hdr, c.body)
			if c.mode == "shadow" && (a.Status != 200 || !bytes.Equal(a.Body, c.sent)) {
				t.Fatalf("the client did not get the vendor's answer: %d %q", a.Status, a.Body)
			}
			rs := m.records(t)
			if len(rs) != 1 || rs[0].Outcome != c.outcome || rs[0].Note != c.note || rs[0].LegacyStatus != 200 || rs[0].CandidateStatus != c.candidate {
				t.Fatalf("records %+v", rs)
			}
			if c.outcome == migrate.Mismatch && (len(rs[0].Diffs) != 1 || rs[0].Diffs[0].Path != migrate.StatusPath) {
				t.Errorf("diffs %+v, want the status's alone", rs[0].Diffs)
			}
			if n := applied(m.cand); n != c.applied {
				t.Errorf("the upstream applied %d updates, want %d", n, c.applied)
			}
		})
	}
}

// writeCA writes a TLS test server's certificate as a PEM bundle.
func writeCA(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// The vendor's TLS is its own: an https upstream with a private CA leaves
// an http vendor working (serve used to refuse what validate passed), and
// an https vendor is checked against legacy.tls, not upstream.tls.
func TestMigrationVendorTLSOwn(t *testing.T) {
	vendor := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(vendor.Close)
	ca := writeCA(t, vendor)
	d := specs[0]
	plain := start(t, "", "", nil)
	for _, c := range []struct {
		name, upstream, legacy string
		status                 int
	}{
		{"https upstream, http vendor", fmt.Sprintf(`{url: "https://127.0.0.1:1", tls: {caFile: %q}}`, ca),
			fmt.Sprintf(`{url: %q, mode: shadow}`, plain.base), d.success},
		{"https vendor, its own CA", `{url: demo}`,
			fmt.Sprintf(`{url: %q, mode: shadow, tls: {caFile: %q}}`, vendor.URL, ca), 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "migration.log")
			cfg := fmt.Sprintf("listen: 127.0.0.1:0\nupstream: %s\nmigration: {log: %q}\ndialects:\n  %s:\n    prefix: /mig\n    legacy: %s\n",
				c.upstream, log, d.name, c.legacy)
			m := &migrating{cand: start(t, cfg, "", nil), log: log, spec: d}
			if a := m.send(t, d.body); a.Status != c.status {
				t.Fatalf("status %d, want %d: %s", a.Status, c.status, a.Body)
			}
			if rs := m.records(t); len(rs) != 1 || rs[0].LegacyStatus != c.status {
				t.Fatalf("records %+v", rs)
			}
		})
	}
}
