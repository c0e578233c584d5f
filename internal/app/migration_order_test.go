package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
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

// A request waiting for its user's lock gives up when its client does:
// neither side is called for it, it is answered the dialect's 503
// (logged as such), and the lock stays usable for the next update.
func TestMigrationLockWaitEndsWithClient(t *testing.T) {
	d := specNamed(t, "trustedtwin")
	var calls atomic.Int64
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	vendor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if calls.Add(1) == 1 {
			entered <- struct{}{}
			<-release // the first update holds the user's lock meanwhile
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(vendor.Close)
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // before the vendor closes: it waits for its handlers
	m := startMigrating(t, d, "shadow", vendor.URL, "")
	send := func(ctx context.Context) (int, error) {
		req, _ := http.NewRequestWithContext(ctx, d.method, m.cand.base+"/mig"+d.path, strings.NewReader(d.body))
		for k, v := range d.header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, _ = io.ReadAll(resp.Body)
		return resp.StatusCode, nil
	}
	first := make(chan int, 1)
	go func() {
		st, err := send(context.Background())
		if err != nil {
			t.Error(err)
		}
		first <- st
	}()
	<-entered
	// The second update of the same user waits for the lock; its client
	// gives up (half a second is its patience, not a measurement: it is
	// in the handler long before on loopback).
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := send(ctx); err == nil {
		t.Error("the request given up got an answer")
	}
	waitFor(t, "the access line of the update given up", func() bool {
		return strings.Contains(m.cand.logs.String(), `"status":503`)
	})
	free()
	if st := <-first; st != 200 {
		t.Errorf("first update: %d", st)
	}
	if st, err := send(context.Background()); err != nil || st != 200 {
		t.Errorf("an update after the one given up: %d %v", st, err)
	}
	if calls.Load() != 2 {
		t.Errorf("the vendor got %d updates, want 2 (the one given up never reached it)", calls.Load())
	}
	if !strings.Contains(m.cand.logs.String(), `"code":"unavailable"`) {
		t.Errorf("no access line for the update given up:\n%s", m.cand.logs.String())
	}
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// A request waits for its user's lock only as long as server.writeTimeout
// leaves both calls: updates of one user queued behind a slow vendor are
// answered 503 (Retry-After) in time, never sent to the vendor after their
// answer could no longer be written. Every update the vendor applied is
// one whose client got its answer.
func TestMigrationLockWaitWithinWriteTimeout(t *testing.T) {
	d := specNamed(t, "trustedtwin")
	var applied atomic.Int64
	vendor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		time.Sleep(400 * time.Millisecond) // within legacy.timeout
		applied.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(vendor.Close)
	m := startMigratingSetup(t, d, migSetup{mode: "shadow", vendorURL: vendor.URL, timeout: "500ms", upTimeout: "300ms",
		extra: []string{"server: {writeTimeout: 1s}"}})
	const n = 5
	var wg sync.WaitGroup
	var answered, cut, unavailable atomic.Int64
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(d.method, m.cand.base+"/mig"+d.path, strings.NewReader(d.body))
			for k, v := range d.header {
				req.Header.Set(k, v)
			}
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				cut.Add(1)
				return
			}
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case err != nil:
				cut.Add(1)
			case resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "1":
				unavailable.Add(1)
			default:
				answered.Add(1)
			}
		}()
	}
	wg.Wait()
	if cut.Load() != 0 || applied.Load() != answered.Load() || answered.Load()+unavailable.Load() != n || answered.Load() == 0 {
		t.Errorf("vendor applied %d; clients answered %d, 503 %d, cut off %d", applied.Load(), answered.Load(), unavailable.Load(), cut.Load())
	}
}
