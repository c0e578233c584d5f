package ldap_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/upstream"
	"github.com/userbridge/userbridge/internal/upstream/ldap"
	"github.com/userbridge/userbridge/internal/upstream/ldap/slapdtest"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// The directory of the lock tests: jane (by entryUUID, as Finix names a
// user), a member of Users, and a group whose Modifies the proxy hangs.
const (
	lockJaneID  = "3d1c0b9a-8f7e-4d6c-b5a4-938271605f4e"
	lockUsers   = "cn=Users," + slapdtest.Groups
	lockUsersID = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
	lockHangID  = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
	lockSeed    = "dn: " + janeDN + "\nobjectClass: inetOrgPerson\nuid: jane\ncn: Jane\nsn: Doe\nentryUUID: " + lockJaneID + "\n\n" +
		"dn: " + lockUsers + "\nobjectClass: groupOfNames\ncn: Users\nentryUUID: " + lockUsersID + "\nmember: " + janeDN + "\nmember: " + slapdtest.AdminDN + "\n\n" +
		"dn: cn=" + hangs + "," + slapdtest.Groups + "\nobjectClass: groupOfNames\ncn: " + hangs + "\nentryUUID: " + lockHangID +
		"\nmember: " + slapdtest.AdminDN + "\n"
)

// lockClient is a client with groups of the directory at url.
func lockClient(t *testing.T, url string, timeout time.Duration) *ldap.Client {
	t.Helper()
	off := false
	c, err := ldap.New(config.Upstream{Profile: config.ProfileLDAP, URL: url, Timeout: config.Duration(timeout),
		Breaker: config.Breaker{Enabled: &off},
		LDAP: config.LDAP{BindDN: slapdtest.BindDN, BindPasswordFile: slapdtest.PasswordFile(t, slapdtest.BindPW), BaseDN: slapdtest.People,
			Groups: config.LDAPGroups{BaseDN: slapdtest.Groups}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// patch sends one update in the background; its error comes on the
// channel (nil: applied).
func patch(c *ldap.Client, target canonical.Target, value, body string) <-chan *canonical.Error {
	done := make(chan *canonical.Error, 1)
	go func() {
		_, cerr := c.Patch(context.Background(), &upstream.Call{Target: target, Value: value, Body: []byte(body)})
		done <- cerr
	}()
	return done
}

// waitHung waits until the proxy hangs one of first's requests; first
// answered before is a failure.
func waitHung(t *testing.T, hung <-chan struct{}, first <-chan *canonical.Error) {
	t.Helper()
	select {
	case <-hung:
	case cerr := <-first:
		t.Fatalf("the first update was answered (%v) before its request hung", cerr)
	}
}

// TestLockFollowsRename: an update that renames jane and still moves her
// memberships holds her entry's lock under the new DN too: an update that
// names her by id, and finds her under the new DN, waits for it. The lock
// was the DN's, so the second took the new DN's lock at once and wrote
// her groups side by side with the first (here: added the new DN to
// Users, which the first was removing her from).
func TestLockFollowsRename(t *testing.T) {
	dir := slapdtest.Start(t, lockSeed)
	url, hung := hangingProxy(t, dir.Addr)
	c := lockClient(t, url, 2*time.Second)
	// the first: a new username, and the group whose Modify hangs as her
	// only role; it holds the lock until its deadline, after the ModifyDN
	first := patch(c, canonical.ByUsername, "jane", `{"set":{"username":"jane2","roles":[{"id":"`+lockHangID+`"}]},"unset":[]}`)
	waitHung(t, hung, first)
	moved := "uid=jane2," + slapdtest.People
	if dir.Entry(t, moved) == nil {
		t.Fatal("the first update's ModifyDN was not applied before its group Modify")
	}
	cerr := <-patch(c, canonical.ByID, lockJaneID, `{"set":{"roles":[{"id":"`+lockUsersID+`"}]},"unset":[]}`)
	if cerr == nil || cerr.Code != canonical.Unavailable || cerr.RetryAfter == "" {
		t.Errorf("the update by id while the rename holds the lock: %v, want unavailable with Retry-After", cerr)
	}
	if m := dir.Members(t, lockUsers); slices.Contains(m, moved) {
		t.Errorf("Users' members %q: the update by id wrote while the rename held the lock", m)
	}
	if cerr := <-first; cerr == nil || cerr.Code != canonical.GatewayTimeout {
		t.Errorf("the hung update: %v, want gateway_timeout", cerr)
	}
}

// TestLockWaitLeavesTime: an update that waits for its entry's lock gives
// up while half its time is left, answered unavailable with Retry-After
// and nothing sent, rather than waiting to its deadline and then starting
// a write of several steps it had no time left to finish (answered
// gateway_timeout "earlier updates of this user", or cut off midway).
func TestLockWaitLeavesTime(t *testing.T) {
	dir := slapdtest.Start(t, lockSeed)
	url, hung := hangingProxy(t, dir.Addr)
	c := lockClient(t, url, 2*time.Second)
	first := patch(c, canonical.ByUsername, "jane", `{"set":{"givenName":"`+hangs+`"},"unset":[]}`)
	waitHung(t, hung, first) // the first holds the lock until its deadline
	cerr := <-patch(c, canonical.ByID, lockJaneID, `{"set":{"givenName":"Second"},"unset":[]}`)
	if cerr == nil || cerr.Code != canonical.Unavailable || cerr.RetryAfter == "" {
		t.Errorf("the waiting update: %v, want unavailable with Retry-After", cerr)
	} else if strings.Contains(cerr.Message, "earlier updates") {
		t.Errorf("message %q", cerr.Message)
	}
	if <-first == nil {
		t.Error("the hung update was answered as applied")
	}
	if g := dir.Entry(t, janeDN).GetAttributeValue("givenName"); g != "" {
		t.Errorf("givenName %q: the waiting update was sent", g)
	}
}

// TestLockFindsAgainAfterAnUpdateEnded: an update whose find ran while
// another update of its entry was still to come, and which takes the lock
// once that one has ended, finds the entry again: the other renamed it,
// and the DN it found first names no entry any more. It wrote to the old
// DN and answered "no such user" for a user that exists.
func TestLockFindsAgainAfterAnUpdateEnded(t *testing.T) {
	dir := slapdtest.Start(t, lockSeed)
	c := lockClient(t, "ldap://"+dir.Addr, 5*time.Second)
	found, ended := make(chan struct{}), make(chan struct{})
	first := true
	ldap.SetAfterFind(c, func() {
		if first { // the second update's find, not the renaming one's
			first = false
			close(found)
			<-ended
		}
	})
	second := patch(c, canonical.ByID, lockJaneID, `{"set":{"givenName":"Second"},"unset":[]}`)
	<-found
	if cerr := <-patch(c, canonical.ByUsername, "jane", `{"set":{"username":"jane2"},"unset":[]}`); cerr != nil {
		t.Fatalf("the rename: %v", cerr)
	}
	close(ended)
	if cerr := <-second; cerr != nil {
		t.Fatalf("the update by id after the rename: %v, want it applied to the renamed entry", cerr)
	}
	if g := dir.Entry(t, "uid=jane2,"+slapdtest.People).GetAttributeValue("givenName"); g != "Second" {
		t.Errorf("givenName %q at the renamed entry, want Second", g)
	}
}
