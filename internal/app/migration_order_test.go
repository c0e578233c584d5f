package app_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/sjson"
	"github.com/userbridge/userbridge/internal/migrate"
)

// orderField is, per dialect, a member of the spec's request that the
// order test sets to a value of each update's own.
var orderField = map[string]string{
	"baasic":      "name",
	"shift":       "firstName",
	"trustedtwin": "name",
	"finix":       "tags.order_number",
	"crafter":     "first_name",
}

// Concurrent updates of one user, in both modes, for every dialect: after
// each round of 8 clients sending their updates at once, each with a value
// of its own, the vendor's backend and the candidate's upstream hold the
// same user (the per-user lock makes the second side apply the updates in
// the first side's order), and in shadow mode every comparison matched.
// Without the lock (checked by turning it off) the backends end rounds
// holding different users.
func TestMigrationPerUserOrder(t *testing.T) {
	const clients, each, rounds = 8, 3, 5
	for _, mode := range []string{"shadow", "primary"} {
		for _, d := range specs {
			t.Run(mode+"/"+d.name, func(t *testing.T) {
				m := startMigrating(t, d, mode, "", "")
				// A client of the test's own, its connections closed before
				// the servers shut down: a connection dialed while another
				// served the request, and never used, would hold a
				// server's Shutdown for 5 s (net/http's grace for a new one).
				hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
				t.Cleanup(hc.CloseIdleConnections)
				for round := range rounds {
					var wg sync.WaitGroup
					for c := range clients {
						wg.Add(1)
						go func() {
							defer wg.Done()
							for i := range each {
								body, err := sjson.Set(d.body, orderField[d.name], fmt.Sprintf("r%d-c%d-u%d", round, c, i))
								if err != nil {
									t.Error(err)
									return
								}
								req, _ := http.NewRequest(d.method, m.cand.base+"/mig"+d.path, strings.NewReader(body))
								for k, v := range d.header {
									req.Header.Set(k, v)
								}
								resp, err := hc.Do(req)
								if err != nil {
									t.Errorf("round %d client %d update %d: %v", round, c, i, err)
									return
								}
								b, _ := io.ReadAll(resp.Body)
								resp.Body.Close()
								if resp.StatusCode != d.success {
									t.Errorf("round %d client %d update %d: %d %s", round, c, i, resp.StatusCode, b)
								}
							}
						}()
					}
					wg.Wait()
					vendor, _ := m.vendor.app.Demo.User(idOf(d))
					mine, _ := m.cand.app.Demo.User(idOf(d))
					if withoutTimes(vendor) != withoutTimes(mine) {
						t.Fatalf("round %d: the backends differ:\nvendor    %s\ncandidate %s", round, vendor, mine)
					}
				}
				want := int64(clients * each * rounds)
				if applied(m.vendor) != want || applied(m.cand) != want {
					t.Errorf("applied: vendor %d, candidate %d, want %d each", applied(m.vendor), applied(m.cand), want)
				}
				rs := m.records(t)
				var other []string
				for _, r := range rs {
					if r.Outcome != migrate.Match {
						other = append(other, fmt.Sprintf("%s %s %+v", r.Outcome, r.Note, r.Diffs))
					}
				}
				if int64(len(rs)) != want || len(other) > 0 {
					t.Errorf("%d records for %d updates; not matched: %s", len(rs), want, strings.Join(other[:min(len(other), 3)], "; "))
				}
			})
		}
	}
}
