package ldap_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/upstream"
	"github.com/userbridge/userbridge/internal/upstream/ldap"
	"github.com/userbridge/userbridge/internal/upstream/ldap/slapdtest"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// Usernames the proxy fails every request about: slapd cannot be made to
// hang on, or drop, the requests about one entry, so a proxy in front of it
// does (the filter of a user's search holds the username as it is).
const (
	hangs = "poison-hangs" // never forwarded: the call times out
	cuts  = "poison-cuts"  // the connection closed instead: no answer
)

// proxy forwards LDAP between the client and slapd at target, except a
// request that holds hangs (never forwarded, nothing more from that
// connection) or cuts (the connection closed). It returns its ldap:// URL.
func proxy(t *testing.T, target string) string {
	t.Helper()
	url, _ := hangingProxy(t, target)
	return url
}

// hangingProxy is proxy, and a channel told each time a request is hung.
func hangingProxy(t *testing.T, target string) (string, <-chan struct{}) {
	t.Helper()
	hung := make(chan struct{}, 16)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); forward(c, target, hung) }()
		}
	}()
	return "ldap://" + ln.Addr().String(), hung
}

// forward is one connection of proxy; hung is told when it hangs.
func forward(c net.Conn, target string, hung chan<- struct{}) {
	defer c.Close()
	s, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer s.Close()
	go func() { _, _ = io.Copy(c, s); c.Close() }()
	buf := make([]byte, 64<<10)
	var seen []byte // the end of what came before, for a name split across reads
	for {
		n, err := c.Read(buf)
		seen = append(seen, buf[:n]...)
		switch {
		case bytes.Contains(seen, []byte(hangs)):
			select {
			case hung <- struct{}{}:
			default:
			}
			_, _ = io.Copy(io.Discard, c) // until the client gives up
			return
		case bytes.Contains(seen, []byte(cuts)):
			return
		case n > 0:
			if _, werr := s.Write(buf[:n]); werr != nil {
				return
			}
		}
		seen = seen[max(len(seen)-len(hangs), 0):]
		if err != nil {
			return
		}
	}
}

// breakerClient is a client of the directory at url with the breaker b and
// upstream.timeout timeout.
func breakerClient(t *testing.T, url string, b config.Breaker, timeout time.Duration) *ldap.Client {
	t.Helper()
	on := true
	b.Enabled = &on
	c, err := ldap.New(config.Upstream{Profile: config.ProfileLDAP, URL: url, Timeout: config.Duration(timeout), Breaker: b,
		LDAP: config.LDAP{BindDN: slapdtest.BindDN, BindPasswordFile: slapdtest.PasswordFile(t, slapdtest.BindPW), BaseDN: slapdtest.People}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// get reads the user named username: one exchange, one call for the
// breaker.
func get(c *ldap.Client, username string) (*upstream.Result, *canonical.Error) {
	return c.Get(context.Background(), &upstream.Call{Target: canonical.ByUsername, Value: username})
}

// wantGet reads username and checks the error's code (nil: success).
func wantGet(t *testing.T, c *ldap.Client, username string, code canonical.Code) {
	t.Helper()
	_, cerr := get(c, username)
	switch {
	case code == "" && cerr != nil:
		t.Fatalf("%s: %v", username, cerr)
	case code != "" && (cerr == nil || cerr.Code != code):
		t.Fatalf("%s: %v, want %s", username, cerr, code)
	}
}

func wantState(t *testing.T, c *ldap.Client, want, after string) {
	t.Helper()
	if s := c.BreakerState(); s != want {
		t.Fatalf("after %s: breaker %s, want %s", after, s, want)
	}
}

// TestBreakerOneEntry: profile ldap's breaker is the HTTP profiles' one.
// Failures on one user's entry alone (its search times out, its connection
// is cut, the directory refuses its change) never open it, and everyone
// else is served; a directory that is down opens it, on one user as on
// many; targets, failureRatio and window apply as they do over HTTP.
func TestBreakerOneEntry(t *testing.T) {
	dir := slapdtest.Start(t, "dn: "+janeDN+"\nobjectClass: inetOrgPerson\nuid: jane\ncn: Jane\nsn: Doe\n")
	url := proxy(t, dir.Addr)
	minute := config.Duration(time.Minute)

	t.Run("one user's timeouts and cut connections", func(t *testing.T) {
		c := breakerClient(t, url, config.Breaker{Failures: 2, OpenFor: minute}, 300*time.Millisecond)
		for range 5 {
			wantGet(t, c, hangs, canonical.GatewayTimeout)
		}
		wantState(t, c, "closed", "five timeouts on one user")
		for range 5 {
			wantGet(t, c, cuts, canonical.BadGateway)
		}
		wantState(t, c, "closed", "five cut connections on another user")
		wantGet(t, c, "jane", "")
		wantState(t, c, "closed", "a third user served")
	})

	t.Run("a refusal about the update never counts", func(t *testing.T) {
		// the service account may read the frozen user, not change it
		c := breakerClient(t, url, config.Breaker{Failures: 1, Targets: 1, OpenFor: minute}, 5*time.Second)
		for range 3 {
			_, cerr := c.Patch(context.Background(), &upstream.Call{Target: canonical.ByUsername, Value: "frozen",
				Body: []byte(`{"set":{"givenName":"F"},"unset":[]}`)})
			if cerr == nil || cerr.Code != canonical.Forbidden {
				t.Fatalf("frozen: %v", cerr)
			}
			wantGet(t, c, "nobody", canonical.NotFound)
		}
		wantState(t, c, "closed", "insufficientAccessRights and not found")
	})

	t.Run("targets", func(t *testing.T) {
		c := breakerClient(t, url, config.Breaker{Failures: 2, Targets: 1, OpenFor: minute}, 5*time.Second)
		wantGet(t, c, cuts, canonical.BadGateway)
		wantState(t, c, "closed", "one failure")
		wantGet(t, c, cuts, canonical.BadGateway)
		wantState(t, c, "open", "two failures on one user with targets 1")
		res, cerr := get(c, "jane")
		if cerr == nil || cerr.Code != canonical.Unavailable || cerr.RetryAfter == "" || res.Attempts != 0 {
			t.Fatalf("open: %v (Retry-After %q), %d attempts", cerr, cerr.RetryAfter, res.Attempts)
		}
	})

	t.Run("failureRatio", func(t *testing.T) {
		c := breakerClient(t, url, config.Breaker{Failures: 2, Targets: 1, FailureRatio: 0.5, OpenFor: minute}, 5*time.Second)
		for range 3 {
			wantGet(t, c, "jane", "")
		}
		wantGet(t, c, cuts, canonical.BadGateway)
		wantGet(t, c, cuts, canonical.BadGateway)
		wantState(t, c, "closed", "two failures in five calls")
		wantGet(t, c, cuts, canonical.BadGateway)
		wantState(t, c, "open", "three failures in six calls")
	})

	t.Run("window", func(t *testing.T) {
		c := breakerClient(t, url, config.Breaker{Failures: 2, Targets: 1, Window: config.Duration(time.Second), OpenFor: minute}, 5*time.Second)
		wantGet(t, c, cuts, canonical.BadGateway)
		time.Sleep(1200 * time.Millisecond)
		wantGet(t, c, cuts, canonical.BadGateway)
		wantState(t, c, "closed", "two failures more than a window apart")
		wantGet(t, c, cuts, canonical.BadGateway)
		wantState(t, c, "open", "two failures within the window")
	})

	t.Run("the directory down, for one user", func(t *testing.T) {
		c := breakerClient(t, url, config.Breaker{Failures: 2, OpenFor: minute}, 5*time.Second)
		wantGet(t, c, "jane", "")
		dir.Stop()
		// each failure to connect counts as one more distinct user: the
		// third (targets 3) opens it, at three failures in four calls
		for range 3 {
			wantState(t, c, "closed", "a success and fewer than three failures to connect")
			wantGet(t, c, "jane", canonical.BadGateway)
		}
		wantState(t, c, "open", "three failures to connect, for one user")
	})
}
