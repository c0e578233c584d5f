package app_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/upstream/ldap/slapdtest"
)

// TestLDAPDirectoryStopped: a directory that goes away mid-run is the
// dialect's 502, /readyz says so, and once it is back the next update goes
// through (the dead pooled connections are dropped).
func TestLDAPDirectoryStopped(t *testing.T) {
	dir, s := startLDAP(t, nil)
	hdr := map[string]string{"Content-Type": "application/json"}
	if a := s.do(t, "PUT", "/users/"+finixID, hdr, `{"tags":{"a":"1"}}`); a.Status != 200 {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	if a := s.do(t, "GET", "/readyz", nil, ""); a.Status != 200 || gjson.GetBytes(a.Body, "profile").Str != "ldap" {
		t.Fatalf("readyz %d %s", a.Status, a.Body)
	}
	dir.Stop()
	a := s.do(t, "PUT", "/users/"+finixID, hdr, `{"tags":{"a":"2"}}`)
	if a.Status != 502 || gjson.GetBytes(a.Body, "_embedded.errors.0.code").Str == "" {
		t.Fatalf("with the directory stopped: %d %s", a.Status, a.Body)
	}
	if a := s.do(t, "GET", "/readyz", nil, ""); a.Status != 503 {
		t.Fatalf("readyz with the directory stopped: %d %s", a.Status, a.Body)
	}
	dir.Restart(t)
	if a := s.do(t, "PUT", "/users/"+finixID, hdr, `{"tags":{"a":"3"}}`); a.Status != 200 {
		t.Fatalf("after the restart: %d %s", a.Status, a.Body)
	}
	attr(t, dir.Entry(t, ldapFinixDN), "description", `{"a":"3"}`)
}

// TestLDAPDirectoryHangs: a directory that stops answering (SIGSTOP) is
// the dialect's 504 at upstream.timeout, said "timeout" on the access line
// whether the search on a pooled connection or the bind of a new one went
// unanswered (the bind's said other (*errors.errorString)), and serves
// again once resumed.
func TestLDAPDirectoryHangs(t *testing.T) {
	dir, s := startLDAP(t, func(c *config.Config) { c.Upstream.Timeout = config.Duration(time.Second) })
	hdr := map[string]string{"Content-Type": "application/json"}
	if a := s.do(t, "PUT", "/users/"+finixID, hdr, `{"tags":{"a":"1"}}`); a.Status != 200 {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	dir.Pause(t)
	// The first on the pooled connection (its search unanswered), the
	// second on a new one (its bind unanswered: the kernel accepts it).
	var hung [2]answer
	for i := range hung {
		hung[i] = s.do(t, "PUT", "/users/"+finixID, map[string]string{"Content-Type": "application/json",
			"X-Request-Id": "ldap-hung-" + strconv.Itoa(i+1)}, `{"tags":{"a":"2"}}`)
	}
	dir.Resume(t)
	for i, a := range hung {
		if a.Status != 504 {
			t.Fatalf("with the directory hung, request %d: %d %s", i+1, a.Status, a.Body)
		}
		// Said as every profile says it, not as the library's error type.
		if line := s.logLine(t, "ldap-hung-"+strconv.Itoa(i+1)); line["upstream_error"] != "timeout" {
			t.Errorf("request %d: access line upstream_error %v, want timeout", i+1, line["upstream_error"])
		}
	}
	if a := s.do(t, "PUT", "/users/"+finixID, hdr, `{"tags":{"a":"3"}}`); a.Status != 200 {
		t.Fatalf("resumed: %d %s", a.Status, a.Body)
	}
	attr(t, dir.Entry(t, ldapFinixDN), "description", `{"a":"3"}`)
}

// TestLDAPBreaker: a directory that is down opens the breaker, by the HTTP
// profiles' rule: each failure to connect counts as one more distinct user
// (targets, default 3), and the failures must be at least half the calls
// that ended (failureRatio), the three not-founds included, so the third
// opens it. The dialect then answers 503 with Retry-After without calling
// the directory, and /readyz shows it open. A refusal about the update (not
// found) never counts as a failure.
func TestLDAPBreaker(t *testing.T) {
	dir, s := startLDAP(t, func(c *config.Config) {
		on := true
		c.Upstream.Breaker = config.Breaker{Enabled: &on, Failures: 2, OpenFor: config.Duration(time.Minute)}
	})
	hdr := map[string]string{"Content-Type": "application/json"}
	for i := 0; i < 3; i++ {
		if a := s.do(t, "PUT", "/users/"+nobodyID, hdr, `{"enabled":true}`); a.Status != 404 {
			t.Fatalf("%d %s", a.Status, a.Body)
		}
	}
	dir.Stop()
	for i := 0; i < 3; i++ {
		if a := s.do(t, "PUT", "/users/"+finixID, hdr, `{"enabled":true}`); a.Status != 502 {
			t.Fatalf("failure %d: %d %s", i+1, a.Status, a.Body)
		}
	}
	a := s.do(t, "PUT", "/users/"+finixID, hdr, `{"enabled":true}`)
	if a.Status != 503 || a.Header.Get("Retry-After") == "" {
		t.Fatalf("with the breaker open: %d %v %s", a.Status, a.Header, a.Body)
	}
	if r := s.do(t, "GET", "/readyz", nil, ""); gjson.GetBytes(r.Body, "breaker").Str != "open" {
		t.Errorf("readyz %s", r.Body)
	}
}

// TestLDAPBindRefusedMidRun: the service account's password changed in
// the directory while userbridge runs (the directory restarted, so that no
// bound connection is left) is the dialect's 502 naming the bind, and the
// access line says why in the fixed vocabulary, the bind's stage and the
// LDAP result's name, where it said other (*errors.errorString); neither
// password is logged.
func TestLDAPBindRefusedMidRun(t *testing.T) {
	dir, s := startLDAP(t, nil)
	hdr := map[string]string{"Content-Type": "application/json"}
	if a := s.do(t, "PUT", "/users/"+finixID, hdr, `{"tags":{"a":"1"}}`); a.Status != 200 {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	change := goldap.NewModifyRequest(slapdtest.BindDN, nil)
	change.Replace("userPassword", []string{"rotated-elsewhere"})
	if err := dir.Admin(t).Modify(change); err != nil {
		t.Fatal(err)
	}
	dir.Stop()
	dir.Restart(t)
	a := s.do(t, "PUT", "/users/"+finixID, map[string]string{"Content-Type": "application/json", "X-Request-Id": "ldap-bind-1"}, `{"tags":{"a":"2"}}`)
	if a.Status != 502 || !strings.Contains(gjson.GetBytes(a.Body, "_embedded.errors.0.message").Str, "bind") {
		t.Fatalf("with the bind refused: %d %s", a.Status, a.Body)
	}
	if line := s.logLine(t, "ldap-bind-1"); line["upstream_error"] != "bind: invalid credentials" {
		t.Errorf("access line upstream_error %v, want bind: invalid credentials", line["upstream_error"])
	}
	for _, secret := range []string{slapdtest.BindPW, "rotated-elsewhere"} {
		if strings.Contains(s.logs.String(), secret) {
			t.Errorf("the log holds a password %q", secret)
		}
	}
}

// TestLDAPGroupsBaseGone: groups.baseDN removed from the directory while
// userbridge runs (renamed away) is the directory's fault, a 502 naming
// the key, as a missing baseDN is; it was a 404 "no such user" for a user
// that exists. An update the read back failed after is said applied (once),
// never "partly applied" too; one that needed the groups first applied
// nothing.
func TestLDAPGroupsBaseGone(t *testing.T) {
	dir, s := startLDAP(t, nil)
	move := goldap.NewModifyDNRequest(slapdtest.Groups, "ou=groups-moved", true, "")
	if err := dir.Admin(t).ModifyDN(move); err != nil {
		t.Fatal(err)
	}
	hdr := map[string]string{"Content-Type": "application/json"}
	a := s.do(t, "PUT", "/v1/app/users/jane.doe", hdr, `{"name":"Jane Read"}`)
	msg := gjson.GetBytes(a.Body, "message").Str
	if a.Status != 502 || !strings.Contains(msg, "upstream.ldap.groups.baseDN") || !strings.Contains(msg, "the update was applied") ||
		strings.Contains(msg, "partly") {
		t.Errorf("the entry's Modify applied, its groups unreadable: %d %s", a.Status, a.Body)
	}
	attr(t, dir.Entry(t, ldapJaneDN), "displayName", "Jane Read")
	a = s.do(t, "PUT", "/v1/app/users/jane.doe", hdr, `{"name":"Jane Roles","roles":["Users"]}`)
	msg = gjson.GetBytes(a.Body, "message").Str
	if a.Status != 502 || !strings.Contains(msg, "upstream.ldap.groups.baseDN") || strings.Contains(msg, "applied") {
		t.Errorf("roles with the groups unreadable: %d %s", a.Status, a.Body)
	}
	attr(t, dir.Entry(t, ldapJaneDN), "displayName", "Jane Read")
}
