package app_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/userbridge/userbridge/internal/upstream/ldap/slapdtest"
)

// TestLDAPClearTextWarned: a directory reached over ldap:// without
// StartTLS at an address that is not loopback is one WARN at start-up, and
// again on each reload (the bind password crosses the network in clear);
// allowPlainPassword over it is another. Over loopback neither is said:
// nothing leaves the machine. Nothing was said at all.
func TestLDAPClearTextWarned(t *testing.T) {
	dir := slapdtest.Start(t, ldapSeed)
	far := dir.Elsewhere(t)
	pw := slapdtest.PasswordFile(t, slapdtest.BindPW)
	conf := func(url, extra string) string {
		return "listen: 127.0.0.1:0\nupstream:\n  profile: ldap\n  url: " + url + "\n  timeout: 5s\n  ldap:\n" +
			"    bindDN: " + slapdtest.BindDN + "\n    bindPasswordFile: " + pw + "\n    baseDN: " + slapdtest.People +
			"\n    idAttribute: employeeNumber\n" + extra
	}
	for _, c := range []struct {
		name, url, extra string
		want             []string // the keys warned of, once each
	}{
		{"ldap:// elsewhere", far, "", []string{"upstream.ldap.startTLS"}},
		{"and allowPlainPassword", far, "    allowPlainPassword: true\n", []string{"upstream.ldap.startTLS", "upstream.ldap.allowPlainPassword"}},
		{"loopback", dir.URL, "    allowPlainPassword: true\n", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := startFile(t, fileSetup{yaml: conf(c.url, c.extra)})
			// The directory is reached: an update goes through.
			a := f.do(t, "PUT", "/v3/users/"+johnID, map[string]string{"Content-Type": "application/json"}, `{"firstName":"Far"}`)
			if a.Status != 204 {
				t.Fatalf("%d %s", a.Status, a.Body)
			}
			checkWarned(t, f.logs.String(), c.url, c.want, 1)
			f.write(t, "config.yaml", conf(c.url, c.extra)+"dialects:\n  finix: {prefix: /finix}\n")
			if err := f.app.Reload(); err != nil {
				t.Fatal(err)
			}
			checkWarned(t, f.logs.String(), c.url, c.want, 2)
			if strings.Contains(f.logs.String(), slapdtest.BindPW) {
				t.Error("the bind password is logged")
			}
		})
	}
}

// checkWarned asserts that logs hold n WARN lines for each key of want,
// naming the directory, and no other WARN.
func checkWarned(t *testing.T, logs, url string, want []string, n int) {
	t.Helper()
	got := map[string]int{}
	for _, line := range strings.Split(logs, "\n") {
		var l struct{ Level, Msg, Key string }
		if json.Unmarshal([]byte(line), &l) != nil || l.Level != "WARN" {
			continue
		}
		got[l.Key]++
		if !strings.Contains(l.Msg, strings.TrimPrefix(url, "ldap://")) || !strings.Contains(l.Msg, "clear text") {
			t.Errorf("%s: %s", l.Key, l.Msg)
		}
	}
	for _, k := range want {
		if got[k] != n {
			t.Errorf("%s warned of %d times, want %d", k, got[k], n)
		}
		delete(got, k)
	}
	if len(got) > 0 {
		t.Errorf("other warnings: %v\n%s", got, logs)
	}
}
