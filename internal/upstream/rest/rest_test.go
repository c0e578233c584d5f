package rest_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/upstream"
	"github.com/userbridge/userbridge/internal/upstream/rest"
	"github.com/userbridge/userbridge/mapping/canonical"
)

const keycloakRules = "../../../examples/upstreams/keycloak.yaml"

// golden is one case of testdata/keycloak.yaml.
type golden struct {
	Name    string `yaml:"name"`
	Call    string `yaml:"call"`
	Target  string `yaml:"target"`
	Value   string `yaml:"value"`
	Update  string `yaml:"update"`
	Replies []struct {
		Status int    `yaml:"status"`
		Body   string `yaml:"body"`
	} `yaml:"replies"`
	Requests []struct {
		Method      string  `yaml:"method"`
		URI         string  `yaml:"uri"`
		ContentType string  `yaml:"contentType"`
		Body        *string `yaml:"body"`
	} `yaml:"requests"`
	Status int    `yaml:"status"`
	User   string `yaml:"user"`
	Error  *struct {
		Code    string `yaml:"code"`
		Field   string `yaml:"field"`
		Message string `yaml:"message"`
	} `yaml:"error"`
}

type seen struct {
	method, uri, contentType, auth string
	body                           []byte
}

// recording is an upstream that answers with scripted replies, in order,
// and records what it receives.
type recording struct {
	mu      sync.Mutex
	replies []func(w http.ResponseWriter)
	got     []seen
}

func (r *recording) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.got = append(r.got, seen{req.Method, req.RequestURI, req.Header.Get("Content-Type"), req.Header.Get("Authorization"), body})
	var reply func(w http.ResponseWriter)
	if len(r.replies) > 0 {
		reply, r.replies = r.replies[0], r.replies[1:]
	}
	r.mu.Unlock()
	if reply == nil {
		w.WriteHeader(http.StatusTeapot)
		return
	}
	reply(w)
}

func (r *recording) script(replies ...func(w http.ResponseWriter)) {
	r.mu.Lock()
	r.replies, r.got = replies, nil
	r.mu.Unlock()
}

func (r *recording) requests() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seen(nil), r.got...)
}

func answer(status int, body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func client(t *testing.T, file string, cfg config.Upstream) (*rest.Client, *recording) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := rest.Load(file, data)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recording{}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	hc, err := upstream.New(config.Upstream{URL: srv.URL, Timeout: config.Duration(2 * time.Second), MaxAttempts: 1, Breaker: config.Breaker{Enabled: new(bool)}}, upstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := rest.New(hc, rules, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, rec
}

func TestKeycloakGolden(t *testing.T) {
	data, err := os.ReadFile("testdata/keycloak.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cases []golden
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&cases); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			c, rec := client(t, keycloakRules, config.Upstream{})
			var script []func(w http.ResponseWriter)
			for _, r := range tc.Replies {
				script = append(script, answer(r.Status, r.Body))
			}
			rec.script(script...)
			target := canonical.ByID
			if tc.Target == "username" {
				target = canonical.ByUsername
			}
			call := &upstream.Call{Target: target, Value: tc.Value, Header: http.Header{"Authorization": {"Bearer admin-token"}}}
			var res *upstream.Result
			var cerr *canonical.Error
			if tc.Call == "get" {
				res, cerr = c.Get(context.Background(), call)
			} else {
				if err := canonical.ValidateUpdate([]byte(tc.Update)); err != nil {
					t.Fatalf("bad case: %v", err)
				}
				call.Body = []byte(tc.Update)
				res, cerr = c.Patch(context.Background(), call)
			}
			got := rec.requests()
			if len(got) != len(tc.Requests) {
				t.Fatalf("%d requests, want %d: %+v", len(got), len(tc.Requests), got)
			}
			for i, want := range tc.Requests {
				g := got[i]
				if g.method != want.Method || g.uri != want.URI || g.auth != "Bearer admin-token" {
					t.Errorf("request %d: %s %s (auth %q), want %s %s", i, g.method, g.uri, g.auth, want.Method, want.URI)
				}
				if want.ContentType != "" && g.contentType != want.ContentType {
					t.Errorf("request %d: Content-Type %q", i, g.contentType)
				}
				wantBody := ""
				if want.Body != nil {
					wantBody = *want.Body
				}
				if string(g.body) != wantBody {
					t.Errorf("request %d body\n got %s\nwant %s", i, g.body, wantBody)
				}
			}
			if tc.Error != nil {
				if cerr == nil || string(cerr.Code) != tc.Error.Code || cerr.Field != tc.Error.Field ||
					(tc.Error.Message != "" && cerr.Message != tc.Error.Message) {
					t.Fatalf("error %v (field %q), want %+v", cerr, fieldOf(cerr), *tc.Error)
				}
				return
			}
			if cerr != nil {
				t.Fatalf("error %v", cerr)
			}
			if res.Status != tc.Status || string(res.Body) != tc.User {
				t.Errorf("result %d %s, want %d %s", res.Status, res.Body, tc.Status, tc.User)
			}
			if res.Attempts != len(tc.Requests) {
				t.Errorf("attempts %d", res.Attempts)
			}
			if res.Body != nil {
				if err := canonical.ValidateUser(res.Body); err != nil {
					t.Errorf("not a canonical user: %v", err)
				}
			}
		})
	}
}

func fieldOf(e *canonical.Error) string {
	if e == nil {
		return ""
	}
	return e.Field
}

func TestLookupCache(t *testing.T) {
	c, rec := client(t, keycloakRules, config.Upstream{})
	call := func() *upstream.Call {
		return &upstream.Call{Target: canonical.ByUsername, Value: "jane", Body: []byte(`{"set":{"active":true}}`)}
	}
	found := answer(200, `[{"id":"u1","username":"jane"}]`)
	stored := func(id string) func(http.ResponseWriter) { return answer(200, `{"id":"`+id+`","username":"jane"}`) }
	// Each update reads the user first (merge: true), then PUTs it whole.
	rec.script(found, stored("u1"), answer(204, ""))
	if _, err := c.Patch(context.Background(), call()); err != nil {
		t.Fatal(err)
	}
	rec.script(stored("u1"), answer(204, ""))
	if _, err := c.Patch(context.Background(), call()); err != nil {
		t.Fatal(err)
	}
	if got := rec.requests(); len(got) != 2 || got[0].uri != "/admin/realms/master/users/u1" || got[1].method != "PUT" || got[1].uri != "/admin/realms/master/users/u1" {
		t.Fatalf("the id was not cached: %+v", got)
	}
	// The user was deleted and created again: 404 on the cached id.
	rec.script(answer(404, `{"error":"User not found"}`), answer(200, `[{"id":"u2","username":"jane"}]`), stored("u2"), answer(204, ""))
	res, err := c.Patch(context.Background(), call())
	if err != nil {
		t.Fatal(err)
	}
	got := rec.requests()
	if len(got) != 4 || got[3].method != "PUT" || got[3].uri != "/admin/realms/master/users/u2" || res.Attempts != 4 {
		t.Fatalf("want GET u1 (404), lookup, GET u2, PUT u2: %+v", got)
	}
	// A search that finds another user (Keycloak's prefix search, say) is not a hit.
	rec.script(answer(200, `[{"id":"u3","username":"janet"}]`))
	_, err = c.Patch(context.Background(), &upstream.Call{Target: canonical.ByUsername, Value: "jan", Body: []byte(`{}`)})
	if err == nil || err.Code != canonical.NotFound {
		t.Fatalf("%v", err)
	}
}

func TestCompileReportsEveryProblem(t *testing.T) {
	_, err := rest.Load("bad.yaml", []byte(`
upstream: Key Cloak
accepts: {set: [givenName, nickname, email], unset: [email]}
update:
  byId:
    method: GET
    path: /users/${param.id}
    body: {firstName: "${update.set.givenName}", x: "${reply.id}"}
get:
  byId: {method: PUT, path: "users/${param.id|path}"}
user: {id: "${update.set.id}"}
errors:
  - {status: [500], code: teapot, field: nick}
`))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{`upstream: "Key Cloak" is not a name`, `accepts.set: "nickname" is not a writable canonical field`,
		`update.byId.method: "GET": an update is PUT, PATCH or POST`, `${param.id} must end with |path or |query`,
		`accepts.set has email, but the body never reads ${update.set.email}`,
		`accepts.unset has email, but the body has no ${update.set.email|unset:…}`,
		`unknown source "reply"`, `get.byId.method: "PUT": a get is GET`, `must start with /`,
		`lookup: missing`, `unknown source "update"`, `errors[0].status: 500`, `errors[0].code: "teapot"`, `errors[0].field: "nick"`,
		// Each names its line.
		`bad.yaml:6: update.byId.method`, `bad.yaml:7: update.byId.path: ${param.id} must end`, `bad.yaml:13: errors[0].code`,
		`bad.yaml:8: update.byId.body.x: ${reply.id}`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if _, err := rest.Load("x.yaml", []byte("upstream: x\nnope: 1\n")); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown key: %v", err)
	}
}

func TestUserTemplateMustMakeACanonicalUser(t *testing.T) {
	dir := t.TempDir()
	data, _ := os.ReadFile(keycloakRules)
	bad := strings.Replace(string(data), "active: ${reply.enabled?}", "active: ${reply.enabled?|string}", 1)
	file := dir + "/kc.yaml"
	if err := os.WriteFile(file, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	c, rec := client(t, file, config.Upstream{})
	rec.script(answer(200, `{"id":"u1","enabled":true}`))
	_, err := c.Get(context.Background(), &upstream.Call{Target: canonical.ByID, Value: "u1"})
	if err == nil || err.Code != canonical.BadGateway || !strings.Contains(err.Message, "active") {
		t.Fatalf("%v", err)
	}
}

func TestMergeNeedsAGet(t *testing.T) {
	_, err := rest.Load("merge.yaml", []byte(`
upstream: m
accepts: {set: [givenName]}
update:
  byId: {method: PUT, path: "/u/${param.id|path}", merge: true, body: {firstName: "${update.set.givenName?}"}}
  byUsername: {method: PUT, path: "/n/${param.username|path}", merge: true, body: {firstName: "${update.set.givenName?}"}}
get:
  byId: {method: GET, path: "/u/${param.id|path}", merge: true}
user: {id: "${reply.id}"}
`))
	if err == nil {
		t.Fatal("compiled")
	}
	for _, want := range []string{"update.byUsername.merge: needs a get for the same target", "get.byId.merge: only an update merges"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

// mergeFrom says where a merge finds the user in the get's reply: without
// merge it would say nothing, and is refused.
func TestMergeFromNeedsMerge(t *testing.T) {
	_, err := rest.Load("mergefrom.yaml", []byte(`
upstream: m
accepts: {set: [givenName]}
lookup: {path: "/u?name=${param.username|query}", id: "0.id"}
update:
  byId: {method: PUT, path: "/u/${param.id|path}", mergeFrom: data, body: {firstName: "${update.set.givenName?}"}}
get:
  byId: {method: GET, path: "/u/${param.id|path}"}
user: {id: "${reply.id}"}
`))
	if err == nil || !strings.Contains(err.Error(), "mergefrom.yaml:6: update.byId.mergeFrom: only with merge: true") {
		t.Fatalf("%v", err)
	}
}

// TestCompileRefusesPartReads: a body that reads a field in part in a way
// check cannot follow (one item by index, a query, a wildcard) is refused,
// as is an unset filter on a part (set.roles.#.name|unset never renders:
// the update unsets roles, not roles.#.name), which was accepted and
// dropped every removal of the roles.
func TestCompileRefusesPartReads(t *testing.T) {
	_, err := rest.Load("parts.yaml", []byte(`
upstream: p
accepts: {set: [roles, attributes, address], unset: [roles]}
lookup: {path: "/u?name=${param.username|query}", id: "0.id"}
update:
  byId:
    method: PUT
    path: /u/${param.id|path}
    body:
      role: ${update.set.roles.0.name?}
      names: ${update.set.roles.#.name?|unset:[]}
      dept: ${update.set.attributes.#(key=="dept").value?}
      street: ${update.set.address.*?}
get:
  byId: {method: GET, path: "/u/${param.id|path}"}
user: {id: "${reply.id}"}
`))
	if err == nil {
		t.Fatal("compiled")
	}
	for _, want := range []string{"${update.set.roles.0.name} reads a part of roles that userbridge cannot check",
		"${update.set.attributes.#(key==\"dept\").value} reads a part of attributes", "${update.set.address.*} reads a part of address",
		"accepts.unset has roles, but the body has no ${update.set.roles|unset:…}"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

// TestCompileRefusesDottedExtension: a read of an extension member whose
// name holds a dot (escaped for gjson, a\.b) names no member an update can
// hold (canonical.md: [A-Za-z0-9_-]+), so it never renders; its unset:
// filter was counted as carrying the removal of extensions (the key kept
// the escape, the update's unset never matched it). Refused at compile,
// as is an unset filter on a part of a member and one written escaped.
func TestCompileRefusesDottedExtension(t *testing.T) {
	_, err := rest.Load("dots.yaml", []byte(`
upstream: p
accepts: {set: [extensions], unset: [extensions]}
lookup: {path: "/u?name=${param.username|query}", id: "0.id"}
update:
  byId:
    method: PUT
    path: /u/${param.id|path}
    body:
      ab: ${update.set.extensions.baasic.a\.b?|unset:null}
      theme: ${update.set.extensions.baasic.dash.theme?|unset:null}
      sso: ${update.set.extensions.shift.sso\Id?|unset:null}
get:
  byId: {method: GET, path: "/u/${param.id|path}"}
user: {id: "${reply.id}"}
`))
	if err == nil {
		t.Fatal("compiled")
	}
	for _, want := range []string{`${update.set.extensions.baasic.a\.b} names no extension member an update can hold`,
		"${update.set.extensions.baasic.dash.theme} has an unset: filter that never renders",
		`${update.set.extensions.shift.sso\Id} has an unset: filter that never renders`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

// TestCheckUpdateByTarget: CheckUpdate judges the update request its
// target uses, as Patch does. byId reads the roles whole, byUsername only
// their names: a role's id passes by id (it was refused) and is refused by
// username, before the stored-user GET; an extension member neither reads
// is refused either way.
func TestCheckUpdateByTarget(t *testing.T) {
	file := filepath.Join(t.TempDir(), "two.yaml")
	if err := os.WriteFile(file, []byte(`upstream: two
accepts:
  set: [roles, extensions]
lookup: {path: "/u?name=${param.username|query}", id: "0.id"}
update:
  byId:
    method: PUT
    path: /u/${param.id|path}
    body:
      roles: ${update.set.roles?}
      dashboard: ${update.set.extensions.baasic.allowDashboardAccess?}
  byUsername:
    method: PUT
    path: /u/by-name/${param.username|path}
    body:
      roles: ${update.set.roles.#.name?}
      dashboard: ${update.set.extensions.baasic.allowDashboardAccess?}
get:
  byId: {method: GET, path: "/u/${param.id|path}"}
user:
  id: ${reply.id}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := client(t, file, config.Upstream{})
	role := []byte(`{"set":{"roles":[{"id":"r-1","name":"admin"}]}}`)
	if e := c.CheckUpdate(canonical.ByID, role); e != nil {
		t.Errorf("a role's id, carried by byId: refused %v", e)
	}
	if e := c.CheckUpdate(canonical.ByUsername, role); fieldOf(e) != "roles" {
		t.Errorf("a role's id, dropped by byUsername: %v", e)
	}
	for _, target := range []canonical.Target{canonical.ByID, canonical.ByUsername} {
		if e := c.CheckUpdate(target, []byte(`{"set":{"extensions":{"baasic":{"theme":"dark"}}}}`)); fieldOf(e) != "extensions.baasic.theme" {
			t.Errorf("%v: an extension member no request reads: %v", target, e)
		}
	}
}

// TestFlowTemplateHintUpstream: an upstream rule file whose body holds an
// unquoted ${…} in a flow mapping is told to quote it, as a dialect's rule
// file is (the upstream's loader had its own copy of the switch, without
// the hint: "did not find expected ',' or '}'" alone).
func TestFlowTemplateHintUpstream(t *testing.T) {
	_, err := rest.Load("up.yaml", []byte("upstream: up\nupdate:\n  byId: {method: PUT, path: /u, body: {email: ${update.set.email}}}\n"))
	if err == nil || !strings.Contains(err.Error(), "up.yaml: line 3:") || !strings.Contains(err.Error(), `must be quoted: "${…}"`) {
		t.Fatalf("%v: want the line and the hint to quote the template", err)
	}
}
