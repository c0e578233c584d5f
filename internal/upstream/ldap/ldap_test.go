package ldap_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/upstream"
	"github.com/userbridge/userbridge/internal/upstream/ldap"
	"github.com/userbridge/userbridge/internal/upstream/ldap/slapdtest"
	"github.com/userbridge/userbridge/mapping/canonical"
)

const janeDN = "uid=jane," + slapdtest.People

// client starts a slapd with jane and a client of it.
func client(t *testing.T) (*slapdtest.Server, *ldap.Client) {
	t.Helper()
	dir := slapdtest.Start(t, "dn: "+janeDN+"\nobjectClass: inetOrgPerson\nuid: jane\ncn: Jane\nsn: Doe\n"+
		"entryUUID: 0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a\n")
	off := false
	c, err := ldap.New(config.Upstream{Profile: config.ProfileLDAP, URL: dir.URL, Timeout: config.Duration(5 * time.Second),
		Breaker: config.Breaker{Enabled: &off},
		LDAP:    config.LDAP{BindDN: slapdtest.BindDN, BindPasswordFile: slapdtest.PasswordFile(t, slapdtest.BindPW), BaseDN: slapdtest.People}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.Probe(context.Background()); err != nil {
		t.Fatal(err)
	}
	return dir, c
}

// TestIDAsAsked: an entryUUID asked for in upper case matches, and the
// answer carries it as asked (the user the call addressed).
func TestIDAsAsked(t *testing.T) {
	_, c := client(t)
	res, cerr := c.Get(context.Background(), &upstream.Call{Target: canonical.ByID, Value: "0B6F4C1E-8C2A-4D7E-9F3B-5A1D2E3C4B5A"})
	if cerr != nil {
		t.Fatal(cerr)
	}
	if id := gjson.GetBytes(res.Body, "id").Str; id != "0B6F4C1E-8C2A-4D7E-9F3B-5A1D2E3C4B5A" {
		t.Errorf("id %q in %s", id, res.Body)
	}
	if err := canonical.ValidateUser(res.Body); err != nil {
		t.Errorf("%v: %s", err, res.Body)
	}
	for _, k := range []string{"createdAt", "updatedAt"} {
		if _, err := time.Parse(time.RFC3339, gjson.GetBytes(res.Body, k).Str); err != nil {
			t.Errorf("%s: %v in %s", k, err, res.Body)
		}
	}
}

// TestDirectoryGone: with the directory gone, the call (its search first)
// is tried maxAttempts times, no connection being had, and answered
// bad_gateway, without "may have been applied": nothing was sent.
func TestDirectoryGone(t *testing.T) {
	dir, c := client(t)
	dir.Stop()
	res, cerr := c.Patch(context.Background(), &upstream.Call{Target: canonical.ByUsername, Value: "jane",
		Body: []byte(`{"set":{"givenName":"J"},"unset":[]}`)})
	if cerr == nil || cerr.Code != canonical.BadGateway || strings.Contains(cerr.Message, "may have been applied") {
		t.Fatalf("%v", cerr)
	}
	if res.Attempts != config.DefaultMaxAttempts || res.Cause == nil {
		t.Errorf("attempts %d, cause %v", res.Attempts, res.Cause)
	}
}

// TestEmptyUpdateReads: an update with nothing to change sends no Modify
// and answers the user.
func TestEmptyUpdateReads(t *testing.T) {
	dir, c := client(t)
	before := dir.Entry(t, janeDN).GetAttributeValue("modifyTimestamp")
	res, cerr := c.Patch(context.Background(), &upstream.Call{Target: canonical.ByUsername, Value: "jane", Body: []byte(`{"set":{},"unset":[]}`)})
	if cerr != nil || gjson.GetBytes(res.Body, "username").Str != "jane" {
		t.Fatalf("%v %s", cerr, res.Body)
	}
	if after := dir.Entry(t, janeDN).GetAttributeValue("modifyTimestamp"); after != before {
		t.Errorf("modified: %s → %s", before, after)
	}
}
