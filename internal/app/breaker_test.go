package app_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/upstream/scim"
	"github.com/userbridge/userbridge/internal/upstream/scim/scimtest"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// The breaker must open on evidence that the upstream is unhealthy, not
// that one record is (issue 18, class 1). These tests run the real server
// with the breaker at its defaults (upstream.breaker: failures 5 within a
// 30s window, half of the window's calls failed, from 3 distinct users).

// poisonID is a user whose record the upstream cannot handle: it answers
// 500 for it (or never answers), and serves everyone else.
const poisonID = "dead0000-0000-4000-8000-00000000beef"

// pausedMsg is what a call the open breaker refuses is told.
const pausedMsg = "the upstream is failing; calls to it are paused, retry later"

// breakerOn turns the breaker on at its defaults, but for openFor.
func breakerOn(openFor time.Duration) func(c *config.Config) {
	return func(c *config.Config) {
		on := true
		c.Upstream.Breaker = config.Breaker{Enabled: &on, OpenFor: config.Duration(openFor)}
		c.Upstream.Timeout = config.Duration(2 * time.Second)
		c.Upstream.MaxAttempts = 2
	}
}

// forUser is d addressing another user by id (Shift, Trusted Twin, Finix).
func forUser(d dialectSpec, id string) dialectSpec {
	d.path = d.path[:strings.LastIndexByte(d.path, '/')+1] + id
	return d
}

// poisonCallers are the dialects that address the poison user: the same
// canonical target (by id) whichever dialect names it.
var poisonCallers = []dialectSpec{forUser(specs[1], poisonID), forUser(specs[2], poisonID)}

// state is the breaker's state as the server reports it.
func (s *started) state() string { return s.app.Upstream.BreakerState() }

// allServed asserts that every dialect's own user is served and its update
// applied once.
func allServed(t *testing.T, s *started, f *faultUpstream, what string) {
	t.Helper()
	for _, d := range specs {
		key := newKey("other")
		a, _ := s.send(t, d, key)
		if a.Status != d.success {
			t.Fatalf("%s: %s's unrelated user got %d: %s", what, d.name, a.Status, a.Body)
		}
		if f != nil && f.b.Applied(key) != 1 {
			t.Errorf("%s: %s: Applied = %d", what, d.name, f.b.Applied(key))
		}
	}
}

// allPaused asserts that the open breaker answers every dialect its 503
// with a Retry-After within openFor, and sends nothing upstream.
func allPaused(t *testing.T, s *started, openFor time.Duration, upstreamSaw func() int) {
	t.Helper()
	before := upstreamSaw()
	// Calls never sent are counted (status none) but not timed: in
	// microseconds, they made the upstream look fast.
	calls := func() (n float64) {
		for _, x := range scrape(t, s.base) {
			if x.name == "userbridge_upstream_call_duration_seconds_count" {
				n += x.value
			}
		}
		return n
	}
	callsBefore := calls()
	for _, d := range specs {
		a, _ := s.send(t, d, newKey("paused"))
		isError(t, d, a, canonical.Unavailable, pausedMsg)
		ra, err := strconv.Atoi(a.Header.Get("Retry-After"))
		if err != nil || ra < 1 || ra > int(openFor/time.Second) {
			t.Errorf("%s: Retry-After %q, want 1 to %d", d.name, a.Header.Get("Retry-After"), int(openFor/time.Second))
		}
	}
	if n := upstreamSaw() - before; n != 0 {
		t.Errorf("the upstream got %d requests while the breaker was open", n)
	}
	if n := calls() - callsBefore; n != 0 {
		t.Errorf("the calls the breaker refused were timed: %v more in userbridge_upstream_call_duration_seconds", n)
	}
}

// TestBreakerOneUserStorm: a storm of failures on one user id, whether the
// upstream answers it 500 or never answers it, and whichever dialect names
// it, leaves the breaker closed: every other user is served, and the
// storm's own calls keep getting their own error, not the breaker's 503.
func TestBreakerOneUserStorm(t *testing.T) {
	t.Run("500", func(t *testing.T) {
		f := newFaultUpstream(t)
		f.set(1<<30, func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasSuffix(r.URL.Path, "/"+poisonID) {
				return false
			}
			w.WriteHeader(http.StatusInternalServerError)
			return true
		})
		s := start(t, "", f.srv.URL, breakerOn(time.Minute))
		for i := range 12 {
			d := poisonCallers[i%len(poisonCallers)]
			a, _ := s.send(t, d, newKey("poison"))
			isError(t, d, a, canonical.Internal, "")
		}
		if st := s.state(); st != "closed" {
			t.Fatalf("12 failures on one user left the breaker %s", st)
		}
		allServed(t, s, f, "after 12 500s on one user")
	})

	t.Run("timeout", func(t *testing.T) {
		f := newFaultUpstream(t)
		f.set(1<<30, func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasSuffix(r.URL.Path, "/"+poisonID) {
				return false
			}
			holdUntilGone(r)
			return true
		})
		s := start(t, "", f.srv.URL, func(c *config.Config) {
			breakerOn(time.Minute)(c)
			c.Upstream.Timeout = config.Duration(300 * time.Millisecond)
		})
		var wg sync.WaitGroup
		answers := make([]answer, 8)
		for i := range answers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a, err := s.try(client, poisonCallers[i%len(poisonCallers)], newKey("poison"), specs[1].body)
				if err != nil {
					a.Body = []byte(err.Error())
				}
				answers[i] = a
			}()
		}
		wg.Wait()
		for i, a := range answers {
			isError(t, poisonCallers[i%len(poisonCallers)], a, canonical.GatewayTimeout, "")
		}
		if st := s.state(); st != "closed" {
			t.Fatalf("8 timeouts on one user left the breaker %s", st)
		}
		allServed(t, s, f, "after 8 timeouts on one user")
	})
}

// TestBreakerOutage: an upstream that is really down still opens the
// breaker, and every dialect then gets its 503 with Retry-After at once.
func TestBreakerOutage(t *testing.T) {
	t.Run("500 for every user", func(t *testing.T) {
		f := newFaultUpstream(t)
		f.set(1<<30, replyWith(http.StatusInternalServerError, "")(f))
		const openFor = time.Minute
		s := start(t, "", f.srv.URL, breakerOn(openFor))
		for i, d := range specs { // five users
			a, _ := s.send(t, d, newKey("down"))
			isError(t, d, a, canonical.Internal, "")
			if want := map[bool]string{true: "open", false: "closed"}[i == len(specs)-1]; s.state() != want {
				t.Fatalf("after %d failed calls on %d users the breaker is %s, want %s", i+1, i+1, s.state(), want)
			}
		}
		allPaused(t, s, openFor, f.patchCount)
	})

	t.Run("refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		const openFor = time.Minute
		s := start(t, "", "http://"+addr, breakerOn(openFor))
		// A refused connection says nothing about a user: five on one
		// user are five pieces of evidence about the upstream.
		d := specs[1]
		for i := range 5 {
			a, _ := s.send(t, d, newKey("refused"))
			isError(t, d, a, canonical.BadGateway, "unreachable")
			if want := map[bool]string{true: "open", false: "closed"}[i == 4]; s.state() != want {
				t.Fatalf("after %d refused calls the breaker is %s, want %s", i+1, s.state(), want)
			}
		}
		allPaused(t, s, openFor, func() int { return 0 })
	})

	t.Run("timeouts for every user", func(t *testing.T) {
		f := newFaultUpstream(t)
		f.set(1<<30, func(w http.ResponseWriter, r *http.Request) bool { holdUntilGone(r); return true })
		const openFor = time.Minute
		s := start(t, "", f.srv.URL, func(c *config.Config) {
			breakerOn(openFor)(c)
			c.Upstream.Timeout = config.Duration(300 * time.Millisecond)
		})
		for _, d := range specs {
			a, _ := s.send(t, d, newKey("hung"))
			isError(t, d, a, canonical.GatewayTimeout, "")
		}
		if st := s.state(); st != "open" {
			t.Fatalf("after timeouts on five users the breaker is %s", st)
		}
		allPaused(t, s, openFor, f.patchCount)
	})
}

// TestBreakerTrial: after openFor one trial call goes through; a failed
// trial opens the breaker again, a successful one closes it and everyone
// is served.
func TestBreakerTrial(t *testing.T) {
	f := newFaultUpstream(t)
	var mu sync.Mutex
	down := true
	f.set(1<<30, func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if down {
			w.WriteHeader(http.StatusInternalServerError)
		}
		return down
	})
	s := start(t, "", f.srv.URL, breakerOn(300*time.Millisecond))
	for _, d := range specs {
		_, _ = s.send(t, d, newKey("down"))
	}
	waitState(t, s, "half-open")
	a, _ := s.send(t, specs[0], newKey("trial"))
	isError(t, specs[0], a, canonical.Internal, "")
	if st := s.state(); st == "closed" {
		t.Fatal("a failed trial closed the breaker")
	}
	waitState(t, s, "half-open") // open again, then half-open after openFor
	mu.Lock()
	down = false
	mu.Unlock()
	a, _ = s.send(t, specs[3], newKey("trial"))
	if a.Status != specs[3].success {
		t.Fatalf("trial: %d %s", a.Status, a.Body)
	}
	if st := s.state(); st != "closed" {
		t.Fatalf("after a successful trial the breaker is %s, want closed", st)
	}
	allServed(t, s, f, "after the trial")
	// Each change is in the log, an opening at WARN: what pages an operator
	// when the gauge was scraped before and after an outage shorter than
	// the scrape interval.
	want := []string{"WARN closed>open", "INFO open>half-open", "WARN half-open>open", "INFO open>half-open", "INFO half-open>closed"}
	if changes := breakerChanges(s.logs.String(), "upstream", strings.TrimPrefix(f.srv.URL, "http://")); !slices.Equal(changes, want) {
		t.Errorf("the breaker's changes logged:\n%s\nwant:\n%s", strings.Join(changes, "\n"), strings.Join(want, "\n"))
	}
}

// breakerChanges are the changes of state the log says of the breaker
// named breaker ("upstream", "legacy vendor") guarding host, each "LEVEL
// from>to".
func breakerChanges(logs, breaker, host string) []string {
	var changes []string
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && strings.HasPrefix(fmt.Sprint(m["msg"]), "circuit breaker ") &&
			m["breaker"] == breaker && m["host"] == host {
			changes = append(changes, fmt.Sprintf("%v %v>%v", m["level"], m["from"], m["state"]))
		}
	}
	return changes
}

// waitState waits until the breaker reports want (bounded: 10 s).
func waitState(t *testing.T, s *started, want string) {
	t.Helper()
	for stop := time.Now().Add(10 * time.Second); s.state() != want; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(stop) {
			t.Fatalf("the breaker is still %s, want %s", s.state(), want)
		}
	}
}

// TestBreakerSCIM: the scim profile tells the breaker which user each of
// its requests is for, the username lookup included: a storm on two users
// (one named by id, one by username: under the default three) leaves the
// others served; 500s for every user open it.
func TestBreakerSCIM(t *testing.T) {
	t.Run("two users", func(t *testing.T) {
		srv, err := scimtest.Start(scim.DefaultExtensionSchema)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Close)
		jane, john := srv.Add(scimJane), srv.Add(scimJohn)
		target, err := url.Parse(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		proxy := httputil.NewSingleHostReverseProxy(target)
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.RequestURI(), "poison.user") || strings.HasSuffix(r.URL.Path, "/"+poisonID) {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			proxy.ServeHTTP(w, r)
		}))
		t.Cleanup(front.Close)
		s := start(t, "", front.URL, func(c *config.Config) {
			breakerOn(time.Minute)(c)
			c.Upstream.Profile = config.ProfileSCIM
		})
		shift, baasic := specs[1], specs[0]
		for i := range 12 {
			d := forUser(shift, poisonID) // PATCH /Users/{id}
			if i%2 == 1 {
				d = forUser(baasic, "poison.user") // GET /Users?filter=... fails
			}
			a, _ := s.send(t, d, newKey("poison"))
			isError(t, d, a, canonical.Internal, "")
		}
		if st := s.state(); st != "closed" {
			t.Fatalf("a storm on two users left the breaker %s", st)
		}
		for _, d := range []dialectSpec{forUser(shift, john), forUser(baasic, jane), forUser(baasic, "john.smith")} {
			if a, _ := s.send(t, d, newKey("other")); a.Status != d.success {
				t.Fatalf("%s %s: %d %s", d.name, d.path, a.Status, a.Body)
			}
		}
	})

	t.Run("every user", func(t *testing.T) {
		var hits atomic.Int64
		down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			w.WriteHeader(http.StatusInternalServerError)
		}))
		t.Cleanup(down.Close)
		const openFor = time.Minute
		s := start(t, "", down.URL, func(c *config.Config) {
			breakerOn(openFor)(c)
			c.Upstream.Profile = config.ProfileSCIM
			c.Upstream.SCIM.Discover = new(bool) // pinned: this provider answers nothing but 500
		})
		for i, d := range specs { // three by id (PATCH), two by username (lookup)
			a, _ := s.send(t, d, newKey("down"))
			isError(t, d, a, canonical.Internal, "")
			if want := map[bool]string{true: "open", false: "closed"}[i == len(specs)-1]; s.state() != want {
				t.Fatalf("after %d failed calls on %d users the breaker is %s, want %s", i+1, i+1, s.state(), want)
			}
		}
		allPaused(t, s, openFor, func() int { return int(hits.Load()) })
	})
}

// TestBreakerRules: the rules profile tells the breaker which user each of
// its requests is for: the lookup by username, the GET of a merge and the
// update itself. A storm on two users leaves the others served.
func TestBreakerRules(t *testing.T) {
	kc := &fakeKeycloak{users: map[string]map[string]any{
		"u-1":      {"id": "u-1", "username": "john.smith", "enabled": true},
		"u-2":      {"id": "u-2", "username": "jane.doe", "enabled": true},
		"u-poison": {"id": "u-poison", "username": "poisoned", "enabled": true},
	}}
	var failGet atomic.Bool // the merge's GET fails, else the PUT
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		poisoned := strings.HasSuffix(r.URL.Path, "/u-poison") && (r.Method == http.MethodGet) == failGet.Load() ||
			r.URL.Query().Get("username") == "poison.user"
		if poisoned {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		kc.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	s := start(t, "", front.URL, func(c *config.Config) {
		breakerOn(time.Minute)(c)
		c.Upstream.Profile = config.ProfileRules
		c.Upstream.Rules = "../../examples/upstreams/keycloak.yaml"
	})
	finix, baasic := specs[3], specs[0]
	baasic.body = `{"isApproved":true}` // what one Keycloak PUT can hold
	for i := range 18 {
		failGet.Store(i >= 12)
		d := forUser(finix, "u-poison") // GET then PUT .../users/u-poison
		if i%2 == 1 && i < 12 {
			d = forUser(baasic, "poison.user") // GET .../users?username=poison.user
		}
		a, _ := s.send(t, d, newKey("poison"))
		isError(t, d, a, canonical.Internal, "")
	}
	if st := s.state(); st != "closed" {
		t.Fatalf("a storm on two users left the breaker %s", st)
	}
	for _, d := range []dialectSpec{forUser(finix, "u-1"), forUser(baasic, "jane.doe")} {
		if a, _ := s.send(t, d, newKey("other")); a.Status != d.success {
			t.Fatalf("%s %s: %d %s", d.name, d.path, a.Status, a.Body)
		}
	}
}
