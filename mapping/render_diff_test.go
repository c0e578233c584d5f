package mapping_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/adapters/conformance"
	"github.com/userbridge/userbridge/adapters/registry"
	"github.com/userbridge/userbridge/mapping"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// renderDialect is a built-in dialect with what its golden cases render:
// the request each case sent and the user its upstream answered.
type renderDialect struct {
	name  string
	p     *mapping.Program
	cases []renderCase
}

type renderCase struct {
	name string
	in   *mapping.Input
	res  *mapping.Result
	user []byte
}

func renderDialects(tb testing.TB) []renderDialect {
	tb.Helper()
	var out []renderDialect
	for _, b := range registry.Builtins() {
		d := renderDialect{name: b.Name, p: conformance.Dialect(tb, b)}
		cases, err := conformance.LoadCases(filepath.Join("..", "adapters", b.Name, "testdata"))
		if err != nil {
			tb.Fatal(err)
		}
		for _, c := range cases {
			if c.Dialect != "" && c.Dialect != b.Name {
				continue
			}
			path := c.Path
			if path == "" {
				path = d.p.Route().Path
			}
			in := conformance.Input(d.p, path, c.RequestBody())
			res, cerr := d.p.Translate(in)
			if cerr != nil {
				continue
			}
			var user []byte
			if c.Upstream != nil && c.Upstream.User != nil {
				if user, err = json.Marshal(c.Upstream.User); err != nil {
					tb.Fatal(err)
				}
			}
			d.cases = append(d.cases, renderCase{c.Name, in, res, user})
		}
		if len(d.cases) == 0 {
			tb.Fatalf("%s: no golden case translates", b.Name)
		}
		out = append(out, d)
	}
	return out
}

// sameReply compares what RenderSuccess and the reference renderer answer
// for one user: status, content type, headers and body bytes. A user
// canonical.CheckAnswerMembers vouches for (addressed by its own id) is
// also rendered through its members (RenderChecked), as the server
// renders every answer it checked: the same bytes again.
func sameReply(t *testing.T, what string, p *mapping.Program, rc renderCase, user []byte) {
	t.Helper()
	want := p.RefRenderSuccess(rc.in, rc.res, user)
	differ(t, what, user, p.RenderSuccess(rc.in, rc.res, user), want)
	var m canonical.Members
	id := canonical.Addressed{Target: canonical.ByID, Value: gjson.GetBytes(user, "id").Str}
	if canonical.CheckAnswerMembers(user, id, &m) == nil && m.Valid {
		differ(t, what+" (checked)", user, p.RenderChecked(rc.in, rc.res, user, &m), want)
	}
}

func differ(t *testing.T, what string, user []byte, got, want *mapping.Reply) {
	t.Helper()
	if got.Status != want.Status || got.ContentType != want.ContentType ||
		fmt.Sprint(got.Headers) != fmt.Sprint(want.Headers) || !bytes.Equal(got.Body, want.Body) ||
		(got.Body == nil) != (want.Body == nil) {
		t.Fatalf("%s, user %q:\n got %d %s %v %q\nwant %d %s %v %q", what, user,
			got.Status, got.ContentType, got.Headers, got.Body,
			want.Status, want.ContentType, want.Headers, want.Body)
	}
}

// oddUsers are canonical users, and things an upstream should never send,
// that take the renderer off its usual path.
var oddUsers = []string{
	``, `null`, `[]`, `{}`, `"x"`, `{"id":`, `{"id":"a"}x`, `{"id":"a",}`,
	`{"id":"A","id":"B","roles":[{"name":"X"}],"roles":[{"name":"ROLE_ADMIN"}]}`,
	`{"\u0069d":"escaped","id":"plain"}`, `{"id":"plain","\u0069d":"escaped"}`,
	`{"i\"d":1,"id":2}`, `{"id":null,"displayName":null,"roles":null,"attributes":null,"active":null}`,
	`{"id":1e400,"tenant":-0.0e-0,"active":01,"createdAt":1.5,"updatedAt":true}`,
	`{"roles":[{"id":"r1","name":"ROLE_PARTNER"},{"name":"ROLE_ADMIN"}],"extensions":{"finix":{"identity":"ID1"},"trustedtwin":{"activity":[1,{"a":null}]},"crafter":{"x":1},"shift":{"y":2},"baasic":{"z":3}}}`,
	`{"roles":[1,"ROLE_ADMIN",{"name":1},{"name":"ROLE_MERCHANT","name":"ROLE_ADMIN"},{"name":"ROLE_ADMIN"}]}`,
	`{"roles":{"name":"ROLE_ADMIN"},"attributes":[1,2]}`, `{"roles":[],"attributes":{}}`,
	`{"createdAt":"2024-01-15T09:30:00Z","updatedAt":"1969-12-31T23:59:59.999-01:00"}`,
	`{"createdAt":"2024-01-15T09:30:00.123456789+05:30","updatedAt":"not a time"}`,
	`{"givenName":"J\u00e9r\u00f4me","familyName":"\ud83d\ude00 \"q\" \\ \n","displayName":"<>&\u2028"}`,
	`{"username":"a b/c?d&e","email":"x@y","id":"id/../x","tenant":"t%2F"}`,
	` { "id" : "spaced" , "active" : true } `,
	`{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":[[[[[[[[]]]]]]]]}}}}}}},"id":"deep"}`,
	`{"id":"x","extensions":{"finix":{"identity":null}},"extensions":{"finix":{"identity":"second"}}}`,
	`{"status":"ACTIVE","active":false,"locked":true,"deleted":true,"verified":"yes"}`,
	`{"m00":0,"m01":1,"m02":2,"m03":3,"m04":4,"m05":5,"m06":6,"m07":7,"m08":8,"m09":9,"m10":0,"m11":1,"m12":2,"m13":3,"m14":4,"m15":5,"m16":6,"m17":7,"m18":8,"m19":9,"m20":0,"m21":1,"m22":2,"m23":3,"m24":4,"m25":5,"m26":6,"m27":7,"m28":8,"m29":9,"m30":0,"m31":1,"id":"33rd"}`,
	"{\"id\":\"\xff\xfe\",\"username\":\"\x00\"}",
	// A top-level key twice, the path below it in the second only: the
	// first is read when the guard's scanner reads the user, gjson's
	// answer (the second) when it refuses it (invalid UTF-8, a nested
	// duplicate, a number a backend cannot hold).
	`{"extensions":{"x":{}},"extensions":{"finix":{"identity":"I"},"trustedtwin":{"activity":1}},"roles":[{"id":"r"}]}`,
	"{\"extensions\":{\"\xe9\":{}},\"extensions\":{\"finix\":{\"identity\":\"I\"}}}",
	`{"extensions":{"x":{"a":1,"a":2}},"extensions":{"finix":{"identity":"I"}}}`,
	`{"extensions":{"x":1e400},"extensions":{"finix":{"identity":"I"}},"roles":{"0":{}},"roles":[{"id":"r"}]}`,
	`{"roles":[],"roles":[{"id":"r","name":"ROLE_ADMIN"}],"id":"\u0000"}`,
}

// TestRenderMatchesReference renders every golden user of every dialect,
// and the odd users through every dialect's golden requests, with
// RenderSuccess and the renderer as it was: the bytes must not differ.
func TestRenderMatchesReference(t *testing.T) {
	for _, d := range renderDialects(t) {
		n := 0
		for _, rc := range d.cases {
			sameReply(t, d.name+"/"+rc.name, d.p, rc, rc.user)
			n++
			for _, u := range oddUsers {
				sameReply(t, d.name+"/"+rc.name+" (odd user)", d.p, rc, []byte(u))
			}
		}
		if n == 0 {
			t.Errorf("%s: no golden user rendered", d.name)
		}
	}
}

// FuzzRenderDiff renders arbitrary users through every dialect, with the
// request of one of its golden cases, and compares with the reference.
func FuzzRenderDiff(f *testing.F) {
	ds := renderDialects(f)
	for _, d := range ds {
		for _, rc := range d.cases {
			if rc.user != nil {
				f.Add(rc.user, uint8(0))
			}
		}
	}
	for i, u := range oddUsers {
		f.Add([]byte(u), uint8(i))
	}
	f.Add([]byte(strings.Repeat(`{"a":`, 40)+"1"+strings.Repeat("}", 40)), uint8(1))
	f.Fuzz(func(t *testing.T, user []byte, pick uint8) {
		for _, d := range ds {
			rc := d.cases[int(pick)%len(d.cases)]
			sameReply(t, d.name, d.p, rc, user)
		}
	})
}
