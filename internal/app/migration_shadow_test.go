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
	"testing"

	"github.com/tidwall/gjson"
	"github.com/userbridge/userbridge/adapters/registry"
	"github.com/userbridge/userbridge/internal/migrate"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// Identical backends: every comparison matches, the client gets the
// vendor's answer, and both backends applied the update.
func TestMigrationShadowMatches(t *testing.T) {
	for _, d := range specs {
		t.Run(d.name, func(t *testing.T) {
			m := startMigrating(t, d, "shadow", "", "")
			for range 2 {
				a := m.send(t, d.body)
				if a.Status != d.success {
					t.Fatalf("status %d, want %d: %s", a.Status, d.success, a.Body)
				}
				if d.name == "finix" && !strings.Contains(gjson.GetBytes(a.Body, "_links.self.href").Str, m.vendor.base[len("http://"):]) {
					t.Errorf("the client did not get the vendor's answer: %s", a.Body)
				}
			}
			rs := m.records(t)
			if got := outcomes(rs); !slices.Equal(got, []string{migrate.Match, migrate.Match}) {
				t.Fatalf("outcomes %v: %+v", got, rs)
			}
			if rs[0].Dialect != d.name || rs[0].Mode != "shadow" || rs[0].RequestID == "" || rs[0].Target == "" ||
				rs[0].LegacyStatus != d.success || rs[0].CandidateStatus != d.success {
				t.Errorf("record %+v", rs[0])
			}
			if !strings.Contains(m.cand.logs.String(), `"migration":"match"`) {
				t.Error("the access line does not name the comparison's outcome")
			}
			if applied(m.vendor) != 2 || applied(m.cand) != 2 {
				t.Errorf("applied: vendor %d, candidate %d, want 2 each", applied(m.vendor), applied(m.cand))
			}
			// A request both refuse: compared (validation parity), and
			// nothing reaches the candidate's upstream.
			a := m.send(t, `[]`)
			if a.Status < 400 {
				t.Fatalf("[] accepted: %d", a.Status)
			}
			rs = m.records(t)
			if last := rs[len(rs)-1]; last.Outcome != migrate.Match || last.LegacyStatus != a.Status {
				t.Errorf("refusal compared: %+v", last)
			}
			if applied(m.cand) != 2 {
				t.Errorf("a refused update reached the candidate's upstream")
			}
			log, _ := os.ReadFile(m.log)
			for _, v := range d.header {
				if strings.Contains(string(log), v) {
					t.Errorf("a credential (%s) in the diff log", v)
				}
			}
		})
	}
}

// A candidate backend that differs in one member: mismatch naming exactly
// that member. The dialects whose answers carry no user (204, Crafter's
// "OK") show a backend's difference only in their status: there, the
// candidate's backend lacks the user.
func TestMigrationShadowMismatchNamesTheField(t *testing.T) {
	for _, d := range specs {
		t.Run(d.name, func(t *testing.T) {
			var m *migrating
			var want string
			switch d.name {
			case "trustedtwin", "finix":
				m = startMigrating(t, d, "shadow", "", "")
				u, _ := m.cand.app.Demo.User(idOf(d))
				u = []byte(strings.Replace(string(u), `"createdAt":"2024-01-15T09:30:00.000Z"`, `"createdAt":"2024-01-15T09:30:01.000Z"`, 1))
				u = []byte(strings.Replace(string(u), `"createdAt":"2024-01-15T09:31:00.000Z"`, `"createdAt":"2024-01-15T09:31:01.000Z"`, 1))
				if err := m.cand.app.Demo.Put(u); err != nil {
					t.Fatal(err)
				}
				want = map[string]string{"trustedtwin": "created_ts", "finix": "created_at"}[d.name]
			default:
				m = startMigrating(t, d, "shadow", "", emptyBackend(t))
				want = migrate.StatusPath
			}
			a := m.send(t, d.body)
			if a.Status != d.success {
				t.Fatalf("the client did not get the vendor's answer: %d %s", a.Status, a.Body)
			}
			rs := m.records(t)
			if len(rs) != 1 || rs[0].Outcome != migrate.Mismatch || len(rs[0].Diffs) == 0 || rs[0].Diffs[0].Path != want {
				t.Fatalf("want a mismatch naming %s: %+v", want, rs)
			}
			if want != migrate.StatusPath && len(rs[0].Diffs) != 1 {
				t.Errorf("more than %s differs: %+v", want, rs[0].Diffs)
			}
			metrics := string(m.cand.do(t, "GET", "/metrics", nil, "").Body)
			for _, series := range []string{
				`userbridge_migration_comparisons_total{dialect="` + d.name + `",outcome="mismatch"} 1`,
				`userbridge_migration_field_mismatches_total{dialect="` + d.name + `",field="` + want + `"} `, // Crafter's body has a status member too
			} {
				if !strings.Contains(metrics, series) {
					t.Errorf("no %s in /metrics; records %+v", series, rs)
				}
			}
		})
	}
}

// The vendor refuses what userbridge would accept (its backend lacks the
// user): the client gets the vendor's refusal, nothing reaches the
// candidate's upstream, the outcome is a mismatch ("candidate accepts").
func TestMigrationShadowVendorRefuses(t *testing.T) {
	for _, d := range specs {
		t.Run(d.name, func(t *testing.T) {
			vendor := start(t, "", emptyBackend(t), nil)
			m := startMigrating(t, d, "shadow", vendor.base, "")
			a := m.send(t, d.body)
			if a.Status != 404 {
				t.Fatalf("the client did not get the vendor's 404: %d %s", a.Status, a.Body)
			}
			d.checkError(t, a, canonical.NotFound, "")
			if applied(m.cand) != 0 {
				t.Error("the update the vendor refused reached the candidate's upstream")
			}
			rs := m.records(t)
			if len(rs) != 1 || rs[0].Outcome != migrate.Mismatch || rs[0].Note != "candidate accepts" || rs[0].LegacyStatus != 404 {
				t.Fatalf("records %+v", rs)
			}
		})
	}
}

// A vendor down or too slow: legacy_error, nothing applied anywhere, and
// the client gets the dialect's 502 or 504 (the truth's fate is unknown
// to it either way).
func TestMigrationShadowVendorFails(t *testing.T) {
	downURL, slowURL := failingVendors(t)
	for _, d := range specs {
		for _, c := range []struct {
			name, url, note string
			status          int
			code            canonical.Code
		}{
			{"down", downURL, "vendor unreachable", 502, canonical.BadGateway},
			{"slow", slowURL, "vendor timed out", 504, canonical.GatewayTimeout},
		} {
			t.Run(d.name+"/"+c.name, func(t *testing.T) {
				m := startMigratingWithin(t, d, "shadow", c.url, "", "300ms")
				a := m.send(t, d.body)
				if a.Status != d.statusOf(c.code, c.status) {
					t.Fatalf("status %d: %s", a.Status, a.Body)
				}
				d.checkError(t, a, c.code, "")
				if applied(m.cand) != 0 {
					t.Error("an update the vendor may not have applied reached the candidate's upstream")
				}
				rs := m.records(t)
				if len(rs) != 1 || rs[0].Outcome != migrate.LegacyError || rs[0].Note != c.note {
					t.Fatalf("records %+v", rs)
				}
			})
		}
	}
}

// The vendor accepts what userbridge refuses: the candidate's rules are
// the dialect's built-in ones with unknownFields: reject where the
// vendor's keep them (an unknown member kept as an extension), and the
// request carries an unknown member. The client gets the vendor's answer,
// nothing reaches the candidate's upstream, and the mismatch ("candidate
// refuses") holds both answers, in every dialect.
func TestMigrationShadowCandidateRefuses(t *testing.T) {
	for _, d := range specs {
		t.Run(d.name, func(t *testing.T) {
			b, ok := registry.Lookup(d.name)
			strict := strings.Replace(string(b.Rules), "unknownFields: keep", "unknownFields: reject", 1)
			if !ok || strict == string(b.Rules) {
				t.Fatal("the built-in rules keep no unknown field")
			}
			rules := filepath.Join(t.TempDir(), "strict.yaml")
			if err := os.WriteFile(rules, []byte(strict), 0o600); err != nil {
				t.Fatal(err)
			}
			m := startMigratingSetup(t, d, migSetup{mode: "shadow", timeout: "2s", dialect: []string{fmt.Sprintf("rules: %q", rules)}})
			a := m.send(t, `{"legacyNote":"kept by the vendor",`+d.body[1:])
			if a.Status != d.success {
				t.Fatalf("the client did not get the vendor's answer: %d %s", a.Status, a.Body)
			}
			d.checkSuccess(t, a)
			if applied(m.cand) != 0 || m.cand.app.Demo.Stats().Requests != 0 || applied(m.vendor) != 1 {
				t.Errorf("applied: vendor %d, candidate %d (%d requests)", applied(m.vendor), applied(m.cand), m.cand.app.Demo.Stats().Requests)
			}
			rs := m.records(t)
			if len(rs) != 1 || rs[0].Outcome != migrate.Mismatch || rs[0].Note != "candidate refuses" ||
				rs[0].LegacyStatus != d.success || rs[0].CandidateStatus != d.statusOf(canonical.InvalidField, 400) ||
				len(rs[0].Diffs) == 0 || rs[0].Diffs[0].Path != migrate.StatusPath {
				t.Fatalf("records %+v", rs)
			}
		})
	}
}

// The candidate's upstream down: candidate_error, and the client still
// gets the vendor's answer.
func TestMigrationShadowUpstreamDown(t *testing.T) {
	url, _ := failingVendors(t)
	for _, d := range specs {
		t.Run(d.name, func(t *testing.T) {
			m := startMigrating(t, d, "shadow", "", url)
			a := m.send(t, d.body)
			if a.Status != d.success {
				t.Fatalf("the client did not get the vendor's answer: %d %s", a.Status, a.Body)
			}
			d.checkSuccess(t, a)
			rs := m.records(t)
			if len(rs) != 1 || rs[0].Outcome != migrate.CandidateError || rs[0].LegacyStatus != d.success {
				t.Fatalf("records %+v", rs)
			}
		})
	}
}

// A candidate upstream that answers 200 with no user: a body that is not
// JSON at all, or an object that breaks off. Both are the upstream's
// failure, an answer userbridge refused (candidate_error), alike: not a
// mismatch for the one and an error for the other. The client gets the
// vendor's answer either way.
func TestMigrationShadowAnswerNotAUser(t *testing.T) {
	for _, d := range specs {
		t.Run(d.name, func(t *testing.T) {
			for _, body := range []string{`hello`, ``, `{"id":"x","username":`} {
				up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusOK)
					w.Write([]byte(body))
				}))
				m := startMigrating(t, d, "shadow", "", up.URL)
				a := m.send(t, d.body)
				if a.Status != d.success {
					t.Fatalf("%q: the client did not get the vendor's answer: %d %s", body, a.Status, a.Body)
				}
				rs := m.records(t)
				if len(rs) != 1 || rs[0].Outcome != migrate.CandidateError || rs[0].LegacyStatus != d.success {
					t.Fatalf("upstream answer %q: records %+v", body, rs)
				}
				up.Close()
			}
		})
	}
}

// failingVendors are the two ways a vendor fails without answering: down,
// the URL of a port nothing listens on, and slow, one that accepts
// connections and never answers (until the test ends).
func failingVendors(t *testing.T) (down, slow string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down = "http://" + ln.Addr().String()
	ln.Close()
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return down, "http://" + silent.Addr().String()
}
