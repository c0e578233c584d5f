package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/userbridge/userbridge/internal/upstream/ldap/slapdtest"
)

// TestValidateLDAP: `userbridge validate` connects to the directory of
// profile ldap and reports an unreachable directory, a bind that fails and
// a base DN that does not exist, each in one line naming its key (and
// the count of problems); a certificate not trusted (ldaps:// without the
// directory's CA) under upstream.tls.caFile, not as unreachable, and after
// StartTLS with the handshake's reason, not "network error"; and
// upstream.tls set for a directory reached without TLS, in LDAP's terms.
func TestValidateLDAP(t *testing.T) {
	dir := slapdtest.Start(t, "")
	good, wrong := slapdtest.PasswordFile(t, slapdtest.BindPW), slapdtest.PasswordFile(t, "not-the-password")
	conf := func(url, pwFile, base string) string {
		f := filepath.Join(t.TempDir(), "ldap.yaml")
		yaml := "upstream:\n  profile: ldap\n  url: " + url + "\n  timeout: 5s\n  ldap:\n" +
			"    bindDN: " + slapdtest.BindDN + "\n    bindPasswordFile: " + pwFile + "\n    baseDN: " + base + "\n"
		if err := os.WriteFile(f, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	if code, out, errs := runCmd("", "validate", "--config", conf(dir.URL, good, slapdtest.People)); code != 0 || !strings.Contains(out, "valid") {
		t.Fatalf("a reachable directory: %d %s %s", code, out, errs)
	}
	// upstream.tls with a directory reached without TLS: the LDAP words,
	// not the HTTP profiles' "URL is not https".
	plainTLS := conf(dir.URL, good, slapdtest.People)
	appendTo(t, plainTLS, "  tls: {caFile: "+dir.CAFile+"}\n")
	startTLS := conf(dir.URL, good, slapdtest.People)
	appendTo(t, startTLS, "    startTLS: true\n")
	for _, c := range []struct{ name, file, want string }{
		{"StartTLS certificate not trusted", startTLS, "upstream.ldap.startTLS: StartTLS with " + dir.Addr + " failed: TLS handshake failed (tls: failed to verify certificate: x509: "},
		{"certificate not trusted", conf(dir.LDAPSURL, good, slapdtest.People), "upstream.tls.caFile: the directory's certificate at " + dir.TLSAddr + " is not trusted: x509: "},
		{"tls without TLS", plainTLS, "upstream.tls: set, but the directory is reached without TLS: use ldaps://, or upstream.ldap.startTLS: true"},
		{"unreachable", conf("ldap://127.0.0.1:1", good, slapdtest.People), "upstream.url: the directory at 127.0.0.1:1 is unreachable"},
		{"bind fails", conf(dir.URL, wrong, slapdtest.People), "upstream.ldap.bindDN: the directory refused the bind as " + slapdtest.BindDN + ": invalid credentials"},
		{"no base DN", conf(dir.URL, good, "ou=nobody,"+slapdtest.Suffix), "upstream.ldap.baseDN: ou=nobody," + slapdtest.Suffix + " does not exist in the directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, errs := runCmd("", "validate", "--config", c.file)
			if code == 0 || !strings.Contains(errs, c.want) {
				t.Fatalf("exit %d, want the line %q in: %s", code, c.want, errs)
			}
			// One problem, then validate's count.
			if lines := strings.Split(strings.TrimSpace(errs), "\n"); len(lines) != 2 || lines[1] != c.file+": 1 problem" {
				t.Errorf("%d lines: %s", len(lines), errs)
			}
			if strings.Contains(errs, "not-the-password") || strings.Contains(errs, slapdtest.BindPW) {
				t.Errorf("the password is shown: %s", errs)
			}
		})
	}
}

// TestValidateLDAPClearText: validate says, as serve logs at start-up, that
// a directory reached over ldap:// without StartTLS at an address that is
// not loopback gets the bind password in clear, and that
// allowPlainPassword sends users' passwords so too; the configuration is
// still valid. Over loopback it says neither.
func TestValidateLDAPClearText(t *testing.T) {
	dir := slapdtest.Start(t, "")
	far := dir.Elsewhere(t)
	pw := slapdtest.PasswordFile(t, slapdtest.BindPW)
	for _, c := range []struct {
		name, url string
		want      []string
	}{
		{"elsewhere", far, []string{
			"warning: FILE: upstream.ldap.startTLS: the directory at " + strings.TrimPrefix(far, "ldap://") +
				" is reached over ldap:// without StartTLS: the bind password crosses the network in clear text (set startTLS: true, or use ldaps://)",
			"warning: FILE: upstream.ldap.allowPlainPassword: true: a password a client sets crosses the network to the directory at " +
				strings.TrimPrefix(far, "ldap://") + " in clear text"}},
		{"loopback", dir.URL, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "ldap.yaml")
			yaml := "upstream:\n  profile: ldap\n  url: " + c.url + "\n  timeout: 5s\n  ldap:\n" +
				"    bindDN: " + slapdtest.BindDN + "\n    bindPasswordFile: " + pw + "\n    baseDN: " + slapdtest.People +
				"\n    allowPlainPassword: true\n"
			if err := os.WriteFile(f, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, errs := runCmd("", "validate", "--config", f)
			if code != 0 || !strings.Contains(out, "valid") {
				t.Fatalf("exit %d: %s %s", code, out, errs)
			}
			var want string
			for _, w := range c.want {
				want += strings.Replace(w, "FILE", f, 1) + "\n"
			}
			if errs != want {
				t.Errorf("stderr:\n%s\nwant:\n%s", errs, want)
			}
		})
	}
}

// appendTo adds text at the end of the file.
func appendTo(t *testing.T, file, text string) {
	t.Helper()
	f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}
