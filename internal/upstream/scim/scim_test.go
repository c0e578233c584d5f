package scim_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/upstream"
	"github.com/userbridge/userbridge/internal/upstream/scim"
	"github.com/userbridge/userbridge/internal/upstream/scim/scimtest"
	"github.com/userbridge/userbridge/mapping/canonical"
)

const jane = `{"userName":"jane.doe","name":{"givenName":"Jane","familyName":"Doe","middleName":"Q"},"displayName":"Jane Doe",
"emails":[{"value":"jane@home.example","type":"home","primary":true},{"value":"jane@example.com","type":"work"}],
"phoneNumbers":[{"value":"+1 555 0100","type":"work"}],"active":true,
"roles":[{"value":"7c9e6679","display":"ROLE_MERCHANT"}],
"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"organization":"Acme","costCenter":"42"}}`

func setup(t *testing.T, cfg config.Upstream) (*scimtest.Server, *scim.Client, string) {
	t.Helper()
	return setupWith(t, cfg, scimtest.Options{Extension: scim.DefaultExtensionSchema})
}

// setupWith starts a SCIM server as o says, with jane, and a client whose
// capabilities are discovered (when cfg says so); the discovery's requests
// are forgotten.
func setupWith(t *testing.T, cfg config.Upstream, o scimtest.Options) (*scimtest.Server, *scim.Client, string) {
	t.Helper()
	srv, err := scimtest.StartWith(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	id := srv.Add(jane)
	hc, err := upstream.New(config.Upstream{URL: srv.URL, Timeout: config.Duration(2 * time.Second), Breaker: config.Breaker{Enabled: new(bool)}}, upstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := scim.New(hc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if _, err := c.Discover(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.Requests()
	return srv, c, id
}

func call(target canonical.Target, value, update string) *upstream.Call {
	h := http.Header{"Idempotency-Key": {"k1"}, "Authorization": {"Bearer t"}}
	c := &upstream.Call{Target: target, Value: value, Header: h}
	if update != "" {
		c.Body = []byte(update)
	}
	return c
}

func TestPatchByID(t *testing.T) {
	srv, c, id := setup(t, config.Upstream{})
	res, err := c.Patch(context.Background(), call(canonical.ByID, id,
		`{"set":{"givenName":"Janet","email":"janet@example.com","locked":true,"attributes":{"dept":"sales"},`+
			`"extensions":{"shift":{"ssoId":"x-1"}}},"unset":["familyName","phone"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 200 || res.Attempts != 1 {
		t.Errorf("result %+v", res)
	}
	if err := canonical.ValidateUser(res.Body); err != nil {
		t.Fatalf("%s: %v", res.Body, err)
	}
	u := gjson.ParseBytes(res.Body)
	for path, want := range map[string]string{"id": id, "username": "jane.doe", "givenName": "Janet", "email": "janet@example.com",
		"organization": "Acme", "locked": "true", "attributes.dept": "sales", "extensions.shift.ssoId": "x-1",
		"roles.0.id": "7c9e6679", "roles.0.name": "ROLE_MERCHANT", "active": "true", "displayName": "Jane Doe"} {
		if got := u.Get(path).String(); got != want {
			t.Errorf("%s = %q, want %q in %s", path, got, want, res.Body)
		}
	}
	for _, gone := range []string{"familyName", "phone", "password"} {
		if u.Get(gone).Exists() {
			t.Errorf("%s still there: %s", gone, res.Body)
		}
	}
	stored := gjson.ParseBytes(srv.User(id))
	if got := stored.Get(`emails.#(type=="home").value`).Str; got != "jane@home.example" {
		t.Errorf("the home email was touched: %s", stored.Raw)
	}
	if got := stored.Get(`emails.#(type=="home").primary`).Raw; got != "false" {
		t.Errorf("two primary emails: %s", stored.Raw)
	}
	if got := stored.Get("name.middleName").Str; got != "Q" {
		t.Errorf("name.middleName lost: %s", stored.Raw)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Method != "PATCH" || reqs[0].URI != "/Users/"+id ||
		reqs[0].Header.Get("Content-Type") != scim.MediaType || reqs[0].Header.Get("Authorization") != "Bearer t" {
		t.Errorf("requests %+v", reqs)
	}
}

func TestPatchByUsernameCachesTheID(t *testing.T) {
	srv, c, id := setup(t, config.Upstream{})
	for i := range 2 {
		res, err := c.Patch(context.Background(), call(canonical.ByUsername, "Jane.Doe", `{"set":{"displayName":"J"}}`))
		if err != nil {
			t.Fatal(err)
		}
		reqs := srv.Requests()
		want := 2 // lookup then PATCH, then PATCH alone
		if i == 1 {
			want = 1
		}
		if len(reqs) != want || res.Attempts != want {
			t.Fatalf("round %d: %d requests, %d attempts", i, len(reqs), res.Attempts)
		}
		if i == 0 {
			q, _ := url.ParseRequestURI(reqs[0].URI)
			if reqs[0].Method != "GET" || q.Query().Get("filter") != `userName eq "Jane.Doe"` || strings.Contains(reqs[0].URI, "+") {
				t.Errorf("lookup %s %s", reqs[0].Method, reqs[0].URI)
			}
		}
		if last := reqs[len(reqs)-1]; last.URI != "/Users/"+id {
			t.Errorf("PATCH %s", last.URI)
		}
	}
}

func TestStaleCacheLooksUpAgain(t *testing.T) {
	srv, c, id := setup(t, config.Upstream{})
	if _, err := c.Get(context.Background(), call(canonical.ByUsername, "jane.doe", "")); err != nil {
		t.Fatal(err)
	}
	// The user is recreated under another id behind userbridge's back.
	if err := deleteUser(srv, id); err != nil {
		t.Fatal(err)
	}
	id2 := srv.Add(jane)
	srv.Requests()
	res, err := c.Patch(context.Background(), call(canonical.ByUsername, "jane.doe", `{"set":{"displayName":"J2"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := gjson.GetBytes(res.Body, "id").Str; got != id2 {
		t.Errorf("patched %s, want %s", got, id2)
	}
	reqs := srv.Requests()
	if len(reqs) != 3 || reqs[0].URI != "/Users/"+id || reqs[2].URI != "/Users/"+id2 || res.Attempts != 3 {
		t.Errorf("want PATCH (404), lookup, PATCH; got %d: %+v", len(reqs), reqs)
	}
}

func deleteUser(srv *scimtest.Server, id string) error {
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/Users/"+id, nil)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	return err
}

func TestRenameMovesTheCacheEntry(t *testing.T) {
	srv, c, _ := setup(t, config.Upstream{})
	if _, err := c.Patch(context.Background(), call(canonical.ByUsername, "jane.doe", `{"set":{"username":"jd"}}`)); err != nil {
		t.Fatal(err)
	}
	srv.Requests()
	if _, err := c.Get(context.Background(), call(canonical.ByUsername, "jd", "")); err != nil {
		t.Fatal(err)
	}
	if reqs := srv.Requests(); len(reqs) != 1 || !strings.HasPrefix(reqs[0].URI, "/Users/") {
		t.Errorf("the new username was not cached: %+v", reqs)
	}
	_, err := c.Get(context.Background(), call(canonical.ByUsername, "jane.doe", ""))
	if err == nil || err.Code != canonical.NotFound {
		t.Errorf("old username: %v", err)
	}
}

func TestEscapedUsername(t *testing.T) {
	srv, c, _ := setup(t, config.Upstream{})
	odd := `o"brien\x & co+1`
	name, _ := json.Marshal(odd)
	id := srv.Add(`{"userName":` + string(name) + `}`)
	res, err := c.Get(context.Background(), call(canonical.ByUsername, odd, ""))
	if err != nil {
		t.Fatal(err)
	}
	if got := gjson.GetBytes(res.Body, "id").Str; got != id || gjson.GetBytes(res.Body, "username").Str != odd {
		t.Errorf("got %s", res.Body)
	}
}

// TestInvalidUTF8UsernameRefused: a username that is not valid UTF-8 is
// refused before any lookup: its filter string would carry U+FFFD in place
// of the invalid byte, and could find a user named with that character.
func TestInvalidUTF8UsernameRefused(t *testing.T) {
	srv, c, _ := setup(t, config.Upstream{})
	srv.Add(`{"userName":"ja\ufffdne"}`)
	before := len(srv.Requests())
	_, err := c.Patch(context.Background(), call(canonical.ByUsername, "ja\xffne", `{"set":{"active":false}}`))
	if err == nil || err.Code != canonical.InvalidField {
		t.Fatalf("got %v, want invalid_field", err)
	}
	if n := len(srv.Requests()) - before; n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestEmptyUpdateIsAGet(t *testing.T) {
	srv, c, id := setup(t, config.Upstream{})
	res, err := c.Patch(context.Background(), call(canonical.ByID, id, `{"set":{},"unset":[]}`))
	if err != nil || res.Status != 200 || gjson.GetBytes(res.Body, "username").Str != "jane.doe" {
		t.Fatalf("%+v %v", res, err)
	}
	if reqs := srv.Requests(); len(reqs) != 1 || reqs[0].Method != "GET" {
		t.Errorf("requests %+v", reqs)
	}
}

func TestNoContent(t *testing.T) {
	srv, c, id := setup(t, config.Upstream{})
	srv.SetNoContent(true)
	res, err := c.Patch(context.Background(), call(canonical.ByID, id, `{"set":{"active":false}}`))
	if err != nil || res.Status != 204 || res.Body != nil {
		t.Fatalf("%+v %v", res, err)
	}
	res, err = c.Get(context.Background(), call(canonical.ByID, id, ""))
	if err != nil || gjson.GetBytes(res.Body, "active").Raw != "false" {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestErrors(t *testing.T) {
	srv, c, id := setup(t, config.Upstream{})
	other := srv.Add(`{"userName":"john"}`)
	for _, tc := range []struct {
		name          string
		target        canonical.Target
		value, update string
		code          canonical.Code
		field         string
	}{
		{"no such id", canonical.ByID, "nobody", `{"set":{"active":true}}`, canonical.NotFound, ""},
		{"no such username", canonical.ByUsername, "nobody", `{"set":{"active":true}}`, canonical.NotFound, ""},
		{"username taken", canonical.ByID, other, `{"set":{"username":"JANE.DOE"}}`, canonical.Conflict, "username"},
		{"username removed", canonical.ByID, id, `{"unset":["username"]}`, canonical.InvalidField, "username"},
		{"wrong type", canonical.ByID, id, `{"set":{"address":{"locality":"x"},"givenName":"y"}}`, "", ""},
		{"empty value", canonical.ByID, "", `{"set":{"active":true}}`, canonical.InvalidField, "id"},
		{"dot value", canonical.ByUsername, "..", `{"set":{"active":true}}`, canonical.InvalidField, "username"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Patch(context.Background(), call(tc.target, tc.value, tc.update))
			if tc.code == "" {
				if err != nil {
					t.Fatalf("%v", err)
				}
				return
			}
			if err == nil || err.Code != tc.code || err.Field != tc.field || err.Message == "" {
				t.Fatalf("got %v (field %q), want %s %q", err, err.Field, tc.code, tc.field)
			}
		})
	}
}

func TestUnmappedReject(t *testing.T) {
	srv, c, id := setup(t, config.Upstream{SCIM: config.SCIM{Unmapped: config.UnmappedReject}})
	_, err := c.Patch(context.Background(), call(canonical.ByID, id, `{"set":{"givenName":"x","locked":true}}`))
	if err == nil || err.Code != canonical.InvalidField || err.Field != "locked" {
		t.Fatalf("%v", err)
	}
	if reqs := srv.Requests(); len(reqs) != 0 {
		t.Errorf("sent %+v", reqs)
	}
}

func TestNewChecksConfig(t *testing.T) {
	hc, err := upstream.New(config.Upstream{URL: "http://127.0.0.1:1"}, upstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = scim.New(hc, config.Upstream{SCIM: config.SCIM{ExtensionSchema: "not a urn", Unmapped: "drop"}})
	if err == nil || !strings.Contains(err.Error(), "upstream.scim.extensionSchema") || !strings.Contains(err.Error(), "upstream.scim.unmapped") {
		t.Errorf("%v", err)
	}
}
