package app_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/app"
	"github.com/userbridge/userbridge/internal/upstream/scim"
	"github.com/userbridge/userbridge/internal/upstream/scim/scimtest"
)

var jsonHdr = map[string]string{"Content-Type": "application/json"}

// TestSCIMWithoutExtension runs userbridge in front of a SCIM server that
// does not declare userbridge's extension schema: a field only it could
// hold is refused by name in the dialect's terms, the provider receiving
// nothing, and every other field still updates. With the extension, the
// same request updates everything.
func TestSCIMWithoutExtension(t *testing.T) {
	srv, s, jane, john := startSCIMWith(t, scimtest.Options{}, nil)
	if !strings.Contains(s.logs.String(), `"msg":"scim: provider capabilities discovered"`) ||
		!strings.Contains(s.logs.String(), `"refused":["attributes","deleted","extensions","locked"]`) {
		t.Errorf("start-up did not say what was discovered: %s", s.logs.String())
	}
	srv.Requests()
	for _, tc := range []struct{ name, method, path, body, field string }{
		{"shift status", "PUT", "/v3/users/" + john, `{"firstName":"Johnny","status":"ACTIVE"}`, "status"},
		{"shift ssoId", "PUT", "/v3/users/" + john, `{"ssoId":"x-1"}`, "ssoId"},
		{"baasic isLockedOut", "PUT", "/v1/app/users/" + jane, `{"name":"J","isLockedOut":true}`, "isLockedOut"},
	} {
		a := s.do(t, tc.method, tc.path, jsonHdr, tc.body)
		if a.Status != 400 || !strings.Contains(string(a.Body), `"`+tc.field+`"`) {
			t.Errorf("%s: %d %s, want 400 naming %s", tc.name, a.Status, a.Body, tc.field)
		}
		if reqs := srv.Requests(); len(reqs) != 0 {
			t.Errorf("%s: the provider received %+v", tc.name, reqs)
		}
	}
	a := s.do(t, "PUT", "/v3/users/"+john, jsonHdr, `{"firstName":"Johnny","company":"Acme Ltd","phone":"+1 555 0199"}`)
	if a.Status != 204 {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	u := gjson.ParseBytes(srv.User(john))
	want(t, "givenName", u.Get("name.givenName"), "Johnny")
	want(t, "organization", member(u, scim.EnterpriseSchema).Get("organization"), "Acme Ltd")
	want(t, "phone", u.Get(`phoneNumbers.#(type=="work").value`), "+1 555 0199")

	srv2, s2, _, john2 := startSCIM(t, nil)
	if a := s2.do(t, "PUT", "/v3/users/"+john2, jsonHdr, `{"firstName":"Johnny","status":"LOCKED","ssoId":"x-1"}`); a.Status != 204 {
		t.Fatalf("with the extension: %d %s", a.Status, a.Body)
	}
	u = gjson.ParseBytes(srv2.User(john2))
	want(t, "locked", ubExt(u).Get("locked"), "true")
	want(t, "givenName", u.Get("name.givenName"), "Johnny")
}

// flaky is a SCIM server behind a switch: while down, every request is
// answered status (with a Retry-After past any deadline) and never
// reaches it.
func flaky(t *testing.T, srv *scimtest.Server, status int) (string, *atomic.Bool) {
	var down atomic.Bool
	target, _ := url.Parse(srv.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(status)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	return front.URL, &down
}

func scimConfig(t *testing.T, url string, tweak func(*config.Config)) *config.Config {
	cfg, err := config.Parse(config.Source{Name: "test"}, config.DefaultYAML())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen, cfg.Upstream.URL, cfg.Upstream.Profile = "127.0.0.1:0", url, config.ProfileSCIM
	e2eConfig(cfg)
	if tweak != nil {
		tweak(cfg)
	}
	return cfg
}

// TestSCIMDiscoveryAtStart: a provider that cannot be discovered stops
// start-up in one line, unless startUndiscovered; then /readyz is 503 and
// updates are refused unavailable, nothing reaching /Users, until a
// discovery (retried on /readyz) succeeds.
func TestSCIMDiscoveryAtStart(t *testing.T) {
	srv, err := scimtest.Start(scim.DefaultExtensionSchema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	john := srv.Add(scimJohn)
	front, down := flaky(t, srv, http.StatusServiceUnavailable)
	down.Store(true)

	_, err = app.New(scimConfig(t, front, nil), config.Source{Name: "test"}, slog.New(slog.DiscardHandler))
	if err == nil || strings.Contains(err.Error(), "\n") ||
		!strings.Contains(err.Error(), "upstream.url: scim: discovery: GET /ServiceProviderConfig: answered 503") {
		t.Fatalf("start-up error %v", err)
	}

	logs := &syncBuffer{}
	a, err := app.New(scimConfig(t, front, func(c *config.Config) { c.Upstream.SCIM.StartUndiscovered = true }),
		config.Source{Name: "test"}, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	s := launch(t, a, "127.0.0.1:0", logs)
	if !strings.Contains(logs.String(), "scim: discovery failed") {
		t.Errorf("logs %s", logs.String())
	}
	if r := s.do(t, "GET", "/readyz", nil, ""); r.Status != 503 || gjson.GetBytes(r.Body, "upstream").Str != "unreachable" {
		t.Errorf("readyz %d %s", r.Status, r.Body) // a 503 from it: down, not undescribable
	}
	if r := s.do(t, "PUT", "/v3/users/"+john, jsonHdr, `{"firstName":"Johnny"}`); r.Status != 503 {
		t.Errorf("update while undiscovered: %d %s", r.Status, r.Body)
	}
	for _, r := range srv.Requests() {
		t.Errorf("reached the provider while down: %s %s", r.Method, r.URI)
	}
	down.Store(false)
	if r := s.do(t, "GET", "/readyz", nil, ""); r.Status != 200 {
		t.Fatalf("readyz once the provider is back: %d %s", r.Status, r.Body)
	}
	if r := s.do(t, "PUT", "/v3/users/"+john, jsonHdr, `{"firstName":"Johnny","status":"LOCKED"}`); r.Status != 204 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	want(t, "locked", ubExt(gjson.ParseBytes(srv.User(john))).Get("locked"), "true")
}

// TestSCIMPinnedCapabilities: discover: false sends no discovery request;
// extension: false refuses what only the extension holds.
func TestSCIMPinnedCapabilities(t *testing.T) {
	srv, s, _, john := startSCIMWith(t, scimtest.Options{}, func(c *config.Config) {
		off := false
		c.Upstream.SCIM.Discover, c.Upstream.SCIM.Extension = &off, &off
	})
	if !strings.Contains(s.logs.String(), `"msg":"scim: provider capabilities configured"`) {
		t.Errorf("logs %s", s.logs.String())
	}
	if a := s.do(t, "PUT", "/v3/users/"+john, jsonHdr, `{"status":"LOCKED"}`); a.Status != 400 || !strings.Contains(string(a.Body), `"status"`) {
		t.Errorf("%d %s", a.Status, a.Body)
	}
	for _, r := range srv.Requests() {
		t.Errorf("sent %s %s", r.Method, r.URI)
	}
}

// TestSCIMValidateDiscovers: validate reads the provider when it answers,
// and reports one that cannot be discovered; an unreachable one is not
// validate's to report.
func TestSCIMValidateDiscovers(t *testing.T) {
	srv, err := scimtest.StartWith(scimtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if err := app.CheckUpstream(scimConfig(t, srv.URL, nil), config.Source{Name: "test"}); err != nil {
		t.Errorf("a SCIM server: %v", err)
	}
	notSCIM := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notSCIM.Close)
	err = app.CheckUpstream(scimConfig(t, notSCIM.URL, nil), config.Source{Name: "test"})
	if err == nil || !strings.Contains(err.Error(), "GET /ServiceProviderConfig: answered 404") {
		t.Errorf("a server without discovery: %v", err)
	}
	if err := app.CheckUpstream(scimConfig(t, "http://127.0.0.1:1", nil), config.Source{Name: "test"}); err != nil {
		t.Errorf("unreachable: %v", err)
	}
}

// TestSCIMDiscoveryBusy: a provider that puts discovery off (429 with a
// Retry-After past the deadline, or 408) is busy, not a provider without
// the discovery endpoints: start-up says what it answered without telling
// the operator to pin the capabilities, validate leaves it to serve (the
// configuration may be right), and with startUndiscovered /readyz says
// unreachable until the provider answers, then serves.
func TestSCIMDiscoveryBusy(t *testing.T) {
	for _, status := range []int{http.StatusTooManyRequests, http.StatusRequestTimeout} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			srv, err := scimtest.Start(scim.DefaultExtensionSchema)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Close)
			john := srv.Add(scimJohn)
			front, busy := flaky(t, srv, status)
			busy.Store(true)

			_, err = app.New(scimConfig(t, front, nil), config.Source{Name: "test"}, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), "GET /ServiceProviderConfig: answered "+strconv.Itoa(status)) ||
				strings.Contains(err.Error(), "discover: false") {
				t.Fatalf("start-up error %v", err)
			}
			if err := app.CheckUpstream(scimConfig(t, front, nil), config.Source{Name: "test"}); err != nil {
				t.Errorf("validate refused a busy provider: %v", err)
			}

			a, err := app.New(scimConfig(t, front, func(c *config.Config) { c.Upstream.SCIM.StartUndiscovered = true }),
				config.Source{Name: "test"}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			s := launch(t, a, "127.0.0.1:0", &syncBuffer{})
			if r := s.do(t, "GET", "/readyz", nil, ""); r.Status != 503 || gjson.GetBytes(r.Body, "upstream").Str != "unreachable" {
				t.Errorf("readyz while busy: %d %s", r.Status, r.Body)
			}
			busy.Store(false)
			if r := s.do(t, "GET", "/readyz", nil, ""); r.Status != 200 {
				t.Fatalf("readyz once the provider answers: %d %s", r.Status, r.Body)
			}
			if r := s.do(t, "PUT", "/v3/users/"+john, jsonHdr, `{"firstName":"Johnny"}`); r.Status != 204 {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})
	}
}

// TestSCIMStrictRemove: a provider that answers 400 noTarget to a remove
// whose filter matches nothing (RFC 7644 §3.12) refused every update that
// gave the user an item it did not have (the PatchOp's remove before add):
// Shift's mobile for a user without one was a 400. Nothing applied (a PATCH
// is whole or nothing), userbridge sends the same changes as GET + PUT.
func TestSCIMStrictRemove(t *testing.T) {
	srv, s, jane, _ := startSCIMWith(t, scimtest.Options{Extension: scim.DefaultExtensionSchema, StrictRemove: true}, nil)
	srv.Requests() // discovery's
	a := s.do(t, "PUT", "/v3/users/"+jane, jsonHdr, `{"mobile":"+1 555 0142","firstName":"Janet"}`)
	if a.Status != 204 {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	u := gjson.ParseBytes(srv.User(jane))
	want(t, "mobile", u.Get(`phoneNumbers.#(type=="mobile").value`), "+1 555 0142")
	want(t, "work phone", u.Get(`phoneNumbers.#(type=="work").value`), "+1 555 0100")
	want(t, "givenName", u.Get("name.givenName"), "Janet")
	var methods []string
	for _, r := range srv.Requests() {
		methods = append(methods, r.Method)
	}
	if strings.Join(methods, " ") != "PATCH GET PUT" {
		t.Errorf("requests %v", methods)
	}
	// An update whose removes all match stays one PATCH.
	if a := s.do(t, "PUT", "/v3/users/"+jane, jsonHdr, `{"mobile":"+1 555 0143"}`); a.Status != 204 {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	if reqs := srv.Requests(); len(reqs) != 1 || reqs[0].Method != "PATCH" {
		t.Errorf("requests %+v", reqs)
	}
}
