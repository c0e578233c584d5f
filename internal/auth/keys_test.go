package auth

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/mapping/canonical"
	"golang.org/x/crypto/bcrypt"
)

func TestAPIKeyAlone(t *testing.T) {
	file := writeFile(t, "keys", "# reporting and sync jobs\n"+
		"svc-report:"+sha256Hex("k-report-0123456789")+":reader\n\n"+
		"svc-sync:"+strings.ToUpper(sha256Hex("k-sync-0123456789"))+":admin,writer:7\n")
	a := newAuth(t, config.Auth{Mode: config.ModeVerify, APIKeys: &config.APIKeys{File: file}},
		Options{Dialect: Dialect{Name: "trustedtwin", APIKeyHeader: "Authorization"}})
	for _, tc := range []struct {
		name, header, want string
		roles              []string
		id                 string
	}{
		{"schemeless, as Trusted Twin sends", "k-report-0123456789", "svc-report", []string{"reader"}, "svc-report"},
		{"last line, upper-case hash", "k-sync-0123456789", "svc-sync", []string{"admin", "writer"}, "7"},
		{"after Bearer", "Bearer k-sync-0123456789", "svc-sync", []string{"admin", "writer"}, "7"},
		{"after BEARER", "BEARER k-sync-0123456789", "svc-sync", []string{"admin", "writer"}, "7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, e := a.Authenticate(request("Authorization", tc.header))
			if e != nil {
				t.Fatalf("refused: %v", e)
			}
			if p.Subject != tc.want || p.Username != tc.want || p.ID != tc.id || p.Method != MethodAPIKey || !slices.Equal(p.Roles, tc.roles) {
				t.Errorf("principal %+v", p)
			}
		})
	}
	for _, tc := range []struct {
		name    string
		headers []string
		want    error
	}{
		{"wrong key", []string{"Authorization", "k-report-012345678"}, errInvalid},
		{"a key's hash as the key", []string{"Authorization", sha256Hex("k-report-0123456789")}, errInvalid},
		{"one character off", []string{"Authorization", "k-report-0123456788"}, errInvalid},
		{"empty", []string{"Authorization", ""}, errInvalid},
		{"two Authorization headers", []string{"Authorization", "k-report-0123456789", "Authorization", "k-sync-0123456789"}, errInvalid},
		{"none", nil, errMissing},
		{"in another header", []string{"X-Api-Key", "k-report-0123456789"}, errMissing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, e := a.Authenticate(request(tc.headers...))
			if e == nil {
				t.Fatalf("accepted as %+v", p)
			}
			if e != tc.want || e.HTTPStatus() != 401 {
				t.Errorf("got %v, want %v", e, tc.want)
			}
			if strings.Contains(e.Message, "k-") {
				t.Error("the error echoes the key")
			}
		})
	}
}

func TestAPIKeyPairShift(t *testing.T) {
	file := writeFile(t, "keys", "key-a:"+sha256Hex("secret-a")+"\n"+
		"key-b:"+bcryptHash(t, "secret-b", bcrypt.MinCost)+":admin\n")
	a := newAuth(t, config.Auth{Mode: config.ModeVerify, APIKeys: &config.APIKeys{File: file}},
		Options{Dialect: Dialect{Name: "shift", APIKeyHeader: "x-secret", APIKeyIDHeader: "x-key"}})
	for _, tc := range []struct {
		name    string
		headers []string
		want    string // principal, or "" for refused
	}{
		{"SHA-256 pair", []string{"x-key", "key-a", "x-secret", "secret-a"}, "key-a"},
		{"bcrypt pair", []string{"x-key", "key-b", "x-secret", "secret-b"}, "key-b"},
		{"another key's secret", []string{"x-key", "key-a", "x-secret", "secret-b"}, ""},
		{"unknown key", []string{"x-key", "key-c", "x-secret", "secret-a"}, ""},
		{"secret without key", []string{"x-secret", "secret-a"}, ""},
		{"key without secret", []string{"x-key", "key-a"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, e := a.Authenticate(request(tc.headers...))
			switch {
			case tc.want == "" && e == nil:
				t.Fatalf("accepted as %+v", p)
			case tc.want != "" && e != nil:
				t.Fatalf("refused: %v", e)
			case tc.want != "" && p.Subject != tc.want:
				t.Errorf("principal %+v", p)
			}
		})
	}
}

// TestAPIKeyTimingSafe checks that lookups take no shortcut an attacker can
// time: every SHA-256 entry is compared whichever matches, and an unknown
// key id costs a bcrypt comparison just as a wrong secret does.
func TestAPIKeyTimingSafe(t *testing.T) {
	// bcrypt keys: an unknown key id costs what a wrong secret costs, a
	// bcrypt comparison at the file's highest cost (checked on the work to
	// be done, not on a clock: timings on a shared machine prove nothing).
	bc, err := newCredStore(mustEntries(t, "key-a:"+bcryptHash(t, "secret-a", 5)+"\nkey-b:"+bcryptHash(t, "secret-b", 6)+"\n", allowBcrypt))
	if err != nil {
		t.Fatal(err)
	}
	if c, err := bcrypt.Cost(bc.dummy); err != nil || c != 6 {
		t.Fatalf("the hash an unknown id is checked against: cost %d (%v), want 6, the file's highest", c, err)
	}
	if bc.check("key-zz", "wrong") != nil || bc.check("key-a", "wrong") != nil || bc.check("key-b", "secret-b") == nil {
		t.Error("check")
	}

	// SHA-256 keys: the match is found by comparing every entry in
	// constant time; which entry matches does not change the work done.
	var lines []string
	for i := 0; i < 50; i++ {
		lines = append(lines, "k"+string(rune('A'+i%26))+string(rune('a'+i/26))+":"+sha256Hex("key-"+strings.Repeat("x", i)))
	}
	s, err := newCredStore(mustEntries(t, strings.Join(lines, "\n"), allowSHA256))
	if err != nil {
		t.Fatal(err)
	}
	if e := s.byKey("key-"); e == nil || e.name != "kAa" {
		t.Errorf("first entry: %+v", e)
	}
	if e := s.byKey("key-" + strings.Repeat("x", 49)); e == nil || e.name != "kXb" {
		t.Errorf("last entry: %+v", e)
	}
	if e := s.byKey("key-" + strings.Repeat("x", 50)); e != nil {
		t.Errorf("no entry: %+v", e)
	}
}

func mustEntries(t *testing.T, content string, kinds hashKinds) []*entry {
	t.Helper()
	e, err := readEntries(writeFile(t, "f", content), kinds)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestBasic(t *testing.T) {
	file := writeFile(t, "htpasswd", "# htpasswd -B\n"+
		"alice:"+bcryptHash(t, "wonderland", bcrypt.MinCost)+":admin\n"+
		// htpasswd writes $2y$; Go's bcrypt reads it.
		"bob:"+strings.Replace(bcryptHash(t, "builder", bcrypt.MinCost), "$2a$", "$2y$", 1)+"::u-bob\n")
	a := newAuth(t, config.Auth{Mode: config.ModeVerify, Basic: &config.Basic{File: file}}, Options{Dialect: Dialect{Name: "finix"}})
	basic := func(user, pw string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
	}
	p, e := a.Authenticate(request("Authorization", basic("alice", "wonderland")))
	if e != nil {
		t.Fatalf("alice refused: %v", e)
	}
	if p.Subject != "alice" || p.Username != "alice" || p.ID != "alice" || !slices.Equal(p.Roles, []string{"admin"}) || p.Method != MethodBasic {
		t.Errorf("principal %+v", p)
	}
	p, e = a.Authenticate(request("Authorization", "basic "+strings.TrimPrefix(basic("bob", "builder"), "Basic ")))
	if e != nil {
		t.Fatalf("bob ($2y$, lower-case scheme) refused: %v", e)
	}
	if p.ID != "u-bob" || len(p.Roles) != 0 {
		t.Errorf("principal %+v", p)
	}
	long := strings.Repeat("p", 72)
	longFile := writeFile(t, "long", "carol:"+bcryptHash(t, long, bcrypt.MinCost)+"\n")
	b := newAuth(t, config.Auth{Mode: config.ModeVerify, Basic: &config.Basic{File: longFile}}, Options{})
	if _, e := b.Authenticate(request("Authorization", basic("carol", long))); e != nil {
		t.Fatalf("a 72-byte password is refused: %v", e)
	}
	for _, tc := range []struct {
		name, header string
	}{
		{"wrong password", basic("alice", "wonderlant")},
		{"unknown user", basic("mallory", "wonderland")},
		{"other user's password", basic("bob", "wonderland")},
		{"empty user", basic("", "wonderland")},
		{"not base64", "Basic !!!"},
		{"no colon", "Basic " + base64.StdEncoding.EncodeToString([]byte("alice"))},
		{"bearer instead", "Bearer abc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if p, e := a.Authenticate(request("Authorization", tc.header)); e != errInvalid {
				t.Fatalf("got %+v, %v; want %v", p, e, errInvalid)
			}
		})
	}
	if _, e := b.Authenticate(request("Authorization", basic("carol", long+"-and-more"))); e != errInvalid {
		t.Errorf("a password longer than bcrypt reads, matching on its first 72 bytes, got %v", e)
	}
	if _, e := a.Authenticate(request()); e != errMissing {
		t.Errorf("no credentials: got %v, want %v", e, errMissing)
	}
}

// TestBasicCache checks that a verified password is not re-hashed on every
// request, and that failures are never remembered.
func TestBasicCache(t *testing.T) {
	file := writeFile(t, "htpasswd", "alice:"+bcryptHash(t, "wonderland", 8)+"\n")
	a := newAuth(t, config.Auth{Mode: config.ModeVerify, Basic: &config.Basic{File: file}}, Options{})
	r := func(pw string) *canonical.Error {
		req := request()
		req.SetBasicAuth("alice", pw)
		_, e := a.Authenticate(req)
		return e
	}
	if e := r("wrong"); e == nil {
		t.Fatal("wrong password accepted")
	}
	if n := len(a.basic.cache.m); n != 0 {
		t.Fatalf("a failure is cached (%d entries)", n)
	}
	if e := r("wonderland"); e != nil {
		t.Fatal(e)
	}
	// The success is remembered (what spares the next checks a bcrypt
	// comparison: checked on the cache, not on a clock).
	if n := len(a.basic.cache.m); n != 1 {
		t.Fatalf("after a success: %d cache entries, want 1", n)
	}
	for i := 0; i < 10; i++ {
		if e := r("wonderland"); e != nil {
			t.Fatal(e)
		}
	}
	if e := r("wonderlan"); e == nil {
		t.Error("a wrong password is accepted after a right one")
	}
	a.basic.cache.now = func() time.Time { return time.Now().Add(successCacheTTL + time.Second) }
	if a.basic.cache.hit("alice", "wonderland", a.basic.byName["alice"].bcrypt) {
		t.Error("an expired entry is still a hit")
	}
}

func TestAPIKeyHeaderDefaults(t *testing.T) {
	file := writeFile(t, "keys", "svc:"+sha256Hex("tok-1")+"\n")
	// A configured header does not inherit Shift's x-key id header.
	a := newAuth(t, config.Auth{Mode: config.ModeVerify, APIKeys: &config.APIKeys{File: file, Header: "Authorization"}}, Options{Dialect: shiftDialect})
	if a.keyHdr != "Authorization" || a.keyIDHdr != "" {
		t.Fatalf("headers %q, %q", a.keyHdr, a.keyIDHdr)
	}
	if _, e := a.Authenticate(request("Authorization", "tok-1")); e != nil {
		t.Error(e)
	}
	// Left empty, both come from the dialect.
	file = writeFile(t, "keys", "key-a:"+sha256Hex("secret-a")+"\n")
	b := newAuth(t, config.Auth{Mode: config.ModeVerify, APIKeys: &config.APIKeys{File: file}}, Options{Dialect: shiftDialect})
	if b.keyHdr != "X-Secret" || b.keyIDHdr != "X-Key" {
		t.Fatalf("headers %q, %q", b.keyHdr, b.keyIDHdr)
	}
}
