package app_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/userbridge/userbridge/internal/backend"
	"github.com/userbridge/userbridge/internal/migrate"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// primaryVerify starts Trusted Twin in primary mode with auth verify (its
// schemeless Authorization key, ttKey), with the vendor a second
// userbridge; s sets the candidate's upstream, timeouts and more YAML.
func primaryVerify(t *testing.T, s migSetup) (*migrating, dialectSpec) {
	t.Helper()
	d := specNamed(t, "trustedtwin")
	keys := authFile(t, "tt.keys", "tt-client:"+sha256Hex(ttKey)+"\n")
	s.mode, s.timeout = "primary", "2s"
	s.dialect = append(s.dialect, "auth: {mode: verify, apiKeys: {file: "+keys+"}}")
	return startMigratingSetup(t, d, s), d
}

// sendAs sends the spec's update to the candidate with Authorization key
// (none when "").
func (m *migrating) sendAs(t *testing.T, key string) answer {
	t.Helper()
	hdr := map[string]string{}
	if key != "" {
		hdr["Authorization"] = key
	}
	return m.cand.do(t, m.spec.method, "/mig"+m.spec.path, hdr, m.spec.body)
}

// Primary mode with auth verify: a caller with a wrong key, or none, is
// refused in the dialect's 401 (access line auth none), a key sent twice in
// its 400, and neither the vendor nor the upstream hears of them; a
// legitimate update of the same user then goes
// through as usual, on both sides, and compares.
func TestMigrationPrimaryAuthBeforeLock(t *testing.T) {
	m, d := primaryVerify(t, migSetup{})
	want := d.statusOf(canonical.Unauthorized, http.StatusUnauthorized)
	for key, msg := range map[string]string{ttKey + "0": "invalid credentials", "": "authentication required"} {
		a := m.sendAs(t, key)
		if a.Status != want {
			t.Fatalf("key %q: %d %s", key, a.Status, a.Body)
		}
		d.checkError(t, a, canonical.Unauthorized, msg)
		if line := accessLine(t, m.cand.logs.String(), a.Header.Get("X-Request-Id")); line["auth"] != "none" || line["status"] != float64(want) {
			t.Errorf("access line %v", line)
		}
	}
	// A credential header sent twice is refused first, as the pipeline
	// does: the dialect's 400 naming it, not the 401 of a bad caller.
	req, _ := http.NewRequest(d.method, m.cand.base+"/mig"+d.path, strings.NewReader(d.body))
	req.Header.Add("Authorization", ttKey)
	req.Header.Add("Authorization", ttKey+"0")
	isOnceRefusal(t, d, doReq(t, req), onceCase{header: "Authorization", values: [2]string{ttKey, ttKey + "0"}, name: "Authorization"})
	if n, v := m.cand.app.Demo.Stats().Requests, m.vendor.app.Demo.Stats().Requests; n != 0 || v != 0 {
		t.Fatalf("refused callers reached the upstream (%d requests) or the vendor (%d)", n, v)
	}
	if a := m.sendAs(t, ttKey); a.Status != d.success {
		t.Fatalf("legitimate update: %d %s", a.Status, a.Body)
	}
	if applied(m.cand) != 1 || applied(m.vendor) != 1 {
		t.Errorf("applied: candidate %d, vendor %d, want 1 each", applied(m.cand), applied(m.vendor))
	}
	if got := outcomes(m.records(t)); !slices.Equal(got, []string{migrate.Match}) {
		t.Errorf("outcomes %v, want one match", got)
	}
	if !strings.Contains(m.cand.logs.String(), `"auth":"apikey"`) {
		t.Error("no access line with auth apikey")
	}
}

// An unauthenticated request never takes its user's lock in primary mode:
// while a legitimate update holds the lock (its upstream call held), one
// with a wrong key for the same user is answered 401 at once. The lock
// wait is none (server.writeTimeout leaves the calls no margin), so a
// request that went for the lock first would be answered 503 instead.
func TestMigrationPrimaryUnauthenticatedTakesNoLock(t *testing.T) {
	demo := backend.New(backend.Options{Seed: true}).Handler()
	var calls atomic.Int64
	entered, release := make(chan struct{}), make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			close(entered)
			<-release // the legitimate update holds the user's lock meanwhile
		}
		demo.ServeHTTP(w, r)
	}))
	t.Cleanup(up.Close)
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // before the upstream closes: it waits for its handlers
	// 10s - 2s (legacy) - 7.95s (upstream) - 100ms: no wait for a lock.
	m, d := primaryVerify(t, migSetup{candURL: up.URL, upTimeout: "7950ms", extra: []string{"server: {writeTimeout: 10s}"}})
	first := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest(d.method, m.cand.base+"/mig"+d.path, strings.NewReader(d.body))
		req.Header.Set("Authorization", ttKey)
		resp, err := client.Do(req)
		if err != nil {
			t.Error(err)
			first <- answer{}
			return
		}
		defer resp.Body.Close()
		first <- answer{Status: resp.StatusCode}
	}()
	<-entered
	n := calls.Load()
	a := m.sendAs(t, ttKey+"0")
	want := d.statusOf(canonical.Unauthorized, http.StatusUnauthorized)
	if a.Status != want {
		t.Errorf("unauthenticated update while the user's lock is held: %d %s, want %d", a.Status, a.Body, want)
	}
	select {
	case <-first:
		t.Fatal("the legitimate update ended before the unauthenticated one was answered: the lock was not held")
	default:
	}
	if calls.Load() != n || m.vendor.app.Demo.Stats().Requests != 0 {
		t.Errorf("the refused caller reached the upstream (%d calls, %d before) or the vendor", calls.Load(), n)
	}
	free()
	if a := <-first; a.Status != d.success {
		t.Errorf("legitimate update: %d", a.Status)
	}
	if applied(m.vendor) != 1 {
		t.Errorf("the vendor applied %d updates, want 1", applied(m.vendor))
	}
}
