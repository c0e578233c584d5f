package scim_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/upstream"
	"github.com/userbridge/userbridge/internal/upstream/scim"
	"github.com/userbridge/userbridge/internal/upstream/scim/scimtest"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// fullUpdate touches every kind of field: core, enterprise, extension.
const fullUpdate = `{"set":{"givenName":"Janet","email":"janet@example.com","locked":true,"attributes":{"dept":"sales"},` +
	`"extensions":{"shift":{"ssoId":"x-1"}}},"unset":["familyName","phone"]}`

// checkFull checks what fullUpdate leaves in the stored user.
func checkFull(t *testing.T, stored gjson.Result) {
	t.Helper()
	ext := stored.Get(`urn:userbridge:params:scim:schemas:extension:2\.0:User`)
	for path, want := range map[string]string{
		"name.givenName": "Janet", "name.middleName": "Q", `emails.#(type=="work").value`: "janet@example.com",
		`emails.#(type=="work").primary`: "true", `emails.#(type=="home").value`: "jane@home.example",
		`urn:ietf:params:scim:schemas:extension:enterprise:2\.0:User.organization`: "Acme",
	} {
		if got := stored.Get(path).String(); got != want {
			t.Errorf("%s = %q, want %q in %s", path, got, want, stored.Raw)
		}
	}
	if ext.Get("locked").Raw != "true" || ext.Get("attributes").Str != `{"dept":"sales"}` ||
		ext.Get(`extensions.#(name=="ssoId").value`).Str != `"x-1"` {
		t.Errorf("extension %s", ext.Raw)
	}
	if stored.Get("name.familyName").Exists() || stored.Get(`phoneNumbers.#(type=="work")`).Exists() ||
		stored.Get(`emails.#(type=="home").primary`).Raw == "true" {
		t.Errorf("unset fields or a second primary left: %s", stored.Raw)
	}
}

func TestDiscoveryReadsTheProvider(t *testing.T) {
	_, c, _ := setupWith(t, config.Upstream{}, scimtest.Options{Extension: scim.DefaultExtensionSchema, ETag: true})
	caps := c.Capabilities()
	if !caps.Discovered || !caps.Patch || !caps.ETag || caps.Bulk || len(caps.Refused()) != 0 ||
		!slices.Contains(caps.Schemas, scim.DefaultExtensionSchema) || !slices.Contains(caps.Schemas, scim.EnterpriseSchema) {
		t.Errorf("capabilities %+v, refused %v", caps, caps.Refused())
	}
}

// Without userbridge's extension schema, the fields only it can hold are
// refused by name, nothing sent; every other field still updates.
func TestWithoutExtensionRefusedBeforeSending(t *testing.T) {
	srv, c, id := setupWith(t, config.Upstream{}, scimtest.Options{})
	if got := c.Capabilities().Refused(); !slices.Equal(got, []string{"attributes", "deleted", "extensions", "locked"}) {
		t.Errorf("refused %v", got)
	}
	for _, tc := range []struct{ update, field string }{
		{`{"set":{"givenName":"X","locked":true}}`, "locked"},
		{`{"unset":["deleted"]}`, "deleted"},
		{`{"set":{"attributes":{"a":"b"}}}`, "attributes"},
		{`{"set":{"extensions":{"shift":{"sso":true}}}}`, "extensions.shift.sso"},
		{`{"unset":["extensions.shift.ssoId"]}`, "extensions.shift.ssoId"},
	} {
		_, err := c.Patch(context.Background(), call(canonical.ByID, id, tc.update))
		if err == nil || err.Code != canonical.InvalidField || err.Field != tc.field {
			t.Errorf("%s: %v, want invalid_field %s", tc.update, err, tc.field)
		}
		if reqs := srv.Requests(); len(reqs) != 0 {
			t.Errorf("%s: sent %+v", tc.update, reqs)
		}
	}
	res, err := c.Patch(context.Background(), call(canonical.ByID, id,
		`{"set":{"givenName":"Janet","organization":"Initech","active":false,"email":"j@example.com"}}`))
	if err != nil || res.Status != 200 {
		t.Fatalf("%v %+v", err, res)
	}
	stored := gjson.ParseBytes(srv.User(id))
	if stored.Get("name.givenName").Str != "Janet" || stored.Get("active").Raw != "false" ||
		stored.Get(`urn:ietf:params:scim:schemas:extension:enterprise:2\.0:User.organization`).Str != "Initech" {
		t.Errorf("stored %s", stored.Raw)
	}
}

// Pinned capabilities (discover: false) send no discovery request.
func TestPinnedCapabilities(t *testing.T) {
	off, no := false, false
	srv, c, id := setupWith(t, config.Upstream{SCIM: config.SCIM{Discover: &off, Extension: &no}}, scimtest.Options{})
	if reqs := srv.Requests(); len(reqs) != 0 {
		t.Errorf("discovery sent %+v", reqs)
	}
	if caps := c.Capabilities(); caps.Discovered || !caps.Patch || caps.ETag {
		t.Errorf("capabilities %+v", caps)
	}
	_, err := c.Patch(context.Background(), call(canonical.ByID, id, `{"set":{"locked":true}}`))
	if err == nil || err.Field != "locked" {
		t.Errorf("%v", err)
	}
	if reqs := srv.Requests(); len(reqs) != 0 {
		t.Errorf("sent %+v", reqs)
	}
}

// A provider without PATCH gets GET + PUT of the whole user, with
// If-Match when it supports ETags, and ends as a PATCH would leave it.
func TestNoPatchGetPut(t *testing.T) {
	for _, etag := range []bool{true, false} {
		srv, c, id := setupWith(t, config.Upstream{}, scimtest.Options{Extension: scim.DefaultExtensionSchema, NoPatch: true, ETag: etag})
		if c.Capabilities().Patch {
			t.Fatal("patch discovered as supported")
		}
		res, err := c.Patch(context.Background(), call(canonical.ByID, id, fullUpdate))
		if err != nil || res.Status != 200 || res.Attempts != 2 {
			t.Fatalf("etag %v: %v %+v", etag, err, res)
		}
		if got := gjson.GetBytes(res.Body, "givenName").Str; got != "Janet" {
			t.Errorf("answer %s", res.Body)
		}
		checkFull(t, gjson.ParseBytes(srv.User(id)))
		reqs := srv.Requests()
		if len(reqs) != 2 || reqs[0].Method != "GET" || reqs[1].Method != "PUT" || reqs[1].URI != "/Users/"+id {
			t.Fatalf("requests %+v", reqs)
		}
		if got, want := reqs[1].Header.Get("If-Match") != "", etag; got != want {
			t.Errorf("etag %v: If-Match %q", etag, reqs[1].Header.Get("If-Match"))
		}
	}
}

// With PATCH, the same update is one PATCH (as today) and leaves the same user.
func TestPatchSupportedIsOnePatch(t *testing.T) {
	srv, c, id := setup(t, config.Upstream{})
	if _, err := c.Patch(context.Background(), call(canonical.ByID, id, fullUpdate)); err != nil {
		t.Fatal(err)
	}
	checkFull(t, gjson.ParseBytes(srv.User(id)))
	if reqs := srv.Requests(); len(reqs) != 1 || reqs[0].Method != "PATCH" {
		t.Errorf("requests %+v", reqs)
	}
}

// A provider that is down: Discover fails, marked unreachable; updates
// are answered unavailable until a discovery succeeds.
func TestDiscoveryUnreachable(t *testing.T) {
	hc, err := upstream.New(config.Upstream{URL: "http://127.0.0.1:1", Timeout: config.Duration(time.Second),
		Breaker: config.Breaker{Enabled: new(bool)}}, upstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := scim.New(hc, config.Upstream{})
	if err != nil {
		t.Fatal(err)
	}
	_, derr := c.Discover(context.Background())
	var de *scim.DiscoveryError
	if !errors.As(derr, &de) || !de.Unreachable || de.Endpoint != "/ServiceProviderConfig" {
		t.Fatalf("%v", derr)
	}
	if _, err := c.Patch(context.Background(), call(canonical.ByID, "x", `{"set":{"active":true}}`)); err == nil || err.Code != canonical.Unavailable {
		t.Errorf("%v", err)
	}
	if c.Ready(context.Background()) == nil {
		t.Error("ready without capabilities")
	}
}

// With ETags, a user changed between the GET and the PUT is not
// overwritten: the PUT's If-Match fails (412), a conflict, nothing stored.
func TestNoPatchChangedInBetween(t *testing.T) {
	srv, err := scimtest.StartWith(scimtest.Options{Extension: scim.DefaultExtensionSchema, NoPatch: true, ETag: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	id := srv.Add(jane)
	target, _ := url.Parse(srv.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			srv.Touch(id) // someone else's change lands first
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	hc, err := upstream.New(config.Upstream{URL: front.URL, Timeout: config.Duration(2 * time.Second), Breaker: config.Breaker{Enabled: new(bool)}}, upstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := scim.New(hc, config.Upstream{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	_, cerr := c.Patch(context.Background(), call(canonical.ByID, id, `{"set":{"givenName":"Janet"}}`))
	if cerr == nil || cerr.Code != canonical.Conflict {
		t.Fatalf("%v", cerr)
	}
	if got := gjson.GetBytes(srv.User(id), "name.givenName").Str; got != "Jane" {
		t.Errorf("overwritten: givenName %q", got)
	}
}

// A provider's /Schemas is read attribute by attribute: an attribute it
// does not list, or lists as readOnly, is refused like a schema it does
// not declare.
func TestDiscoveryPerAttribute(t *testing.T) {
	var sent atomic.Int64
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent.Add(1)
		switch r.URL.Path {
		case "/ServiceProviderConfig":
			_, _ = w.Write([]byte(`{"patch":{"supported":true},"etag":{"supported":false},"bulk":{"supported":true}}`))
		case "/ResourceTypes":
			_, _ = w.Write([]byte(`{"Resources":[{"name":"Group","endpoint":"/Groups","schema":"urn:ietf:params:scim:schemas:core:2.0:Group"},` +
				`{"name":"User","endpoint":"/Users/"}]}`))
		case "/Schemas":
			_, _ = w.Write([]byte(`{"Resources":[{"id":"urn:ietf:params:scim:schemas:core:2.0:User","attributes":[` +
				`{"name":"userName"},{"name":"name","subAttributes":[{"name":"givenName"}]},{"name":"displayName"},` +
				`{"name":"emails"},{"name":"addresses"},{"name":"roles"},{"name":"password","mutability":"writeOnly"},` +
				`{"name":"active","mutability":"readOnly"}]}]}`))
		default:
			w.WriteHeader(http.StatusTeapot)
		}
	}))
	t.Cleanup(provider.Close)
	hc, err := upstream.New(config.Upstream{URL: provider.URL, Breaker: config.Breaker{Enabled: new(bool)}}, upstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := scim.New(hc, config.Upstream{})
	if err != nil {
		t.Fatal(err)
	}
	caps, err := c.Discover(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"active", "attributes", "deleted", "extensions", "familyName", "locked", "mobile", "organization", "phone"}
	if got := caps.Refused(); !slices.Equal(got, want) || !caps.Bulk || caps.Schemas[0] != scim.UserSchema {
		t.Errorf("refused %v, want %v; %+v", got, want, caps)
	}
	sent.Store(0)
	for _, f := range []string{"phone", "active", "familyName", "organization"} {
		_, cerr := c.Patch(context.Background(), call(canonical.ByID, "u1", `{"unset":["`+f+`"]}`))
		if cerr == nil || cerr.Code != canonical.InvalidField || cerr.Field != f {
			t.Errorf("%s: %v", f, cerr)
		}
	}
	if n := sent.Load(); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// Unsetting the e-mail removes the work item and touches no other: a home
// e-mail that is primary stays so, with GET + PUT as with PATCH (which
// sends only the remove). The PUT dropped the other items' primary, as
// setting a primary work e-mail does.
func TestUnsetEmailKeepsOthersPrimary(t *testing.T) {
	const user = `{"userName":"jo","emails":[{"value":"jo@home.example","type":"home","primary":true},{"value":"jo@example.com","type":"work"}]}`
	for _, patch := range []bool{true, false} {
		srv, err := scimtest.StartWith(scimtest.Options{Extension: scim.DefaultExtensionSchema, NoPatch: !patch})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Close)
		id := srv.Add(user)
		hc, err := upstream.New(config.Upstream{URL: srv.URL, Timeout: config.Duration(2 * time.Second), Breaker: config.Breaker{Enabled: new(bool)}}, upstream.Options{})
		if err != nil {
			t.Fatal(err)
		}
		c, err := scim.New(hc, config.Upstream{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		if _, err := c.Discover(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, cerr := c.Patch(context.Background(), call(canonical.ByID, id, `{"set":{},"unset":["email"]}`)); cerr != nil {
			t.Fatalf("patch %v: %v", patch, cerr)
		}
		emails := gjson.GetBytes(srv.User(id), "emails")
		if len(emails.Array()) != 1 || emails.Get("0.type").Str != "home" || emails.Get("0.primary").Type != gjson.True {
			t.Errorf("patch %v: emails %s, want the home one alone, still primary", patch, emails.Raw)
		}
	}
}
