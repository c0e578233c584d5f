// Package slapdtest runs a real OpenLDAP slapd for tests: a throwaway
// configuration and database in a temporary directory, the core, cosine,
// inetorgperson and nis schemas and the ppolicy overlay (refint too, on
// request: StartWith), seeded from LDIF with slapadd, listening on a
// loopback port. It needs Debian's slapd package (.ci/run installs it);
// without it a test is skipped, unless CI=true, where it fails.
package slapdtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// The directory every Server holds.
const (
	Suffix   = "dc=example,dc=org"
	People   = "ou=people," + Suffix
	Groups   = "ou=groups," + Suffix
	AdminDN  = "cn=admin," + Suffix // the rootdn: no ACL applies to it
	AdminPW  = "admin-secret"
	BindDN   = "cn=userbridge,ou=system," + Suffix // the service account
	BindPW   = "userbridge-secret"
	ReaderDN = "cn=reader,ou=system," + Suffix // may read, never write
	ReaderPW = "reader-secret"
	// Frozen is the DN of the one user the service account may read but
	// not change (insufficientAccessRights).
	Frozen = "uid=frozen,ou=people," + Suffix
	// FrozenGroup is the one group the service account may read but not
	// change.
	FrozenGroup = "cn=Frozen,ou=groups," + Suffix
)

// Base is the skeleton every seed starts from: the suffix, ou=people,
// ou=groups, ou=system with the service account and the reader, the
// default password policy (ppolicy: pwdLockout, so that an account whose
// pwdAccountLockedTime is set cannot bind), and the frozen user.
const Base = `dn: ` + Suffix + `
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,` + Suffix + `
objectClass: organizationalUnit
ou: people

dn: ou=groups,` + Suffix + `
objectClass: organizationalUnit
ou: groups

dn: ou=system,` + Suffix + `
objectClass: organizationalUnit
ou: system

dn: ` + BindDN + `
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: userbridge
userPassword: ` + BindPW + `

dn: ` + ReaderDN + `
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: reader
userPassword: ` + ReaderPW + `

dn: ou=policies,` + Suffix + `
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,` + Suffix + `
objectClass: organizationalRole
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdLockout: TRUE

dn: ` + FrozenGroup + `
objectClass: groupOfNames
cn: Frozen
member: ` + AdminDN + `

dn: ` + Frozen + `
objectClass: inetOrgPerson
uid: frozen
cn: Frozen User
sn: User
employeeNumber: frozen-1
`

// conf is slapd.conf. The service account may manage ou=people and
// ou=groups (ppolicy's pwdAccountLockedTime needs manage), except the
// frozen user and the frozen group, which it may only read; the reader
// reads everything.
const conf = `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
{{modules}}pidfile {{dir}}/slapd.pid
argsfile {{dir}}/slapd.args
database mdb
maxsize 16777216
suffix "` + Suffix + `"
rootdn "` + AdminDN + `"
rootpw ` + AdminPW + `
directory {{dir}}/db
overlay ppolicy
ppolicy_default "cn=default,ou=policies,` + Suffix + `"
{{overlays}}TLSCertificateFile {{dir}}/cert.pem
TLSCertificateKeyFile {{dir}}/key.pem
access to dn.exact="` + FrozenGroup + `"
  by dn.exact="` + BindDN + `" read
  by * read
access to dn.exact="` + Frozen + `"
  by dn.exact="` + BindDN + `" read
  by dn.exact="` + ReaderDN + `" read
  by * none
access to attrs=userPassword
  by dn.exact="` + BindDN + `" manage
  by anonymous auth
  by self write
  by * none
access to dn.subtree="ou=people,` + Suffix + `"
  by dn.exact="` + BindDN + `" manage
  by * read
access to dn.subtree="ou=groups,` + Suffix + `"
  by dn.exact="` + BindDN + `" manage
  by * read
access to * by * read
`

// Server is one running slapd.
type Server struct {
	// URL is ldap://127.0.0.1:PORT (StartTLS offered); LDAPSURL is
	// ldaps://127.0.0.1:PORT2.
	URL, LDAPSURL string
	Addr, TLSAddr string
	// CAFile is the PEM certificate slapd presents (self-signed, for
	// 127.0.0.1 and localhost): upstream.tls.caFile.
	CAFile string
	dir    string
	mu     sync.Mutex
	cmd    *exec.Cmd
}

// Options are what a directory has beyond Start's.
type Options struct {
	// Refint loads the refint overlay for member and uniqueMember: a
	// renamed or deleted entry's DN is changed (or removed) in every group
	// that holds it, by slapd itself, after the rename's answer.
	Refint bool
}

// Start seeds a new directory with Base and seed (LDIF; entryUUID may be
// given) and starts slapd on a free loopback port. The server is stopped
// when the test ends, and killed if the test binary dies first.
func Start(t testing.TB, seed string) *Server {
	t.Helper()
	return StartWith(t, seed, Options{})
}

// StartWith is Start with o's additions.
func StartWith(t testing.TB, seed string, o Options) *Server {
	t.Helper()
	slapd, slapadd := find(t, "slapd"), find(t, "slapadd")
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	cf := filepath.Join(dir, "slapd.conf")
	modules, overlays := "", ""
	if o.Refint {
		modules += "moduleload refint\n"
		overlays += "overlay refint\nrefint_attributes member uniqueMember\n"
	}
	write(t, cf, strings.NewReplacer("{{dir}}", dir, "{{modules}}", modules, "{{overlays}}", overlays).Replace(conf))
	ldif := filepath.Join(dir, "seed.ldif")
	write(t, ldif, Base+"\n"+seed)
	if out, err := exec.Command(slapadd, "-f", cf, "-l", ldif).CombinedOutput(); err != nil {
		t.Fatalf("slapdtest: slapadd: %v: %s", err, out)
	}
	s := &Server{dir: dir, CAFile: filepath.Join(dir, "cert.pem")}
	selfSigned(t, s.CAFile, filepath.Join(dir, "key.pem"))
	var err error
	for try := 0; try < 3; try++ { // another program may take a port freeAddr chose
		s.Addr, s.TLSAddr = freeAddr(t), freeAddr(t)
		s.URL, s.LDAPSURL = "ldap://"+s.Addr, "ldaps://"+s.TLSAddr
		if err = s.start(slapd, cf); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("slapdtest: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// find locates a program of Debian's slapd package: a skip outside CI, a
// failure under CI=true.
func find(t testing.TB, name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := "/usr/sbin/" + name; exists(p) {
		return p
	}
	msg := "slapdtest: " + name + " not found: install Debian's slapd and ldap-utils (apt-get install slapd ldap-utils; .ci/run does)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func write(t testing.TB, path, data string) {
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// freeAddr is a loopback address no one listens on now.
func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// start runs slapd on s.Addr and s.TLSAddr and waits until it answers a
// bind as the rootdn (so that it is this slapd, not another program that
// took the port). It reports slapd exiting at start (a port taken since
// freeAddr chose it).
func (s *Server) start(slapd, cf string) error {
	cmd := exec.Command(slapd, "-f", cf, "-h", "ldap://"+s.Addr+"/ ldaps://"+s.TLSAddr+"/", "-d", "0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	// killed with the test binary, whatever ends it
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-exited:
			return fmt.Errorf("slapd exited: %v", err)
		default:
		}
		if time.Since(start) > 30*time.Second {
			_ = cmd.Process.Kill()
			return fmt.Errorf("slapd does not answer on %s", s.Addr)
		}
		c, err := goldap.DialURL(s.URL)
		if err != nil {
			continue
		}
		err = c.Bind(AdminDN, AdminPW)
		c.Close()
		if err == nil {
			s.mu.Lock()
			s.cmd = cmd
			s.mu.Unlock()
			go func() { <-exited }()
			return nil
		}
	}
}

// Stop kills slapd (SIGKILL: at once, as a crashed server) and waits for it
// to go. The database stays: Restart starts it again.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Kill()
	for i := 0; i < 500; i++ { // wait for the port to close
		c, err := net.Dial("tcp", s.Addr)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
}

// Pause stops slapd without ending it (SIGSTOP): connections are
// accepted by the kernel, nothing is answered. Resume continues it.
func (s *Server) Pause(t testing.TB) { s.signal(t, syscall.SIGSTOP) }

// Resume continues a paused slapd (SIGCONT).
func (s *Server) Resume(t testing.TB) { s.signal(t, syscall.SIGCONT) }

func (s *Server) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		t.Fatal("slapdtest: slapd is not running")
	}
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// Restart starts a stopped slapd again on the same port and database.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.start(find(t, "slapd"), filepath.Join(s.dir, "slapd.conf")); err != nil {
		t.Fatalf("slapdtest: restart: %v", err)
	}
}

// Admin is a connection bound as the rootdn, for checking what the
// directory holds; closed when the test ends.
func (s *Server) Admin(t testing.TB) *goldap.Conn {
	t.Helper()
	c, err := goldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Bind(AdminDN, AdminPW); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Entry reads the entry at dn with every user and operational attribute;
// nil when there is none.
func (s *Server) Entry(t testing.TB, dn string) *goldap.Entry {
	t.Helper()
	c := s.Admin(t)
	res, err := c.Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"*", "+"}, nil))
	if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return res.Entries[0]
}

// Members lists the member values of the group at dn.
func (s *Server) Members(t testing.TB, dn string) []string {
	t.Helper()
	e := s.Entry(t, dn)
	if e == nil {
		t.Fatalf("no group %s", dn)
	}
	return e.GetAttributeValues("member")
}

// PasswordFile writes the service account's password to a file for
// upstream.ldap.bindPasswordFile.
func PasswordFile(t testing.TB, pw string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "bind-password")
	write(t, f, pw+"\n")
	return f
}

// selfSigned writes a self-signed ECDSA certificate for 127.0.0.1 and
// localhost, and its key.
func selfSigned(t testing.TB, certFile, keyFile string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "slapdtest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	write(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})))
}

// Port is the port slapd listens on.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.Addr)
	n, _ := strconv.Atoi(p)
	return n
}

// String names the server.
func (s *Server) String() string { return fmt.Sprintf("slapd at %s", s.URL) }
