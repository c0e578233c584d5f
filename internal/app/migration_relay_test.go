package app_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/userbridge/userbridge/mapping/canonical"
)

// The vendor's other endpoints (docs/migration.md): in shadow mode, a
// request of the dialect that no route matches is relayed to the vendor
// and its answer to the client; in primary mode userbridge answers it.

// vendorAnswer is what the recording vendor answers: recognizable in
// every part, and not JSON, so that nothing could be a rendering of it.
var vendorAnswer = "vendor's own bytes\x00\xff\n"

// answerAsVendor makes rec answer with vendorAnswer, 203, and headers of
// its own.
func answerAsVendor(rec *recorder, tag string) {
	rec.set(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Vendor", tag)
		w.Header().Set("Content-Type", "application/x-vendor")
		w.Header().Add("Set-Cookie", "vendor=1; Path=/")
		w.WriteHeader(http.StatusNonAuthoritativeInfo)
		_, _ = io.WriteString(w, vendorAnswer+tag)
	})
}

// isVendors checks that a is the vendor's answer, unchanged but for its
// cookie's Path, put under the prefix (TestMigrationShadowRelayRewritesVendorPaths).
func isVendors(t *testing.T, a answer, tag string) {
	t.Helper()
	if a.Status != http.StatusNonAuthoritativeInfo || string(a.Body) != vendorAnswer+tag || a.Header.Get("X-Vendor") != tag ||
		a.Header.Get("Content-Type") != "application/x-vendor" || !strings.HasPrefix(a.Header.Get("Set-Cookie"), "vendor=1; Path=/") {
		t.Errorf("not the vendor's answer: %d %v %q", a.Status, a.Header, a.Body)
	}
}

// startRelaying starts a candidate userbridge serving d, under prefix ("":
// at the root), with a legacy block in mode; the other built-in dialects
// at the root beside it, or disabled when alone.
func startRelaying(t *testing.T, d dialectSpec, mode, prefix, vendorURL string, alone bool, extra ...string) *migrating {
	t.Helper()
	m := &migrating{spec: d, log: filepath.Join(t.TempDir(), "migration.log")}
	var others strings.Builder
	for _, o := range specs {
		if alone && o.name != d.name {
			fmt.Fprintf(&others, "  %s: {enabled: false}\n", o.name)
		}
	}
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
upstream: {url: demo}
log: {level: info, format: json}
migration: {log: %q}
dialects:
  %s:
    prefix: %q
    legacy: {url: %q, mode: %s, timeout: 300ms}
%s`, m.log, d.name, prefix, vendorURL, mode, others.String()) + strings.Join(extra, "\n")
	m.cand = start(t, cfg, "", nil)
	return m
}

// noRecords checks that the diff log holds no comparison.
func noRecords(t *testing.T, m *migrating) {
	t.Helper()
	if b, err := os.ReadFile(m.log); err == nil && len(b) > 0 {
		t.Errorf("comparisons recorded:\n%s", b)
	}
}

// In shadow mode, for each dialect, under a prefix and alone at the root:
// a read of the user (the update's path, another method) and a request of
// a path userbridge has no route for go to the vendor as the update does
// (method, path without the prefix, query, body byte for byte, end-to-end
// headers with the credentials, X-Forwarded-*, a GET without a body), and
// the client gets the vendor's answer unchanged; an access line and the
// metric say route "relayed"; nothing is compared, nothing reaches the
// upstream. userbridge's probes and metrics are never relayed, nor a body
// over server.maxBodyBytes (the dialect's 413); under a prefix, a path
// outside it is not the dialect's.
func TestMigrationShadowRelaysOtherRoutes(t *testing.T) {
	for _, d := range specs {
		for _, mount := range []struct {
			name, prefix string
			alone        bool
		}{{"prefix", "/mig", false}, {"root", "", true}} {
			t.Run(d.name+"/"+mount.name, func(t *testing.T) {
				vendor := newRecorder(t)
				answerAsVendor(vendor, d.name)
				m := startRelaying(t, d, "shadow", mount.prefix, vendor.srv.URL+"/api", mount.alone, "server: {maxBodyBytes: 4096}")
				for i, c := range []struct{ method, path, query, body string }{
					{"GET", d.path, "fields=all&next=%2Fx%3Fy", ""},
					{"DELETE", "/v9/other/things/%2F1", "", " {\"why\" : \"gone\"}\n"},
				} {
					rid := fmt.Sprintf("relay-%s-%d", d.name, i)
					req, err := http.NewRequest(c.method, m.cand.base+mount.prefix+c.path+"?"+c.query, strings.NewReader(c.body))
					if err != nil {
						t.Fatal(err)
					}
					for k, v := range d.header {
						req.Header.Set(k, v)
					}
					req.Header.Set("X-Request-Id", rid)
					req.Header.Set("X-Custom", "end-to-end")
					req.Header.Set("Connection", "X-Private")
					req.Header.Set("X-Private", "hop")
					isVendors(t, doReq(t, req), d.name)
					got := vendor.requests()
					if len(got) != i+1 {
						t.Fatalf("%s %s: the vendor got %d requests, want %d", c.method, c.path, len(got), i+1)
					}
					g := got[i]
					if g.Method != c.method || g.RawPath != "/api"+c.path || g.RawQuery != c.query || string(g.Body) != c.body {
						t.Errorf("hop: %s %s?%s %q", g.Method, g.RawPath, g.RawQuery, g.Body)
					}
					if c.body == "" && (g.ContentLength != 0 || len(g.TransferEncoding) > 0) {
						t.Errorf("a GET with a body: length %d, %v", g.ContentLength, g.TransferEncoding)
					}
					for k, v := range d.header {
						if g.Header.Get(k) != v {
							t.Errorf("%s: %q, want %q", k, g.Header.Get(k), v)
						}
					}
					if g.Header.Get("X-Custom") != "end-to-end" || g.Header.Get("X-Private") != "" || g.Header.Get("Connection") != "" ||
						g.Header.Get("X-Forwarded-For") != "127.0.0.1" || g.Header.Get("X-Forwarded-Host") != m.cand.base[len("http://"):] ||
						g.Header.Get("X-Request-Id") != rid {
						t.Errorf("headers: %v", g.Header)
					}
					line := m.cand.logLine(t, rid)
					if line["dialect"] != d.name || line["route"] != "relayed" || line["status"] != float64(203) || line["method"] != c.method || line["auth"] != "vendor" {
						t.Errorf("access line %v", line)
					}
				}
				// A body userbridge could not pass on byte for byte.
				a := m.cand.do(t, "POST", mount.prefix+"/v9/other", d.header, strings.Repeat("x", 5000))
				if a.Status != statusOf(d, canonical.PayloadTooLarge) {
					t.Errorf("over maxBodyBytes: %d %s", a.Status, a.Body)
				}
				d.checkError(t, a, canonical.PayloadTooLarge, "")
				// userbridge's own paths.
				for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
					if a := m.cand.do(t, "GET", p, d.header, ""); a.Status != 200 {
						t.Errorf("GET %s: %d %s", p, a.Status, a.Body)
					}
				}
				if a := m.cand.do(t, "POST", "/healthz", d.header, "{}"); a.Status != 405 {
					t.Errorf("POST /healthz: %d %s", a.Status, a.Body)
				}
				if mount.prefix != "" {
					if a := m.cand.do(t, "DELETE", "/v9/other/things/1", d.header, ""); a.Status != 404 {
						t.Errorf("a path outside the prefix: %d %s", a.Status, a.Body)
					}
				}
				if n := len(vendor.requests()); n != 2 {
					t.Errorf("the vendor got %d requests, want the 2 relayed", n)
				}
				wantValue(t, scrape(t, m.cand.base), "userbridge_requests_total", map[string]string{"dialect": d.name, "route": "relayed", "status": "203"}, 2)
				noRecords(t, m)
				if st := m.cand.app.Demo.Stats(); st.Requests != 0 {
					t.Errorf("the candidate's upstream got %d requests", st.Requests)
				}
			})
		}
	}
}

// A vendor down or too slow: the client gets the dialect's 502 or 504, as
// on the update route, and nothing is compared.
func TestMigrationShadowRelayVendorFails(t *testing.T) {
	downURL, slowURL := failingVendors(t)
	for _, d := range specs {
		for _, c := range []struct {
			name, url string
			status    int
			code      canonical.Code
		}{
			{"down", downURL, 502, canonical.BadGateway},
			{"slow", slowURL, 504, canonical.GatewayTimeout},
		} {
			t.Run(d.name+"/"+c.name, func(t *testing.T) {
				m := startRelaying(t, d, "shadow", "/mig", c.url, false)
				rid := "relay-fails-" + d.name
				h := map[string]string{"X-Request-Id": rid}
				for k, v := range d.header {
					h[k] = v
				}
				a := m.cand.do(t, "GET", "/mig"+d.path, h, "")
				if a.Status != d.statusOf(c.code, c.status) {
					t.Fatalf("status %d: %s", a.Status, a.Body)
				}
				d.checkError(t, a, c.code, "")
				if line := m.cand.logLine(t, rid); line["route"] != "relayed" || line["code"] != string(c.code) {
					t.Errorf("access line %v", line)
				}
				noRecords(t, m)
			})
		}
	}
}

// On an engine serving several dialects, a request goes to a shadow
// dialect's vendor only when it is that dialect's: Finix in shadow at the
// root (vendor A) beside Trusted Twin, Baasic and Crafter, Shift in
// shadow under /shift (vendor B). Another dialect's path, or one
// userbridge cannot attribute, gets userbridge's own answer.
func TestMigrationShadowRelaysOnlyItsDialects(t *testing.T) {
	a, b := newRecorder(t), newRecorder(t)
	answerAsVendor(a, "A")
	answerAsVendor(b, "B")
	s := start(t, fmt.Sprintf(`listen: 127.0.0.1:0
upstream: {url: demo}
migration: {log: %q}
dialects:
  finix: {legacy: {url: %q, mode: shadow}}
  shift: {prefix: /shift, legacy: {url: %q, mode: shadow}}
`, filepath.Join(t.TempDir(), "migration.log"), a.srv.URL, b.srv.URL), "", nil)
	finix := map[string]string{"Finix-Version": "2022-02-01", "Authorization": "Basic VVN4OnB3"}
	for _, c := range []struct {
		name, method, path string
		header             map[string]string
		to                 *recorder // nil: answered by userbridge
		status             int
	}{
		{"Finix's, by its header", "GET", "/users/US1", finix, a, 203},
		{"Finix's, by its method", "PUT", "/users/", nil, a, 203},
		{"Shift's, under its prefix", "GET", "/shift/v3/users/u1", nil, b, 203},
		{"anything under Shift's prefix", "POST", "/shift/v3/sessions", nil, b, 203},
		{"Finix's or Trusted Twin's path, no dialect named", "GET", "/users/US1", map[string]string{"Authorization": "k"}, nil, 405},
		{"Trusted Twin's, by its method", "PATCH", "/users/", nil, nil, 404},
		{"Shift's path outside its prefix", "GET", "/v3/users/u1", map[string]string{"x-key": "k"}, nil, 404},
		{"Baasic's path", "GET", "/v1/demo-app/users/jane.doe", map[string]string{"Authorization": "BEARER x"}, nil, 405},
		{"Crafter's path", "GET", "/studio/api/1/services/api/1/user/update.json", map[string]string{"X-XSRF-TOKEN": "t"}, nil, 405},
		{"a path no route fits, Finix named by its header", "GET", "/identities", finix, a, 203},
		{"a path no route fits, no dialect named", "GET", "/identities", map[string]string{"Authorization": "k"}, nil, 404},
		{"a probe, Finix named", "GET", "/healthz", finix, nil, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			na, nb := len(a.requests()), len(b.requests())
			ans := s.do(t, c.method, c.path, c.header, "")
			if ans.Status != c.status {
				t.Errorf("status %d, want %d: %s", ans.Status, c.status, ans.Body)
			}
			wantA, wantB := na, nb
			switch c.to {
			case a:
				wantA++
				isVendors(t, ans, "A")
			case b:
				wantB++
				isVendors(t, ans, "B")
			}
			if len(a.requests()) != wantA || len(b.requests()) != wantB {
				t.Errorf("vendor A got %d requests, B %d; want %d, %d", len(a.requests()), len(b.requests()), wantA, wantB)
			}
		})
	}
	if got := b.requests(); len(got) > 0 && got[0].RawPath != "/v3/users/u1" {
		t.Errorf("Shift's vendor got %s, want the path without the prefix", got[0].RawPath)
	}
}

// In primary mode userbridge is the truth: a request no route matches gets
// its own 404 or 405, under a prefix and alone at the root, and the vendor
// gets nothing.
func TestMigrationPrimaryAnswersOtherRoutes(t *testing.T) {
	for _, d := range specs {
		for _, mount := range []struct {
			name, prefix string
			alone        bool
		}{{"prefix", "/mig", false}, {"root", "", true}} {
			t.Run(d.name+"/"+mount.name, func(t *testing.T) {
				vendor := newRecorder(t)
				answerAsVendor(vendor, d.name)
				m := startRelaying(t, d, "primary", mount.prefix, vendor.srv.URL, mount.alone)
				if a := m.cand.do(t, "GET", mount.prefix+d.path, d.header, ""); a.Status != 405 || a.Header.Get("Allow") != d.method {
					t.Errorf("GET on the update's path: %d %v %s", a.Status, a.Header, a.Body)
				}
				if a := m.cand.do(t, "DELETE", mount.prefix+"/v9/other", d.header, ""); a.Status != 404 {
					t.Errorf("another path: %d %s", a.Status, a.Body)
				}
				if n := len(vendor.requests()); n != 0 {
					t.Errorf("the vendor got %d requests", n)
				}
			})
		}
	}
}

// With the probes and metrics on an admin listener of their own, the main
// listener's /healthz, /readyz and /metrics are still never relayed, even
// for a dialect alone at the root, which owns every other path.
func TestMigrationShadowRelayNeverTheAdminPaths(t *testing.T) {
	d := specNamed(t, "finix")
	vendor := newRecorder(t)
	answerAsVendor(vendor, "finix")
	m := startRelaying(t, d, "shadow", "", vendor.srv.URL, true, "admin: {listen: 'localhost:0'}")
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		if a := m.cand.do(t, "GET", p, d.header, ""); a.Status != 404 {
			t.Errorf("GET %s on the main listener: %d %s", p, a.Status, a.Body)
		}
	}
	if n := len(vendor.requests()); n != 0 {
		t.Errorf("the vendor got %d requests", n)
	}
	isVendors(t, m.cand.do(t, "GET", "/identities", d.header, ""), "finix")
}

// A vendor's answer without a body, with the status userbridge itself
// would have given (404 where no route matched, 405 where another method
// is routed), reaches the client as sent: no body of userbridge's or of
// the router's in its place.
func TestMigrationShadowRelaysAnEmptyAnswer(t *testing.T) {
	d := specNamed(t, "finix")
	vendor := newRecorder(t)
	m := startRelaying(t, d, "shadow", "", vendor.srv.URL, true)
	for _, c := range []struct {
		method, path string
		status       int
	}{{"DELETE", "/identities/ID1", 404}, {"GET", d.path, 405}, {"GET", d.path, 404}, {"HEAD", "/identities", 404}} {
		vendor.set(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Vendor", "empty")
			w.WriteHeader(c.status)
		})
		a := m.cand.do(t, c.method, c.path, d.header, "")
		if a.Status != c.status || len(a.Body) != 0 || a.Header.Get("X-Vendor") != "empty" || a.Header.Get("Content-Type") != "" {
			t.Errorf("%s %s: %d %v %q, want the vendor's empty %d", c.method, c.path, a.Status, a.Header, a.Body, c.status)
		}
		if n := len(vendor.requests()); n != 1 {
			t.Errorf("%s %s: the vendor got %d requests", c.method, c.path, n)
		}
	}
}

// A HEAD relayed keeps the vendor's Content-Length: the length of the
// body a GET would get, which the answer to a HEAD never carries.
func TestMigrationShadowRelaysHead(t *testing.T) {
	d := specNamed(t, "finix")
	vendor := newRecorder(t)
	vendor.set(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/hal+json")
		w.Header().Set("Content-Length", "1234")
		w.WriteHeader(http.StatusOK)
	})
	m := startRelaying(t, d, "shadow", "/mig", vendor.srv.URL, false)
	a := m.cand.do(t, "HEAD", "/mig/users/US1", d.header, "")
	if a.Status != 200 || a.Header.Get("Content-Length") != "1234" || len(a.Body) != 0 {
		t.Errorf("HEAD relayed: %d %v %q", a.Status, a.Header, a.Body)
	}
	if got := vendor.requests(); len(got) != 1 || got[0].Method != "HEAD" {
		t.Errorf("the vendor got %+v", got)
	}
}

// A path with a dot segment is refused in the dialect's envelope and never
// relayed: the vendor would resolve it outside legacy.url's path, or
// outside the prefix that made it the dialect's.
func TestMigrationShadowRelayRefusesDotSegments(t *testing.T) {
	d := specNamed(t, "finix")
	vendor := newRecorder(t)
	answerAsVendor(vendor, "finix")
	m := startRelaying(t, d, "shadow", "/mig", vendor.srv.URL, false)
	for _, p := range []string{"/mig/../shift/v3/users/u1", "/mig/users/%2E%2e/admin", "/mig/./users", "/mig/%2e",
		"/mig/..;/manager/html", "/mig/..%2f..%2fadmin", "/mig/%2e%2e%2fadmin", "/mig/..%5cadmin", "/mig/%252e%252e/admin"} {
		conn := dialRaw(t, strings.TrimPrefix(m.cand.base, "http://"))
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nFinix-Version: 2022-02-01\r\nConnection: close\r\n\r\n", p)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		conn.Close()
		if resp.StatusCode != d.statusOf(canonical.BadRequest, 400) || !strings.Contains(string(body), "dot segment") {
			t.Errorf("GET %s: %d %s", p, resp.StatusCode, body)
		}
	}
	if n := len(vendor.requests()); n != 0 {
		t.Errorf("the vendor got %d requests", n)
	}
}

// The update route in shadow mode: a user id that is a dot segment is
// refused before the hop, for every dialect whose route names it.
func TestMigrationShadowUpdateRefusesDotSegments(t *testing.T) {
	d := specNamed(t, "trustedtwin")
	m := startMigrating(t, d, "shadow", "", "")
	for _, seg := range []string{"%2e%2e", "..%2f..%2fadmin", "..;x"} {
		path := strings.Replace(d.path, "/"+janeID, "/"+seg, 1)
		if path == d.path {
			t.Fatalf("no user segment in %s", d.path)
		}
		a := m.cand.do(t, d.method, "/mig"+path, d.header, d.body)
		if a.Status != d.statusOf(canonical.BadRequest, 400) || !strings.Contains(string(a.Body), "dot segment") {
			t.Errorf("%s %s: %d %s", d.method, path, a.Status, a.Body)
		}
	}
	if applied(m.vendor) != 0 || len(m.records(t)) != 0 {
		t.Errorf("sent: vendor applied %d", applied(m.vendor))
	}
}

// The vendor's answer names its own paths; relayed under a prefix, they
// are the client's: a redirect on the vendor (absolute, or an absolute
// path) under legacy.url's path, and a cookie's Path, are put under the
// prefix, and a Domain naming the vendor dropped. X-Forwarded-* are the
// client's view of userbridge, and what a client says of its address is
// kept only from a trusted proxy.
func TestMigrationShadowRelayRewritesVendorPaths(t *testing.T) {
	d := specNamed(t, "finix")
	for _, trust := range []bool{false, true} {
		t.Run(fmt.Sprint("trustForwarded=", trust), func(t *testing.T) {
			vendor := newRecorder(t)
			vendorURL := vendor.srv.URL + "/api"
			vendor.set(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", vendorURL+"/login?next=%2Fusers")
				w.Header().Set("Content-Location", "/api/users/US1")
				w.Header().Add("Set-Cookie", "sid=s3; Path=/api/users; Domain=127.0.0.1; HttpOnly")
				w.WriteHeader(http.StatusFound)
			})
			m := startRelaying(t, d, "shadow", "/mig", vendorURL, false, fmt.Sprintf("server: {trustForwarded: %v}", trust))
			h := map[string]string{"Finix-Version": "2022-02-01", "X-Forwarded-For": "6.6.6.6", "X-Real-Ip": "6.6.6.6",
				"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example"}
			req, err := http.NewRequest("GET", m.cand.base+"/mig/users/US1", nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range h {
				req.Header.Set(k, v)
			}
			req.Header["User-Agent"] = []string{""} // the client sends none
			noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			a := doWith(t, noRedirect, req)
			origin := m.cand.base
			if trust {
				origin = "https://api.example"
			}
			if a.Status != http.StatusFound || a.Header.Get("Location") != origin+"/mig/login?next=%2Fusers" ||
				a.Header.Get("Content-Location") != "/mig/users/US1" || a.Header.Get("Set-Cookie") != "sid=s3; Path=/mig/users; HttpOnly" {
				t.Errorf("answer: %d %v", a.Status, a.Header)
			}
			got := vendor.requests()
			if len(got) != 1 || got[0].RawPath != "/api/users/US1" {
				t.Fatalf("the vendor got %+v", got)
			}
			g := got[0].Header
			wantFor, wantReal, wantProto, wantHost := "127.0.0.1", "", "http", strings.TrimPrefix(m.cand.base, "http://")
			if trust {
				wantFor, wantReal, wantProto, wantHost = "6.6.6.6, 127.0.0.1", "6.6.6.6", "https", "api.example"
			}
			if g.Get("X-Forwarded-For") != wantFor || g.Get("X-Real-Ip") != wantReal || g.Get("X-Forwarded-Proto") != wantProto ||
				g.Get("X-Forwarded-Host") != wantHost {
				t.Errorf("forwarded headers: %v", g)
			}
			if _, ok := g["User-Agent"]; ok {
				t.Errorf("a User-Agent of userbridge's own: %v", g["User-Agent"])
			}
		})
	}
}
