package app_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestLDAPConcurrentRoles: updates of one user that arrive together are
// applied one after the other. Each replaces the user's roles with one
// group or the other; once they are all answered the user is a member of
// exactly one of the two, as after some order of them. Applied side by side,
// each update computed its group changes from the memberships it read
// before the others wrote theirs, and together they could leave the user in
// neither group (or in both), although every one was answered 204.
func TestLDAPConcurrentRoles(t *testing.T) {
	dir, s := startLDAP(t, nil)
	roles := []string{"Users", "Administrators"}
	for round := 0; round < 4; round++ {
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				body := fmt.Sprintf(`{"name":"Jane %d","roles":[%q]}`, i, roles[i%2])
				req, err := http.NewRequest("PUT", s.base+"/v1/app/users/jane.doe", strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				req.Header.Set("Content-Type", "application/json")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				res.Body.Close()
				if res.StatusCode != 204 {
					t.Errorf("round %d, update %d: %d", round, i, res.StatusCode)
				}
			}(i)
		}
		wg.Wait()
		in := 0
		for _, g := range []string{ldapUsers, ldapAdmins} {
			for _, m := range dir.Members(t, g) {
				if strings.EqualFold(m, ldapJaneDN) {
					in++
				}
			}
		}
		if in != 1 {
			t.Fatalf("round %d: jane.doe is a member of %d of the two groups, want 1 (Users %q, Administrators %q)",
				round, in, dir.Members(t, ldapUsers), dir.Members(t, ldapAdmins))
		}
	}
}
