package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// userFor is canonicalUser as the user the request addresses: its id, or
// its username, is the one in the upstream path (the default templates,
// /users/{id} and /users/by-username/{username}). userbridge refuses an
// answer that is another user's record.
func userFor(r *http.Request) []byte {
	p := r.URL.Path
	key := "id"
	if strings.Contains(p, "/by-username/") {
		key = "username"
	}
	return edit([]byte(canonicalUser), key, p[strings.LastIndexByte(p, '/')+1:])
}

// edit sets JSON members of a user, path then value (a rawJSON value as
// it is), in a copy.
func edit(user []byte, kv ...any) []byte {
	out := append([]byte(nil), user...)
	for i := 0; i+1 < len(kv); i += 2 {
		var err error
		if raw, ok := kv[i+1].(rawJSON); ok {
			out, err = sjson.SetRawBytes(out, kv[i].(string), []byte(raw))
		} else {
			out, err = sjson.SetBytes(out, kv[i].(string), kv[i+1])
		}
		if err != nil {
			panic(err)
		}
	}
	return out
}

// rawJSON is a value edit sets as JSON text.
type rawJSON string

// answering is an upstream reply: the user for r, as edited.
func answering(status int, user func(r *http.Request) []byte) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(user(r))
	}
}

// badAnswers are 200s userbridge must not render: another user's record,
// or the addressed user with a field of the wrong type.
var badAnswers = []struct {
	name, kind, msg string
	user            func(r *http.Request) []byte
	leak            []string // what the wrong record holds that the client must never see
}{
	{name: "another user's record", kind: "other_user", msg: "the upstream answered for another user",
		user: func(r *http.Request) []byte {
			return edit(userFor(r), "id", "u-mallory", "username", "mallory", "email", "mallory@evil.example", "displayName", "Mallory")
		}, leak: []string{"mallory", "Mallory"}},
	{name: "active as a string", kind: "wrong_type", msg: `"active" must be a boolean`,
		user: func(r *http.Request) []byte { return edit(userFor(r), "active", "yes-leak") }, leak: []string{"yes-leak"}},
	{name: "attributes as an array", kind: "wrong_type", msg: `"attributes" must be an object`,
		user: func(r *http.Request) []byte { return edit(userFor(r), "attributes", rawJSON(`["attr-leak"]`)) }, leak: []string{"attr-leak"}},
	{name: "createdAt not a timestamp", kind: "bad_timestamp", msg: `"createdAt" must be an RFC 3339 timestamp`,
		user: func(r *http.Request) []byte { return edit(userFor(r), "createdAt", "last-tuesday") }, leak: []string{"last-tuesday"}},
	{name: "not JSON", kind: "malformed", msg: "the upstream's answer is not a valid user",
		user: func(*http.Request) []byte { return []byte("not-json-leak") }, leak: []string{"not-json-leak"}},
	{name: "cut short", kind: "malformed", msg: "the upstream's answer is not a valid user",
		user: func(r *http.Request) []byte {
			u := userFor(r)
			return append(u[:len(u)/2:len(u)/2], `"cut-leak`...)
		}, leak: []string{"cut-leak"}},
	{name: "updatedAt a number", kind: "wrong_type", msg: `"updatedAt" must be an RFC 3339 timestamp`,
		user: func(r *http.Request) []byte { return edit(userFor(r), "updatedAt", rawJSON(`1705311000123`)) }, leak: []string{"1705311000123"}},
}

// TestUpstreamAnswerChecked: a 200 from the upstream carrying another
// user's record, or the user with a field of the wrong type, is refused in
// every dialect with its 502, saying the update was applied; it is counted
// by kind and logged by kind, and nothing of the record reaches the client.
func TestUpstreamAnswerChecked(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, e2eConfig)
	counts := map[[2]string]float64{}
	for _, c := range badAnswers {
		t.Run(c.name, func(t *testing.T) {
			rec.set(answering(http.StatusOK, c.user))
			for _, d := range specs {
				key := newKey("answer-" + d.name)
				a, err := s.try(client, d, key, d.body)
				if err != nil {
					t.Fatal(err)
				}
				refusedAnswer(t, s, d, key, a, c.kind, c.msg, true, c.leak)
				counts[[2]string{d.name, c.kind}]++
			}
		})
	}

	// A PATCH answered 204, and the user fetched after it is another's:
	// the dialects that show the user refuse it; the others never ask.
	t.Run("the GET after a 204", func(t *testing.T) {
		rec.set(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPatch {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			answering(http.StatusOK, badAnswers[0].user)(w, r)
		})
		for _, d := range specs {
			key := newKey("get-after-" + d.name)
			a, err := s.try(client, d, key, d.body)
			if err != nil {
				t.Fatal(err)
			}
			if !d.needsUser {
				isSuccess(t, d, a)
				continue
			}
			refusedAnswer(t, s, d, key, a, "other_user", "the upstream answered for another user", true, badAnswers[0].leak)
			counts[[2]string{d.name, "other_user"}]++
		}
	})

	// Shift's password rule reads the stored user's username: a stored
	// user that is another's is refused, and the update never sent.
	t.Run("the stored user", func(t *testing.T) {
		rec.set(answering(http.StatusOK, badAnswers[0].user))
		d := specNamed(t, "shift")
		key := newKey("stored")
		a, err := s.try(client, d, key, `{"password":"Sup3r-Secret!"}`)
		if err != nil {
			t.Fatal(err)
		}
		refusedAnswer(t, s, d, key, a, "other_user", "the upstream answered for another user", false, badAnswers[0].leak)
		counts[[2]string{d.name, "other_user"}]++
		for _, up := range rec.requests() {
			if up.Method != http.MethodGet {
				t.Errorf("an update was sent after the stored user was refused: %s %s", up.Method, up.RawPath)
			}
		}
	})

	// Baasic names a tenant: a record of another tenant is another user's;
	// one of this tenant, or of none, is this one.
	t.Run("tenant", func(t *testing.T) {
		d := specNamed(t, "baasic")
		for tenant, ok := range map[string]bool{"globex": false, "demo-app": true, "": true} {
			rec.set(answering(http.StatusOK, func(r *http.Request) []byte { return edit(userFor(r), "tenant", tenant) }))
			key := newKey("tenant")
			a, err := s.try(client, d, key, d.body)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				isSuccess(t, d, a)
				continue
			}
			refusedAnswer(t, s, d, key, a, "other_user", "the upstream answered for another user", true, []string{"globex"})
			counts[[2]string{d.name, "other_user"}]++
		}
	})

	ss := scrape(t, s.base)
	for k, n := range counts {
		wantValue(t, ss, "userbridge_upstream_invalid_answers_total", map[string]string{"dialect": k[0], "kind": k[1]}, n)
	}
}

// refusedAnswer asserts the refusal of an upstream answer: the dialect's
// 502 with the message (and, when the update was applied, how to get the
// answer), nothing of the record in the answer, and the access line's code
// and upstream_error.
func refusedAnswer(t *testing.T, s *started, d dialectSpec, key string, a answer, kind, msg string, applied bool, leak []string) {
	t.Helper()
	isError(t, d, a, canonical.BadGateway, msg)
	if m := messageOf(d, a.Body); strings.Contains(m, "the update was applied") != applied {
		t.Errorf("%s: message %q; the update applied: %v", d.name, m, applied)
	}
	for _, v := range leak {
		if strings.Contains(string(a.Body), v) || strings.Contains(string(headerText(a.Header)), v) {
			t.Errorf("%s: the refused record's %q reached the client: %s", d.name, v, a.Body)
		}
	}
	line := s.logLine(t, key)
	if line["code"] != string(canonical.BadGateway) || line["upstream_error"] != "invalid answer: "+kind || line["status"] != float64(a.Status) {
		t.Errorf("%s: access line code %v, upstream_error %v, status %v", d.name, line["code"], line["upstream_error"], line["status"])
	}
	for _, v := range leak {
		if strings.Contains(s.logs.String(), v) {
			t.Errorf("%s: the refused record's %q was logged", d.name, v)
		}
	}
}

// TestRenameAnswered: an update addressed by username that renames the
// user is answered with the new username, which is the user addressed:
// through the real server and the reference backend, Baasic's rename
// succeeds and the stored user has the new name.
func TestRenameAnswered(t *testing.T) {
	f := newFaultUpstream(t)
	s := start(t, "", f.srv.URL, faultConfig)
	d := specNamed(t, "baasic")
	a := s.do(t, d.method, d.path, specHeader(d, nil), `{"userName":"jane.renamed","email":"jane.r@example.org"}`)
	if a.Status != d.success {
		t.Fatalf("rename: %d %s", a.Status, a.Body)
	}
	user, _ := f.b.User(janeID)
	if got := gjson.GetBytes(user, "username").Str; got != "jane.renamed" {
		t.Errorf("stored username %q, want jane.renamed", got)
	}
	// And back, by the new name.
	a = s.do(t, d.method, "/v1/demo-app/users/jane.renamed", specHeader(d, nil), `{"userName":"jane.doe"}`)
	if a.Status != d.success {
		t.Fatalf("rename back: %d %s", a.Status, a.Body)
	}
}

// TestAnswerCheckedEveryProfile: the check is the front end's, whatever
// the upstream profile. A SCIM server, and a Keycloak behind the rules
// profile, that answer a Finix update by id with another user's record:
// the dialect's 502, counted under the dialect and kind.
func TestAnswerCheckedEveryProfile(t *testing.T) {
	mallory := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPut: // Keycloak answers its PUT with 204, then is asked
			w.WriteHeader(http.StatusNoContent)
		case strings.HasPrefix(r.URL.Path, "/Users/"):
			w.Header().Set("Content-Type", "application/scim+json")
			_, _ = w.Write([]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u-mallory",` +
				`"userName":"mallory","displayName":"Mallory","active":true}`))
		default:
			_, _ = w.Write([]byte(`{"id":"u-mallory","username":"mallory","firstName":"Mallory","enabled":true}`))
		}
	}
	for name, profile := range map[string]func(c *config.Config){
		"scim": func(c *config.Config) {
			c.Upstream.Profile = config.ProfileSCIM
			c.Upstream.SCIM.Discover = new(bool) // mallory serves no discovery endpoints
		},
		"rules": func(c *config.Config) {
			c.Upstream.Profile = config.ProfileRules
			c.Upstream.Rules = "../../examples/upstreams/keycloak.yaml"
		},
	} {
		t.Run(name, func(t *testing.T) {
			rec := newRecorder(t)
			rec.set(mallory)
			s := start(t, "", rec.srv.URL, func(c *config.Config) { e2eConfig(c); profile(c) })
			d := specNamed(t, "finix")
			key := newKey("profile-" + name)
			a, err := s.try(client, d, key, d.body)
			if err != nil {
				t.Fatal(err)
			}
			refusedAnswer(t, s, d, key, a, "other_user", "the upstream answered for another user", true, []string{"mallory", "Mallory"})
			wantValue(t, scrape(t, s.base), "userbridge_upstream_invalid_answers_total", map[string]string{"dialect": "finix", "kind": "other_user"}, 1)
		})
	}
}
