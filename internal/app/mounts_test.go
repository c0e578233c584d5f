package app_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"
	"github.com/userbridge/userbridge/config"
)

// TestMountOptions serves dialects under a prefix, on a listener of their
// own and for one Host only, and checks each answers only there.
func TestMountOptions(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, `
listen: 127.0.0.1:0
dialects:
  finix: {prefix: /finix}
  shift: {listen: "127.0.0.2:0"}
  crafter: {host: studio.example.com}
  baasic: {enabled: false}
`, rec.srv.URL, e2eConfig)
	json := map[string]string{"Content-Type": "application/json"}

	rec.set(okUser)
	if a := s.do(t, "PUT", "/finix/users/US1", json, `{"enabled":true}`); a.Status != http.StatusOK {
		t.Errorf("prefixed finix: %d %s", a.Status, a.Body)
	}
	// Under its prefix every path is finix's: a 404 in its envelope (its
	// SDK reads no other), whatever the request carries.
	if a := s.do(t, "GET", "/finix/identities", nil, ""); a.Status != http.StatusNotFound ||
		gjson.GetBytes(a.Body, "_embedded.errors.0.code").Str != "NOT_FOUND" {
		t.Errorf("a path under finix's prefix: %d %s", a.Status, a.Body)
	}
	// trustedtwin has PATCH /users/:user: PUT there is 405, never finix;
	// the path is trustedtwin's alone now, so it answers in its envelope.
	if a := s.do(t, "PUT", "/users/US1", json, `{"enabled":true}`); a.Status != http.StatusMethodNotAllowed ||
		a.Header.Get("Allow") != "PATCH" || gjson.GetBytes(a.Body, "subcode").Int() != 405000 || strings.Contains(string(a.Body), "_embedded") {
		t.Errorf("finix still on its default route: %d %s", a.Status, a.Body)
	}
	if a := s.do(t, "PUT", "/v1/app/users/jane", json, `{}`); a.Status != http.StatusNotFound {
		t.Errorf("disabled baasic answered: %d", a.Status)
	}

	// shift is on a listener of its own, not on the main one.
	if a := s.do(t, "PUT", "/v3/users/u1", json, `{"firstName":"A"}`); a.Status != http.StatusNotFound {
		t.Errorf("shift on the main listener: %d", a.Status)
	}
	var shiftAddr string
	for _, m := range s.app.Mounts {
		if m.Dialect.Name() == "shift" {
			shiftAddr = s.app.Server.Addr(m.Listen)
		}
	}
	if shiftAddr == "" || "http://"+shiftAddr == s.base {
		t.Fatalf("shift has no listener of its own: %q", shiftAddr)
	}
	own := &started{app: s.app, base: "http://" + shiftAddr}
	rec.set(nil)
	if a := own.do(t, "PUT", "/v3/users/u1", json, `{"firstName":"A"}`); a.Status != http.StatusNoContent {
		t.Errorf("shift on its listener: %d %s", a.Status, a.Body)
	}

	// crafter answers only for its Host.
	path := "/studio/api/1/services/api/1/user/update.json"
	if a := s.do(t, "POST", path, json, `{"username":"jane"}`); a.Status != http.StatusNotFound {
		t.Errorf("crafter without its Host: %d", a.Status)
	}
	req, _ := http.NewRequest("POST", s.base+path, strings.NewReader(`{"username":"jane"}`))
	req.Host = "Studio.Example.com:443"
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("crafter with its Host: %d", resp.StatusCode)
	}
}

// TestForwardedLinks builds Finix's _links from X-Forwarded-* only when the
// configuration trusts the proxy in front.
func TestForwardedLinks(t *testing.T) {
	hdr := map[string]string{"Content-Type": "application/json", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.com"}
	for _, trust := range []bool{false, true} {
		s := start(t, "", "", func(c *config.Config) { c.Server.TrustForwarded = trust })
		a := s.do(t, "PUT", "/users/"+finixID, hdr, `{"enabled":true}`)
		href := gjson.GetBytes(a.Body, "_links.self.href").Str
		want := s.base + "/users/" + finixID
		if trust {
			want = "https://api.example.com/users/" + finixID
		}
		if a.Status != http.StatusOK || href != want {
			t.Errorf("trust %v: %d self.href %q, want %q", trust, a.Status, href, want)
		}
	}
}

// TestShiftPasswordAgainstStoredUsername: Shift's "your password cannot
// contain your username" needs the stored user when the body has no
// userName: userbridge GETs it first, and never forwards a refused password.
func TestShiftPasswordAgainstStoredUsername(t *testing.T) {
	s := start(t, "", "", nil)
	json := map[string]string{"Content-Type": "application/json"}
	path := "/v3/users/" + johnID // john.smith in the demo backend
	before := s.app.Demo.Stats().Applied

	a := s.do(t, "PUT", path, json, `{"password":"X1!john.smithX"}`)
	if a.Status != http.StatusBadRequest || gjson.GetBytes(a.Body, "password").Str != "password must not contain the username" {
		t.Fatalf("got %d %s", a.Status, a.Body)
	}
	if s.app.Demo.Stats().Applied != before {
		t.Fatal("a refused password was applied")
	}
	a = s.do(t, "PUT", path, json, `{"password":"Str0ng!Passw0rd"}`)
	if a.Status != http.StatusNoContent {
		t.Fatalf("got %d %s", a.Status, a.Body)
	}
	if !s.app.Demo.CheckPassword(johnID, "Str0ng!Passw0rd") {
		t.Fatal("the accepted password was not stored")
	}
	// with the username in the body, the body's username is the one checked
	a = s.do(t, "PUT", path, json, `{"userName":"jsmith","password":"Xjsmith!1a"}`)
	if a.Status != http.StatusBadRequest || gjson.GetBytes(a.Body, "password").Str == "" {
		t.Fatalf("got %d %s", a.Status, a.Body)
	}
}

// TestLinksNeverTakeAForeignAuthority: an X-Forwarded-Host that is not a
// host[:port] cannot change what a rendered link points at, nor make the
// answer invalid JSON: its other bytes are %-escaped. Of a list of
// forwarded values, the first (the client's) is taken. A Host of that kind
// is refused by the HTTP server before any dialect runs (400, the generic
// envelope).
func TestLinksNeverTakeAForeignAuthority(t *testing.T) {
	s := start(t, "", "", func(c *config.Config) { c.Server.TrustForwarded = true })
	addr := strings.TrimPrefix(s.base, "http://")
	body := `{"enabled":true}`
	for _, c := range []struct{ host, fwdHost, fwdProto, want string }{
		{addr, "api.example.com, proxy.internal", "HTTPS, http", "https://api.example.com"},
		{addr, "evil.com@x", "", "http://evil.com%40x"},
		{addr, "evil.com?x=", "", "http://evil.com%3Fx%3D"},
		{addr, "evil.com#", "", "http://evil.com%23"},
		{addr, `"><img>`, "", "http://%22%3E%3Cimg%3E"},
		{addr, "user@evil.com", "", "http://user%40evil.com"},
		{addr, "\xff\xfe", "", "http://%FF%FE"},
		{"[::1]:8080", "", "", "http://[::1]:8080"},
		{"user@evil.com", "", "", ""},
		{"\xff\xfe", "", "", ""},
	} {
		raw := "PUT /users/" + finixID + " HTTP/1.1\r\nHost: " + c.host + "\r\nContent-Type: application/json\r\n"
		if c.fwdHost != "" {
			raw += "X-Forwarded-Host: " + c.fwdHost + "\r\n"
		}
		if c.fwdProto != "" {
			raw += "X-Forwarded-Proto: " + c.fwdProto + "\r\n"
		}
		raw += "Content-Length: " + strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n" + body
		a, err := rawExchange(addr, raw, 3*time.Second)
		if err != nil {
			t.Fatalf("%q: %v", c.host+" "+c.fwdHost, err)
		}
		if !gjson.ValidBytes(a.Body) || !utf8.Valid(a.Body) {
			t.Errorf("%q %q: the answer is not valid JSON: %q", c.host, c.fwdHost, a.Body)
			continue
		}
		if c.want == "" {
			if a.Status != http.StatusBadRequest || gjson.GetBytes(a.Body, "error.code").Str != "bad_request" {
				t.Errorf("Host %q: %d %s, want 400 in the generic envelope", c.host, a.Status, a.Body)
			}
			continue
		}
		if href, want := gjson.GetBytes(a.Body, "_links.self.href").Str, c.want+"/users/"+finixID; a.Status != http.StatusOK || href != want {
			t.Errorf("%q %q: %d self.href %q, want %q", c.host, c.fwdHost, a.Status, href, want)
		}
	}
}

// TestRequestIDIsVisibleASCII: a client's X-Request-Id goes into JSON
// answers (Finix's logref) and headers as it is, so one that is not visible
// ASCII is replaced by a fresh id.
func TestRequestIDIsVisibleASCII(t *testing.T) {
	s := start(t, "", "", nil)
	addr := strings.TrimPrefix(s.base, "http://")
	body := `{"enabled":1}`
	for _, id := range []string{"\xff\xfe", "caf\xc3\xa9", "a b", "ok-id_1.2"} {
		raw := "PUT /users/" + finixID + " HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\nX-Request-Id: " + id +
			"\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n" + body
		a, err := rawExchange(addr, raw, 3*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		logref := gjson.GetBytes(a.Body, "_embedded.errors.0.logref").Str
		if !gjson.ValidBytes(a.Body) || !utf8.Valid(a.Body) || logref != a.Header.Get("X-Request-Id") {
			t.Fatalf("%q: %q (X-Request-Id %q)", id, a.Body, a.Header.Get("X-Request-Id"))
		}
		if keep := id == "ok-id_1.2"; (logref == id) != keep {
			t.Errorf("%q: logref %q", id, logref)
		}
	}
}
