package app_test

import (
	"testing"

	"github.com/userbridge/userbridge/internal/upstream/ldap/slapdtest"
)

// TestLDAPRenameLeavesGroupRefint: in a directory with a refint overlay
// (which moves a renamed entry's member values itself), a new username
// with fewer roles takes the user out of the group left. The group was
// left after the rename by the old DN, which refint had already replaced:
// the delete found no such value (counted as already done) and the new DN
// stayed in the group, answered 204.
func TestLDAPRenameLeavesGroupRefint(t *testing.T) {
	dir := slapdtest.StartWith(t, ldapSeed, slapdtest.Options{Refint: true})
	s := start(t, "", "", ldapConfig(dir, slapdtest.PasswordFile(t, slapdtest.BindPW)))
	moved := "uid=jane.roe," + slapdtest.People
	for i, step := range []struct{ from, to string }{{"jane.doe", "jane.roe"}, {"jane.roe", "jane.doe"}} {
		roles := []string{`["Administrators"]`, `["Editors"]`}[i]
		a := s.do(t, "PUT", "/v1/app/users/"+step.from, map[string]string{"Content-Type": "application/json"},
			`{"userName":"`+step.to+`","roles":`+roles+`}`)
		if a.Status != 204 {
			t.Fatalf("%s → %s: %d %s", step.from, step.to, a.Status, a.Body)
		}
	}
	// jane.doe → jane.roe leaving Users for Administrators, then back,
	// leaving Administrators for Editors
	for _, dn := range []string{ldapJaneDN, moved} {
		isMember(t, dir, ldapUsers, dn, false)
		isMember(t, dir, ldapAdmins, dn, false)
	}
	isMember(t, dir, ldapEditors, ldapJaneDN, true)
	isMember(t, dir, ldapEditors, moved, false)
	if e := dir.Entry(t, ldapJaneDN); e == nil {
		t.Fatal("jane.doe's entry is not there")
	}
}
