package app_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/userbridge/userbridge/internal/migrate"
)

// primary: userbridge answers from its own backend, and the vendor's
// backend is kept current with every update userbridge applied.
func TestMigrationPrimaryKeepsVendorCurrent(t *testing.T) {
	for _, d := range specs {
		t.Run(d.name, func(t *testing.T) {
			m := startMigrating(t, d, "primary", "", "")
			before, _ := m.vendor.app.Demo.User(idOf(d))
			a := m.send(t, d.body)
			if a.Status != d.success {
				t.Fatalf("status %d: %s", a.Status, a.Body)
			}
			if d.name == "finix" && !strings.Contains(string(a.Body), m.cand.base[len("http://"):]+"/mig/") {
				t.Errorf("primary answered with the vendor's answer: %s", a.Body)
			}
			after, _ := m.vendor.app.Demo.User(idOf(d))
			if applied(m.vendor) != 1 || applied(m.cand) != 1 || string(before) == string(after) {
				t.Errorf("applied: vendor %d, candidate %d; vendor's user changed: %v", applied(m.vendor), applied(m.cand), string(before) != string(after))
			}
			mine, _ := m.cand.app.Demo.User(idOf(d))
			if withoutTimes(mine) != withoutTimes(after) {
				t.Errorf("the backends differ:\nvendor    %s\ncandidate %s", after, mine)
			}
			// Refused by userbridge: the vendor is not called.
			if a := m.send(t, `[]`); a.Status < 400 {
				t.Fatalf("[] accepted: %d", a.Status)
			}
			if got := outcomes(m.records(t)); !slices.Equal(got, []string{migrate.Match}) {
				t.Errorf("outcomes %v", got)
			}
			if m.vendor.app.Demo.Stats().Requests != 1 {
				t.Errorf("the vendor's backend got %d requests, want 1", m.vendor.app.Demo.Stats().Requests)
			}
		})
	}
}

// primary with the vendor down: the client gets userbridge's answer.
func TestMigrationPrimaryVendorDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	for _, d := range specs {
		t.Run(d.name, func(t *testing.T) {
			m := startMigrating(t, d, "primary", url, "")
			if a := m.send(t, d.body); a.Status != d.success {
				t.Fatalf("status %d: %s", a.Status, a.Body)
			}
			rs := m.records(t)
			if len(rs) != 1 || rs[0].Outcome != migrate.LegacyError || rs[0].CandidateStatus != d.success {
				t.Errorf("records %+v", rs)
			}
		})
	}
}

// withoutTimes drops a canonical user's updatedAt for comparing backends.
func withoutTimes(u []byte) string {
	s := string(u)
	if i := strings.Index(s, `"updatedAt":"`); i >= 0 {
		j := strings.IndexByte(s[i+len(`"updatedAt":"`):], '"')
		s = s[:i] + s[i+len(`"updatedAt":"`)+j+1:]
	}
	return s
}

// The hop is a reverse proxy's: method, path without the prefix, query,
// body byte for byte, end-to-end headers with the credentials, Host the
// vendor's, hop-by-hop headers dropped (those Connection names too),
// X-Forwarded-* added; the vendor's answer reaches the client unchanged.
func TestMigrationHop(t *testing.T) {
	var mu sync.Mutex
	var got *http.Request
	var gotBody []byte
	vendor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, gotBody = r, b
		mu.Unlock()
		w.Header().Set("X-Vendor", "yes")
		w.Header().Set("Content-Type", "application/json; charset=latin1")
		w.WriteHeader(201)
		_, _ = w.Write([]byte(`{"vendor":true}`))
	}))
	t.Cleanup(vendor.Close)
	d := specs[0] // baasic
	m := startMigrating(t, d, "shadow", vendor.URL+"/api", "")
	body := " {\"email\" : \"jane.doe@example.org\"}\n"
	req, _ := http.NewRequest("PUT", m.cand.base+"/mig"+d.path+"?x=1&y=%2F", strings.NewReader(body))
	req.Header.Set("Authorization", "BEARER 2a1b3c")
	req.Header.Set("Connection", "X-Private")
	req.Header.Set("X-Private", "hop")
	req.Header.Set("Keep-Alive", "timeout=5")
	req.Header.Set("X-Custom", "end-to-end")
	req.Header.Set("X-Forwarded-For", "10.0.0.1")
	req.Header.Set("Content-Type", "application/json")
	a := doReq(t, req)
	if a.Status != 201 || string(a.Body) != `{"vendor":true}` || a.Header.Get("X-Vendor") != "yes" ||
		a.Header.Get("Content-Type") != "application/json; charset=latin1" {
		t.Errorf("the client's answer is not the vendor's: %d %v %s", a.Status, a.Header, a.Body)
	}
	mu.Lock()
	defer mu.Unlock()
	if got.Method != "PUT" || got.URL.EscapedPath() != "/api"+d.path || got.URL.RawQuery != "x=1&y=%2F" || string(gotBody) != body {
		t.Errorf("hop: %s %s?%s %q", got.Method, got.URL.EscapedPath(), got.URL.RawQuery, gotBody)
	}
	if got.Host != vendor.Listener.Addr().String() {
		t.Errorf("Host %s", got.Host)
	}
	h := got.Header
	if h.Get("Authorization") != "BEARER 2a1b3c" || h.Get("X-Custom") != "end-to-end" || h.Get("Content-Type") != "application/json" {
		t.Errorf("end-to-end headers lost: %v", h)
	}
	if h.Get("X-Private") != "" || h.Get("Keep-Alive") != "" {
		t.Errorf("hop-by-hop headers passed: %v", h)
	}
	// server.trustForwarded is off: the client's X-Forwarded-For is not
	// the vendor's to believe, the peer alone is.
	if h.Get("X-Forwarded-For") != "127.0.0.1" || h.Get("X-Forwarded-Proto") != "http" ||
		h.Get("X-Forwarded-Host") != m.cand.base[len("http://"):] || h.Get("X-Request-Id") == "" {
		t.Errorf("X-Forwarded-*: %v", h)
	}
	// 201 against userbridge's 204: a mismatch on the status and the body.
	rs := m.records(t)
	if len(rs) != 1 || rs[0].Outcome != migrate.Mismatch || rs[0].Diffs[0].Path != migrate.StatusPath || rs[0].RequestID != h.Get("X-Request-Id") {
		t.Errorf("records %+v", rs)
	}
}

// A reload moves a dialect through the migration's modes (shadow →
// primary → off) without a restart; migration.log stays the file opened at
// start.
func TestMigrationModesReload(t *testing.T) {
	d := specNamed(t, "shift")
	vendor := start(t, "", "", nil)
	log := filepath.Join(t.TempDir(), "migration.log")
	cfg := "listen: 127.0.0.1:0\nupstream: {url: demo}\nmigration: {log: %q}\ndialects:\n  shift:\n    legacy: {url: %q, mode: %s}\n"
	f := startFile(t, fileSetup{yaml: fmt.Sprintf(cfg, log, vendor.base, "shadow")})
	for i, mode := range []string{"shadow", "primary", "off"} {
		if i > 0 {
			f.write(t, "config.yaml", fmt.Sprintf(cfg, log, vendor.base, mode))
			if err := f.app.Reload(); err != nil {
				t.Fatal(err)
			}
		}
		if a := f.do(t, d.method, d.path, d.header, d.body); a.Status != d.success {
			t.Fatalf("%s: %d %s", mode, a.Status, a.Body)
		}
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"mode":"shadow"`) || !strings.Contains(lines[1], `"mode":"primary"`) {
		t.Errorf("diff log:\n%s", b)
	}
	if applied(vendor) != 2 || f.app.Demo.Stats().Applied != 3 {
		t.Errorf("applied: vendor %d (want shadow's and primary's), userbridge %d (want 3)", applied(vendor), f.app.Demo.Stats().Applied)
	}
}
