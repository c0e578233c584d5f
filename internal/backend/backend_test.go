package backend

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/userbridge/userbridge/mapping/canonical"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// start serves a seeded backend with a test clock and a cheap bcrypt cost.
func start(t *testing.T, opts Options) (*Backend, *httptest.Server, *clock) {
	t.Helper()
	c := newClock()
	opts.Seed = true
	opts.Clock = c.Now
	opts.PasswordCost = bcrypt.MinCost
	b := New(opts)
	srv := httptest.NewServer(b.Handler())
	t.Cleanup(srv.Close)
	return b, srv, c
}

type reply struct {
	status int
	header http.Header
	body   string
}

// call sends a request; a PATCH gets Content-Type: application/json unless
// headers name one. headers are name, value pairs.
func call(t *testing.T, srv *httptest.Server, method, path, body string, headers ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPatch {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, string(b)}
}

func (r reply) is(t *testing.T, status int, body string) {
	t.Helper()
	if r.status != status || r.body != body {
		t.Errorf("got %d %s\nwant %d %s", r.status, r.body, status, body)
	}
	if ct := r.header.Get("Content-Type"); r.body != "" && ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestGet(t *testing.T) {
	_, srv, _ := start(t, Options{})
	for i, id := range []string{DemoJaneID, DemoMerchantID, DemoJohnID} {
		call(t, srv, "GET", "/users/"+id, "").is(t, 200, demoUsers[i])
	}
	for i, name := range []string{"jane.doe", "merchant.admin", "john.smith"} {
		call(t, srv, "GET", "/users/by-username/"+name, "").is(t, 200, demoUsers[i])
	}
	if r := call(t, srv, "HEAD", "/users/"+DemoJaneID, ""); r.status != 200 || r.body != "" {
		t.Errorf("HEAD = %d %q", r.status, r.body)
	}
	const notFound = `{"error":{"code":"not_found","message":"no such user"}}`
	call(t, srv, "GET", "/users/nobody", "").is(t, 404, notFound)
	call(t, srv, "GET", "/users/by-username/nobody", "").is(t, 404, notFound)
	call(t, srv, "GET", "/users/by-username/"+DemoJaneID, "").is(t, 404, notFound)
	call(t, srv, "GET", "/users/jane.doe", "").is(t, 404, notFound)
}

func TestEscapedPath(t *testing.T) {
	b, srv, _ := start(t, Options{})
	user := `{"id":"id/1 ?#","username":"a/b c+d?e#f","createdAt":"2024-01-15T09:30:00.000Z","updatedAt":"2024-01-15T09:30:00.000Z"}`
	if err := b.Put([]byte(user)); err != nil {
		t.Fatal(err)
	}
	call(t, srv, "GET", "/users/id%2F1%20%3F%23", "").is(t, 200, user)
	call(t, srv, "GET", "/users/by-username/a%2Fb%20c+d%3Fe%23f", "").is(t, 200, user)
	call(t, srv, "GET", "/users/by-username/a/b%20c+d%3Fe%23f", "").is(t, 404,
		`{"error":{"code":"not_found","message":"no such call"}}`)
}

func TestPatch(t *testing.T) {
	b, srv, _ := start(t, Options{})
	// The contract's example, by id.
	r := call(t, srv, "PATCH", "/users/"+DemoJaneID, `{
		"set":   {"givenName": "Janet", "active": false, "attributes": {"dept": "sales"},
		          "extensions": {"shift": {"sso": true}}},
		"unset": ["familyName", "extensions.shift.ssoId"]}`)
	want := `{"id":"` + DemoJaneID + `","username":"jane.doe","email":"jane@example.com",` +
		`"givenName":"Janet","displayName":"Jane Doe","phone":"+1 415 555 0100","active":false,"locked":false,` +
		`"roles":[{"id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","name":"ROLE_MERCHANT"}],` +
		`"attributes":{"dept":"sales"},"createdAt":"2024-01-15T09:30:00.000Z","updatedAt":"2025-06-01T12:00:00.000Z",` +
		`"createdBy":"system","lastLoginAt":"2024-03-01T08:15:42.000Z","extensions":{"shift":{"sso":true}}}`
	r.is(t, 200, want)
	if r.header.Get(HeaderReplayed) != "" {
		t.Error("first response marked replayed")
	}
	call(t, srv, "GET", "/users/"+DemoJaneID, "").is(t, 200, want)
	if got, _ := b.User(DemoJaneID); string(got) != want {
		t.Errorf("User = %s", got)
	}

	// By username, renaming: the old name is gone, the new one found.
	r = call(t, srv, "PATCH", "/users/by-username/john.smith", `{"set":{"username":"jsmith","locked":true}}`)
	want = strings.Replace(strings.Replace(strings.Replace(demoUsers[2],
		`"john.smith"`, `"jsmith"`, 1), `"locked":false`, `"locked":true`, 1),
		`"updatedAt":"2024-01-15T09:32:00.000Z"`, `"updatedAt":"2025-06-01T12:00:00.000Z"`, 1)
	r.is(t, 200, want)
	call(t, srv, "GET", "/users/by-username/jsmith", "").is(t, 200, want)
	call(t, srv, "GET", "/users/by-username/john.smith", "").is(t, 404, `{"error":{"code":"not_found","message":"no such user"}}`)
	// Setting a user's own username again is no conflict.
	if r := call(t, srv, "PATCH", "/users/by-username/jsmith", `{"set":{"username":"jsmith"}}`); r.status != 200 {
		t.Errorf("own username: %d %s", r.status, r.body)
	}
	if s := b.Stats(); s.Applied != 3 || s.Replayed != 0 || s.Keys != 0 {
		t.Errorf("Stats = %+v", s)
	}
}

func TestUpdatedAt(t *testing.T) {
	b, srv, c := start(t, Options{})
	stamp := func() string {
		t.Helper()
		var u struct{ UpdatedAt string }
		raw, _ := b.User(DemoMerchantID)
		if err := json.Unmarshal(raw, &u); err != nil {
			t.Fatal(err)
		}
		return u.UpdatedAt
	}
	patch := func(doc string) {
		t.Helper()
		if r := call(t, srv, "PATCH", "/users/"+DemoMerchantID, doc); r.status != 200 {
			t.Fatalf("PATCH %s = %d %s", doc, r.status, r.body)
		}
	}
	// An empty update is a probe: nothing is applied.
	call(t, srv, "PATCH", "/users/"+DemoMerchantID, `{}`).is(t, 200, demoUsers[1])
	call(t, srv, "PATCH", "/users/"+DemoMerchantID, `{"set":{},"unset":[]}`).is(t, 200, demoUsers[1])
	if s := b.Stats(); s.Applied != 0 {
		t.Errorf("empty updates applied: %+v", s)
	}
	// The clock is frozen: each update still moves updatedAt, by 1ms.
	for _, want := range []string{"2025-06-01T12:00:00.000Z", "2025-06-01T12:00:00.001Z", "2025-06-01T12:00:00.002Z"} {
		patch(`{"set":{"phone":"1"}}`)
		if got := stamp(); got != want {
			t.Errorf("updatedAt = %s, want %s", got, want)
		}
	}
	c.Advance(90*time.Minute + 1500*time.Microsecond)
	patch(`{"unset":["phone"]}`)
	if got, want := stamp(), "2025-06-01T13:30:00.001Z"; got != want {
		t.Errorf("updatedAt = %s, want %s", got, want)
	}
}

func TestPatchErrors(t *testing.T) {
	b, srv, _ := start(t, Options{MaxBody: 1 << 20})
	if err := b.Put([]byte(`{"id":"u9","username":"taken"}`)); err != nil {
		t.Fatal(err)
	}
	jane := "/users/" + DemoJaneID
	for _, tc := range []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		want                     string
	}{
		{"wrong kind", "PATCH", jane, `{"set":{"email":1}}`, nil, 400,
			`{"error":{"code":"invalid_field","message":"must be a string","field":"email"}}`},
		{"read-only", "PATCH", jane, `{"set":{"updatedAt":"2025-01-01T00:00:00.000Z"}}`, nil, 400,
			`{"error":{"code":"invalid_field","message":"is read-only","field":"updatedAt"}}`},
		{"unknown field", "PATCH", jane, `{"set":{"nickname":"jd"}}`, nil, 400,
			`{"error":{"code":"invalid_field","message":"is not a canonical field","field":"nickname"}}`},
		{"set and unset", "PATCH", jane, `{"set":{"phone":"1"},"unset":["phone"]}`, nil, 400,
			`{"error":{"code":"invalid_field","message":"is in both set and unset","field":"phone"}}`},
		{"not JSON", "PATCH", jane, `{"set":`, nil, 400,
			`{"error":{"code":"bad_request","message":"not valid JSON"}}`},
		{"not an update", "PATCH", jane, `{"givenName":"x"}`, nil, 400,
			`{"error":{"code":"bad_request","message":"an update holds only \"set\" and \"unset\", not \"givenName\""}}`},
		{"unset username", "PATCH", jane, `{"unset":["username"]}`, nil, 400,
			`{"error":{"code":"invalid_field","message":"is required and cannot be unset","field":"username"}}`},
		{"empty username", "PATCH", jane, `{"set":{"username":""}}`, nil, 400,
			`{"error":{"code":"invalid_field","message":"must not be empty","field":"username"}}`},
		{"empty password", "PATCH", jane, `{"set":{"password":""}}`, nil, 400,
			`{"error":{"code":"invalid_field","message":"must not be empty","field":"password"}}`},
		{"long password", "PATCH", jane, `{"set":{"password":"` + strings.Repeat("p", 73) + `"}}`, nil, 400,
			`{"error":{"code":"invalid_field","message":"must be at most 72 bytes","field":"password"}}`},
		{"unknown user", "PATCH", "/users/nobody", `{"set":{"phone":"1"}}`, nil, 404,
			`{"error":{"code":"not_found","message":"no such user"}}`},
		{"unknown username", "PATCH", "/users/by-username/nobody", `{}`, nil, 404,
			`{"error":{"code":"not_found","message":"no such user"}}`},
		{"username taken", "PATCH", jane, `{"set":{"username":"taken"}}`, nil, 409,
			`{"error":{"code":"conflict","message":"another user has this username","field":"username"}}`},
		{"text/plain", "PATCH", jane, `{}`, []string{"Content-Type", "text/plain"}, 415,
			`{"error":{"code":"unsupported_media_type","message":"the body must be application/json"}}`},
		{"merge patch", "PATCH", jane, `{}`, []string{"Content-Type", "application/merge-patch+json"}, 415,
			`{"error":{"code":"unsupported_media_type","message":"the body must be application/json"}}`},
		{"no content type", "PATCH", jane, `{}`, []string{"Content-Type", ""}, 415,
			`{"error":{"code":"unsupported_media_type","message":"the body must be application/json"}}`},
		{"too large", "PATCH", jane, `{"set":{"displayName":"` + strings.Repeat("x", 1<<20) + `"}}`, nil, 413,
			`{"error":{"code":"payload_too_large","message":"the body is larger than the limit"}}`},
		{"long key", "PATCH", jane, `{}`, []string{HeaderIdempotencyKey, strings.Repeat("k", 256)}, 400,
			`{"error":{"code":"bad_request","message":"Idempotency-Key longer than 255 bytes"}}`},
		{"DELETE", "DELETE", jane, ``, nil, 405,
			`{"error":{"code":"bad_request","message":"method not allowed: use GET or PATCH"}}`},
		{"POST by username", "POST", "/users/by-username/jane.doe", `{}`, nil, 405,
			`{"error":{"code":"bad_request","message":"method not allowed: use GET or PATCH"}}`},
		{"unknown call", "PATCH", "/accounts/1", `{}`, nil, 404,
			`{"error":{"code":"not_found","message":"no such call"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, srv, tc.method, tc.path, tc.body, tc.headers...)
			r.is(t, tc.status, tc.want)
			if tc.status == 405 && r.header.Get("Allow") != "GET, HEAD, PATCH" {
				t.Errorf("Allow = %q", r.header.Get("Allow"))
			}
		})
	}
	call(t, srv, "GET", jane, "").is(t, 200, demoUsers[0])
	if s := b.Stats(); s.Applied != 0 {
		t.Errorf("refused updates applied: %+v", s)
	}
	// A charset parameter is fine.
	r := call(t, srv, "PATCH", jane, `{}`, "Content-Type", "application/json; charset=utf-8")
	r.is(t, 200, demoUsers[0])
}

func TestPassword(t *testing.T) {
	b, srv, _ := start(t, Options{})
	r := call(t, srv, "PATCH", "/users/"+DemoJohnID, `{"set":{"password":"s3cret-Passw0rd"}}`)
	if r.status != 200 || strings.Contains(r.body, "password") || strings.Contains(r.body, "s3cret") {
		t.Errorf("PATCH = %d %s", r.status, r.body)
	}
	for _, path := range []string{"/users/" + DemoJohnID, "/users/by-username/john.smith"} {
		if r := call(t, srv, "GET", path, ""); r.status != 200 || strings.Contains(r.body, "password") ||
			strings.Contains(r.body, "s3cret") || strings.Contains(r.body, "$2a$") {
			t.Errorf("GET = %d %s", r.status, r.body)
		}
	}
	if !b.CheckPassword(DemoJohnID, "s3cret-Passw0rd") || b.CheckPassword(DemoJohnID, "wrong") {
		t.Error("password not stored")
	}
	if b.CheckPassword(DemoJaneID, "") {
		t.Error("jane has a password")
	}
	// Another update keeps the password; unset removes it.
	call(t, srv, "PATCH", "/users/"+DemoJohnID, `{"set":{"phone":"1"}}`)
	if !b.CheckPassword(DemoJohnID, "s3cret-Passw0rd") {
		t.Error("password lost")
	}
	call(t, srv, "PATCH", "/users/"+DemoJohnID, `{"unset":["password"]}`)
	if b.CheckPassword(DemoJohnID, "s3cret-Passw0rd") {
		t.Error("password kept after unset")
	}
}

func TestTenant(t *testing.T) {
	b, srv, _ := start(t, Options{Users: []json.RawMessage{
		json.RawMessage(`{"id":"t1-user","username":"alice","tenant":"t1","createdAt":"2024-01-15T09:30:00.000Z","updatedAt":"2024-01-15T09:30:00.000Z"}`),
	}})
	alice, _ := b.User("t1-user")
	const notFound = `{"error":{"code":"not_found","message":"no such user"}}`
	for _, path := range []string{"/users/t1-user", "/users/by-username/alice"} {
		call(t, srv, "GET", path, "").is(t, 200, string(alice))
		call(t, srv, "GET", path, "", HeaderTenant, "t1").is(t, 200, string(alice))
		call(t, srv, "GET", path, "", HeaderTenant, "t2").is(t, 404, notFound)
		call(t, srv, "PATCH", path, `{"set":{"phone":"1"}}`, HeaderTenant, "t2").is(t, 404, notFound)
		call(t, srv, "PATCH", path, `{}`, HeaderTenant, "t2").is(t, 404, notFound)
	}
	if s := b.Stats(); s.Applied != 0 {
		t.Errorf("applied across tenants: %+v", s)
	}
	if r := call(t, srv, "PATCH", "/users/t1-user", `{"set":{"phone":"1"}}`, HeaderTenant, "t1"); r.status != 200 {
		t.Errorf("PATCH in tenant = %d %s", r.status, r.body)
	}
	// Users without a tenant are found under any.
	call(t, srv, "GET", "/users/"+DemoJaneID, "", HeaderTenant, "t2").is(t, 200, demoUsers[0])
	// Usernames are unique across tenants.
	call(t, srv, "PATCH", "/users/"+DemoJaneID, `{"set":{"username":"alice"}}`, HeaderTenant, "t2").is(t, 409,
		`{"error":{"code":"conflict","message":"another user has this username","field":"username"}}`)
}

func TestFaultAndLatency(t *testing.T) {
	var mu sync.Mutex
	fail := true
	b, srv, _ := start(t, Options{Fault: func(r *http.Request) *canonical.Error {
		mu.Lock()
		defer mu.Unlock()
		if fail && r.Method == http.MethodPatch {
			fail = false
			return canonical.Errorf(canonical.Unavailable, "try again")
		}
		return nil
	}})
	doc := `{"set":{"phone":"1"}}`
	call(t, srv, "PATCH", "/users/"+DemoJaneID, doc, HeaderIdempotencyKey, "k1").is(t, 503,
		`{"error":{"code":"unavailable","message":"try again"}}`)
	if b.Applied("k1") != 0 || b.Stats().Keys != 0 {
		t.Error("a fault was remembered")
	}
	if r := call(t, srv, "PATCH", "/users/"+DemoJaneID, doc, HeaderIdempotencyKey, "k1"); r.status != 200 || r.header.Get(HeaderReplayed) != "" {
		t.Errorf("retry = %d %s", r.status, r.body)
	}
	if b.Applied("k1") != 1 {
		t.Error("retry not applied")
	}

	// A request whose client gives up during the latency is not applied.
	slow := New(Options{Seed: true, Latency: 300 * time.Millisecond})
	ssrv := httptest.NewServer(slow.Handler())
	defer ssrv.Close()
	client := &http.Client{Timeout: 50 * time.Millisecond}
	req, _ := http.NewRequest("PATCH", ssrv.URL+"/users/"+DemoJaneID, strings.NewReader(doc))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderIdempotencyKey, "slow")
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("no timeout")
	}
	time.Sleep(400 * time.Millisecond)
	if s := slow.Stats(); s.Requests != 1 || s.Applied != 0 || s.Keys != 0 {
		t.Errorf("Stats after a canceled request = %+v", s)
	}
}

func TestPut(t *testing.T) {
	c := newClock()
	b := New(Options{Clock: c.Now, PasswordCost: bcrypt.MinCost})
	if err := b.Put([]byte(`{"username":"new","password":"pw","email":"n@example.com"}`)); err != nil {
		t.Fatal(err)
	}
	var id string
	b.mu.RLock()
	id = b.names["new"]
	b.mu.RUnlock()
	got, ok := b.User(id)
	want := `{"username":"new","email":"n@example.com","id":"` + id +
		`","createdAt":"2025-06-01T12:00:00.000Z","updatedAt":"2025-06-01T12:00:00.000Z"}`
	if !ok || string(got) != want || len(id) != 36 {
		t.Errorf("User = %s, want %s", got, want)
	}
	if !b.CheckPassword(id, "pw") {
		t.Error("Put password not stored")
	}
	// Replacing by id may rename.
	if err := b.Put([]byte(`{"id":"` + id + `","username":"renamed"}`)); err != nil {
		t.Fatal(err)
	}
	if err := b.Put([]byte(`{"id":"other","username":"new"}`)); err != nil {
		t.Errorf("old username still taken: %v", err)
	}
	for _, tc := range []struct {
		user  string
		code  canonical.Code
		field string
	}{
		{`{"id":"x"}`, canonical.InvalidField, "username"},
		{`{"id":"x","username":""}`, canonical.InvalidField, "username"},
		{`{"id":"","username":"x"}`, canonical.InvalidField, "id"},
		{`{"id":"x","username":"renamed"}`, canonical.Conflict, "username"},
		{`{"id":"x","username":"x","password":1}`, canonical.InvalidField, "password"},
		{`{"id":"x","username":"x","nickname":"n"}`, canonical.InvalidField, "nickname"},
		{`{"id":"x","username":"x",`, canonical.BadRequest, ""},
		{`[]`, canonical.BadRequest, ""},
	} {
		err := b.Put([]byte(tc.user))
		var e *canonical.Error
		if !errors.As(err, &e) || e.Code != tc.code || e.Field != tc.field || !strings.HasPrefix(err.Error(), "backend: put: ") {
			t.Errorf("Put(%s) = %v, want %s %q", tc.user, err, tc.code, tc.field)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("New accepted an invalid user")
		}
	}()
	New(Options{Users: []json.RawMessage{json.RawMessage(`{"id":"x"}`)}})
}

func TestDemoUsers(t *testing.T) {
	want := [][2]string{
		{"0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a", "jane.doe"},
		{"USsRhsHYZGBPnQw8CFHjD7Un", "merchant.admin"},
		{"a1f2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", "john.smith"},
	}
	users := DemoUsers()
	if len(users) != len(want) {
		t.Fatalf("%d demo users", len(users))
	}
	for i, u := range users {
		var got struct{ ID, Username, Tenant string }
		if err := json.Unmarshal(u, &got); err != nil || got.ID != want[i][0] || got.Username != want[i][1] || got.Tenant != "" {
			t.Errorf("demo user %d = %+v, %v", i, got, err)
		}
		if err := canonical.ValidateUser(u); err != nil {
			t.Errorf("demo user %d: %v", i, err)
		}
	}
	users[0][2] = 'X'
	if DemoUsers()[0][2] == 'X' {
		t.Error("DemoUsers shares its memory")
	}
}
