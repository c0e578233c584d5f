package app_test

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// dialectSpec is one dialect as a real client uses it, and what the
// upstream and the client must see.
type dialectSpec struct {
	name         string
	method, path string
	header       map[string]string // what the legacy client sends (credentials)
	body         string
	// upPath is the escaped path the upstream must receive the PATCH on.
	upPath string
	// upForward are the client headers the upstream must receive unchanged.
	upForward []string
	// upTenant is the X-Userbridge-Tenant expected ("" for none).
	upTenant string
	// update is the canonical update the upstream must receive.
	update string
	// success is the dialect's success status; needsUser means its answer
	// shows the user (an upstream 204 is followed by a GET).
	success   int
	needsUser bool
	// checkSuccess checks the success body and headers.
	checkSuccess func(t *testing.T, a answer)
	// status maps a canonical code to the dialect's status where they
	// differ from the canonical one.
	status map[canonical.Code]int
	// checkError checks the dialect's error shape; msg is the message the
	// caller must be shown, or "" when the dialect replaces it.
	checkError func(t *testing.T, a answer, code canonical.Code, msg string)
}

// canonicalUser is what the recording upstream answers on success.
const canonicalUser = `{"id":"0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a","username":"jane.doe","email":"jane@example.com",` +
	`"givenName":"Jane","familyName":"Doe","displayName":"Jane Doe","active":true,"locked":false,` +
	`"roles":[{"id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","name":"ROLE_MERCHANT"}],"attributes":{"department":"sales"},` +
	`"createdAt":"2024-01-15T09:30:00.000Z","updatedAt":"2024-02-01T10:00:00.500Z","createdBy":"system"}`

func jsonSame(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s is not JSON: %s", what, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expectation %s", want)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Errorf("%s\n got %s\nwant %s", what, gb, wb)
	}
}

// upstreamScenario is one way the upstream answers, and the canonical
// outcome the client must see rendered in its dialect.
type upstreamScenario struct {
	name   string
	reply  func(w http.ResponseWriter, r *http.Request)
	code   canonical.Code
	status int    // canonical status before the dialect's own mapping
	msg    string // the message shown ("" when not checked)
	header map[string]string
	hits   int // upstream requests expected (0: don't check)
}

func envelope(status int, code, msg, field string, hdr ...string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		f := ""
		if field != "" {
			f = `,"field":"` + field + `"`
		}
		_, _ = w.Write([]byte(`{"error":{"code":"` + code + `","message":"` + msg + `"` + f + `}}`))
	}
}

var scenarios = []upstreamScenario{
	{name: "400", reply: envelope(400, "invalid_field", "email is already used", "email"), code: canonical.InvalidField, status: 400, msg: "email is already used", hits: 1},
	{name: "401", reply: envelope(401, "unauthorized", "token expired", ""), code: canonical.Unauthorized, status: 401, hits: 1},
	{name: "403", reply: envelope(403, "forbidden", "not allowed", ""), code: canonical.Forbidden, status: 403, hits: 1},
	{name: "404", reply: envelope(404, "not_found", "no such user", ""), code: canonical.NotFound, status: 404, hits: 1},
	{name: "409", reply: envelope(409, "conflict", "username taken", ""), code: canonical.Conflict, status: 409, hits: 1},
	{name: "429", reply: envelope(429, "rate_limited", "slow down", "", "Retry-After", "120"), code: canonical.RateLimited, status: 429,
		header: map[string]string{"Retry-After": "120"}, hits: 1},
	{name: "500", reply: envelope(500, "internal", "db exploded: pq: connection reset", ""), code: canonical.Internal, status: 500, hits: 1},
	{name: "503", reply: envelope(503, "unavailable", "maintenance", "", "Retry-After", "120"), code: canonical.Unavailable, status: 503,
		header: map[string]string{"Retry-After": "120"}},
	{name: "unreadable", reply: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("<html>oops"))
	}, code: canonical.BadGateway, status: 502, hits: 1},
	{name: "timeout", reply: func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(3 * time.Second):
		}
	}, code: canonical.GatewayTimeout, status: 504, hits: 1},
}

func e2eConfig(c *config.Config) {
	off := false
	c.Upstream.Breaker.Enabled = &off
	c.Upstream.Timeout = config.Duration(400 * time.Millisecond)
}

// TestEndToEnd runs every dialect through the real server in front of a
// recording upstream: success, every upstream error, a hung and an
// unreadable upstream.
func TestEndToEnd(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, e2eConfig)
	for _, d := range specs {
		t.Run(d.name, func(t *testing.T) {
			hdr := map[string]string{"Content-Type": "application/json", "X-Request-ID": "rid-" + d.name,
				"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
			for k, v := range d.header {
				hdr[k] = v
			}
			t.Run("success", func(t *testing.T) {
				rec.set(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					_, _ = w.Write(userFor(r))
				})
				a := s.do(t, d.method, d.path, hdr, d.body)
				if a.Status != d.success {
					t.Fatalf("status %d, want %d: %s", a.Status, d.success, a.Body)
				}
				if got := a.Header.Get("X-Request-Id"); got != "rid-"+d.name {
					t.Errorf("X-Request-Id %q", got)
				}
				d.checkSuccess(t, a)
				reqs := rec.requests()
				if len(reqs) != 1 {
					t.Fatalf("upstream got %d requests", len(reqs))
				}
				up := reqs[0]
				if up.Method != http.MethodPatch || up.RawPath != d.upPath {
					t.Errorf("upstream got %s %s, want PATCH %s", up.Method, up.RawPath, d.upPath)
				}
				jsonSame(t, "upstream body", up.Body, d.update)
				want := map[string]string{"Content-Type": "application/json", "X-Request-Id": "rid-" + d.name,
					"X-Userbridge-Dialect": d.name, "Traceparent": hdr["traceparent"], "X-Userbridge-Tenant": d.upTenant}
				for _, h := range d.upForward {
					for k, v := range d.header {
						if strings.EqualFold(k, h) {
							want[h] = v
						}
					}
				}
				for k, v := range want {
					if got := up.Header.Get(k); got != v {
						t.Errorf("upstream header %s = %q, want %q", k, got, v)
					}
				}
				if up.Header.Get("Idempotency-Key") == "" {
					t.Error("no Idempotency-Key upstream")
				}
			})
			t.Run("upstream 204", func(t *testing.T) {
				rec.set(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodGet {
						w.Header().Set("Content-Type", "application/json")
						_, _ = w.Write(userFor(r))
						return
					}
					w.WriteHeader(http.StatusNoContent)
				})
				a := s.do(t, d.method, d.path, hdr, d.body)
				if a.Status != d.success {
					t.Fatalf("status %d, want %d: %s", a.Status, d.success, a.Body)
				}
				d.checkSuccess(t, a)
				reqs := rec.requests()
				wantN := 1
				if d.needsUser {
					wantN = 2
				}
				if len(reqs) != wantN || (d.needsUser && (reqs[1].Method != http.MethodGet || reqs[1].RawPath != d.upPath)) {
					t.Fatalf("upstream got %d requests %v, want %d", len(reqs), reqs, wantN)
				}
			})
			for _, sc := range scenarios {
				t.Run("upstream "+sc.name, func(t *testing.T) {
					rec.set(sc.reply)
					a := s.do(t, d.method, d.path, hdr, d.body)
					want := sc.status
					if st, ok := d.status[sc.code]; ok {
						want = st
					}
					if a.Status != want {
						t.Fatalf("status %d, want %d: %s", a.Status, want, a.Body)
					}
					for k, v := range sc.header {
						if got := a.Header.Get(k); got != v {
							t.Errorf("header %s = %q, want %q", k, got, v)
						}
					}
					noLeak(t, a.Body, rec.srv.URL)
					d.checkError(t, a, sc.code, sc.msg)
					if sc.hits > 0 && len(rec.requests()) != sc.hits {
						t.Errorf("upstream hit %d times, want %d", len(rec.requests()), sc.hits)
					}
				})
			}
		})
	}
}

// noLeak fails when a body shows Go internals, the upstream's address or an
// upstream's own 5xx text.
func noLeak(t *testing.T, body []byte, upstream string) {
	t.Helper()
	for _, bad := range []string{"goroutine", "runtime error", "dial tcp", "pq:", "context deadline", strings.TrimPrefix(upstream, "http://")} {
		if strings.Contains(string(body), bad) {
			t.Errorf("body leaks %q: %s", bad, body)
		}
	}
}

// TestConnectionRefused points every dialect at a port nobody listens on.
func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	_ = ln.Close()
	s := start(t, "", dead, e2eConfig)
	for _, d := range specs {
		t.Run(d.name, func(t *testing.T) {
			hdr := map[string]string{"Content-Type": "application/json"}
			for k, v := range d.header {
				hdr[k] = v
			}
			a := s.do(t, d.method, d.path, hdr, d.body)
			want := 502
			if st, ok := d.status[canonical.BadGateway]; ok {
				want = st
			}
			if a.Status != want {
				t.Fatalf("status %d: %s", a.Status, a.Body)
			}
			noLeak(t, a.Body, dead)
			d.checkError(t, a, canonical.BadGateway, "")
		})
	}
}

// TestDemoBackend runs every dialect against the embedded default, as the
// README's curls do, and checks the reference backend stored the change.
func TestDemoBackend(t *testing.T) {
	s := start(t, "", "", nil)
	for _, d := range specs {
		t.Run(d.name, func(t *testing.T) {
			hdr := map[string]string{"Content-Type": "application/json"}
			for k, v := range d.header {
				hdr[k] = v
			}
			a := s.do(t, d.method, d.path, hdr, d.body)
			if a.Status != d.success {
				t.Fatalf("status %d: %s", a.Status, a.Body)
			}
			set := gjson.Parse(d.update).Get("set")
			var user []byte
			if id := idOf(d); id != "" {
				user, _ = s.app.Demo.User(id)
			}
			set.ForEach(func(k, v gjson.Result) bool {
				if k.Str == "password" || k.Str == "extensions" {
					return true
				}
				got := gjson.GetBytes(user, k.Str)
				if got.Raw != v.Raw {
					var gv, wv any
					_ = json.Unmarshal([]byte(got.Raw), &gv)
					_ = json.Unmarshal([]byte(v.Raw), &wv)
					gb, _ := json.Marshal(gv)
					wb, _ := json.Marshal(wv)
					if string(gb) != string(wb) {
						t.Errorf("stored %s = %s, want %s", k.Str, got.Raw, v.Raw)
					}
				}
				return true
			})
		})
	}
}
