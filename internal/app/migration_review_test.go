package app_test

import (
	"net/http"
	"net/http/httptest"
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

// A vendor answer in a content coding userbridge cannot decode (br) is
// relayed as sent and recorded legacy_error, never a body mismatch.
func TestMigrationVendorEncodingNotComparable(t *testing.T) {
	vendor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Encoding", "br")
		_, _ = w.Write([]byte("\x0b\x02\x80{}\x03"))
	}))
	t.Cleanup(vendor.Close)
	d := specs[0]
	m := startMigrating(t, d, "shadow", vendor.URL, "")
	a := m.send(t, d.body)
	if a.Status != 200 || string(a.Body) != "\x0b\x02\x80{}\x03" {
		t.Fatalf("the client did not get the vendor's answer: %d %q", a.Status, a.Body)
	}
	rs := m.records(t)
	if len(rs) != 1 || rs[0].Outcome != migrate.LegacyError || rs[0].Note != "answer encoding br not comparable" {
		t.Fatalf("records %+v", rs)
	}
}
