package canonical

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// checkAnswerReference is CheckAnswer as it was before its fast path
// (acceptAnswer): the reference whose verdicts CheckAnswer must keep.
func checkAnswerReference(user []byte, want Addressed) *AnswerError {
	if err, fault := validateUser(user); err != nil {
		return answerError(err, fault)
	}
	key := "id"
	if want.Target == ByUsername {
		key = "username"
	}
	got := gjson.GetBytes(user, key)
	switch {
	case got.Type != gjson.String || got.Str == "":
		return &AnswerError{Fault: FaultUnidentified}
	case want.Target == ByUsername && !strings.EqualFold(got.Str, want.Value),
		want.Target != ByUsername && got.Str != want.Value:
		return &AnswerError{Fault: FaultOtherUser}
	}
	if want.Tenant != "" {
		if t := gjson.GetBytes(user, "tenant"); t.Type == gjson.String && t.Str != "" && t.Str != want.Tenant {
			return &AnswerError{Fault: FaultOtherUser}
		}
	}
	return nil
}

const testJane = `{"id":"u1","username":"jane.doe","tenant":"acme","active":true,"attributes":{"a":"b"},` +
	`"createdAt":"2024-01-15T09:30:00.000Z","updatedAt":null}`

// answerSeeds are users CheckAnswer accepts or refuses, for every fault.
var answerSeeds = []string{
	benchUser, testJane, testUser, `{}`, `  {"id":"u1"}  `, "\t{\n\"id\" : \"u1\"\r}\n",
	`{"id":"u1","tenant":"t","createdBy":"admin","lastLoginAt":null,"createdAt":"2024-01-15T09:30:00Z",` +
		`"updatedAt":"2024-01-15T09:30:00.123+02:00","address":{"a":[1]},"locked":false,"roles":[]}`,
	`{"id":"u1","extensions":{"shift":{"a":1,"b":"x","c":[true,{"d":-1.5e3}]}}}`,
	`{"id":"u1","extensions":{"shift":{"a":9007199254740993}}}`,
	`{"id":"u1","extensions":{"shift":{"a":900719925474099}}}`,
	`{"id":"u1","extensions":{"shift":{"a":[1e400]}}}`, `{"id":"u1","extensions":{"shift":{"a":{"b":-1e-400}}}}`,
	`{"id":"u1","extensions":{"shift":{"a":1.0000000000000001}}}`,
	`{"id":"u1","extensions":{"shift":{"a":"\u0000"}}}`, `{"id":"u1","extensions":{"shift":{"a":"\\u0000"}}}`,
	`{"id":"u1","extensions":{"shift":{"a":null}}}`, `{"id":"u1","extensions":{"Shift":{}}}`,
	`{"id":"u1","extensions":{"shift":{"a.b":1}}}`, `{"id":"u1","extensions":{"shift":{},"shift":{}}}`,
	`{"id":"u1","extensions":{"shift":{"a":1,"a":2}}}`, `{"id":"u1","extensions":{"shift":{"a":{"b":1,"b":1}}}}`,
	`{"id":"u1","extensions":{"s":{"a":1}},"extensions":{}}`, `{"id":"u1","extensions":[]}`,
	// duplicate keys at depth
	`{"id":"u1","id":"u1"}`, `{"id":"u1","attributes":{"a":1,"a":1}}`,
	`{"id":"u1","address":{"a":[{"b":1},{"b":1,"c":{"d":1,"d":2}}]}}`,
	`{"id":"u1","attributes":{"a":1,"\u0061":2}}`, `{"id":"u1","\u0069d":"u1"}`,
	// password, unknown fields, escapes in keys
	`{"id":"u1","password":"hunter2"}`, `{"id":"u1","\u0070assword":"x"}`, `{"id":"u1","secret_sauce":"x"}`,
	`{"\u0069d":"u1"}`, `{"id":"u1","em\u0061il":"a@b"}`,
	// wrong types
	`{"id":1}`, `{"id":"u1","active":"true"}`, `{"id":"u1","active":null}`, `{"id":"u1","email":1}`,
	`{"id":"u1","email":null}`, `{"id":"u1","attributes":["a"]}`, `{"id":"u1","roles":{}}`,
	`{"id":"u1","roles":[{"name":1}]}`, `{"id":"u1","roles":[{}]}`, `{"id":"u1","roles":[{"id":""}]}`,
	`{"id":"u1","roles":[{"id":"r","id":"r"}]}`, `{"id":"u1","roles":[{"id":"r","x":"y"}]}`,
	`{"id":"u1","roles":[{"description":"d"}]}`, `{"id":"u1","roles":[{"name":"\u0052","description":""}]}`,
	`{"id":"u1","roles":["r"]}`, `{"id":"u1","tenant":true}`, `{"id":"u1","createdBy":{}}`,
	// timestamps
	`{"id":"u1","createdAt":"yesterday"}`, `{"id":"u1","updatedAt":1705311000}`,
	`{"id":"u1","lastLoginAt":"2024-01-15"}`, `{"id":"u1","createdAt":"2024-02-29T00:00:00Z"}`,
	`{"id":"u1","createdAt":"2023-02-29T00:00:00Z"}`, `{"id":"u1","createdAt":"2024-01-15T24:00:00Z"}`,
	`{"id":"u1","createdAt":"2024-01-15T09:30:00,5Z"}`, `{"id":"u1","createdAt":"2024-01-15t09:30:00z"}`,
	`{"id":"u1","createdAt":"2024-01-15T09:30:00.Z"}`, `{"id":"u1","createdAt":"2024-01-15T09:30:00+24:00"}`,
	`{"id":"u1","createdAt":"2024-01-15T09:30:00.1234567890123-23:59"}`,
	`{"id":"u1","createdAt":"2024-01-15T09:30:00\u005a"}`,
	// other user, unidentified, tenants
	`{"id":"u2","username":"jane.doe"}`, `{"id":"U1","username":"Jane.Doe"}`, `{"id":"u1","username":"john"}`,
	`{"id":"u1","username":"jane.doe","tenant":"globex"}`, `{"id":"u1","username":"jane.doe","tenant":""}`,
	`{"id":"u1","username":"jane.doe","tenant":null}`, `{"username":"jane.doe"}`, `{"id":null}`, `{"id":""}`,
	`{"id":"u\u0031","username":"jane\u002edoe","tenant":"a\u0063me"}`, `{"id":"u1","username":"JANE.DOE"}`,
	`{"id":"u1","username":"ǅane.doe"}`, `{"id":"u1","username":"K"}`,
	// malformed: not an object, trailing data, invalid UTF-8, deep nesting
	`[{"id":"u1"}]`, `"u1"`, `null`, ``, `{"id":"u1"`, `{"id":"u1"}{}`, `{"id":"u1"} x`, `{"id":"u1",}`,
	`{"id":"u1","attributes":{"a":[1,]}}`, `{"id":"u1","attributes":{"a":01}}`, `{"id":"u1","attributes":{"a":-}}`,
	`{"id":"u1","attributes":{"a":1.}}`, `{"id":"u1","attributes":{"a":1e}}`, `{"id":"u1","attributes":{"a":tru}}`,
	"{\"id\":\"u\xff1\"}", "{\"id\":\"u1\",\"email\":\"a\tb\"}", `{"id":"u1","email":"\x"}`, `{"id":"u1","email":"\u12"}`,
	"\xef\xbb\xbf{\"id\":\"u1\"}", "{\"id\":\"u1\"}\x00", `{"id":"u1","attributes":{"a":"[[[["}}`,
	`{"id":"u1","attributes":` + strings.Repeat(`[`, 30) + strings.Repeat(`]`, 30) + `}`,
	`{"id":"u1","attributes":{"a":` + strings.Repeat(`[`, 30) + strings.Repeat(`]`, 30) + `}}`,
	`{"id":"u1","attributes":{"a":` + strings.Repeat(`[`, 31) + strings.Repeat(`]`, 31) + `}}`,
	`{"id":"u1","extensions":{"s":{"a":` + strings.Repeat(`[`, 28) + strings.Repeat(`]`, 28) + `}}}`,
	`{"id":"u1","extensions":{"s":{"a":` + strings.Repeat(`[`, 29) + strings.Repeat(`]`, 29) + `}}}`,
	// numbers, nulls
	`{"id":"u1","attributes":{"n":[0,-0,1.5,-2e-3,1E+400,12345678901234567890,null,true,false]}}`,
	`{"id":"u1","address":null}`, `{"id":"u1","roles":null}`, `{"id":"u1","extensions":null}`,
}

// answerWants are the calls the seeds answer.
var answerWants = []Addressed{
	{Value: "USsRhsHYZGBPnQw8CFHjD7Un"}, {Target: ByID, Value: "u1"}, {Target: ByID, Value: "u1", Tenant: "acme"},
	{Target: ByUsername, Value: "Jane.Doe", Tenant: "acme"}, {Target: ByUsername, Value: "jane.doe"},
	{Target: ByUsername, Value: "merchant.admin", Tenant: "t"}, {Target: ByUsername, Value: "k"},
}

// sameVerdict fails t unless CheckAnswer and checkAnswerReference give
// user and want the same verdict.
func sameVerdict(t *testing.T, user []byte, want Addressed) {
	t.Helper()
	got, ref := CheckAnswer(user, want), checkAnswerReference(user, want)
	if (got == nil) != (ref == nil) || got != nil && (*got != *ref || got.Message() != ref.Message()) {
		t.Fatalf("CheckAnswer(%q, %+v) = %+v, the reference says %+v", user, want, got, ref)
	}
	sameMembers(t, user, want, got)
}

// memberNames are the names a canonical user can have at its top level
// (answer.go's userMember), and some it cannot.
var memberNames = []string{"id", "username", "tenant", "email", "givenName", "familyName", "displayName",
	"phone", "mobile", "organization", "active", "locked", "deleted", "address", "attributes", "roles",
	"extensions", "createdBy", "createdAt", "updatedAt", "lastLoginAt", "password", "status", "Id", ""}

// sameMembers checks CheckAnswerMembers against CheckAnswer's verdict got:
// the same verdict, and where it says Valid, every member where gjson finds
// it, byte for byte, and no other.
func sameMembers(t *testing.T, user []byte, want Addressed, got *AnswerError) {
	t.Helper()
	m := Members{Valid: true}
	m.span[3].to = 99 // what a previous use left: cleared
	gotM := CheckAnswerMembers(user, want, &m)
	if (gotM == nil) != (got == nil) || gotM != nil && *gotM != *got {
		t.Fatalf("CheckAnswerMembers(%q, %+v) = %+v, CheckAnswer says %+v", user, want, gotM, got)
	}
	if !m.Valid {
		if m != (Members{}) {
			t.Fatalf("CheckAnswerMembers(%q): not Valid, yet members set: %+v", user, m)
		}
		return
	}
	if got != nil {
		t.Fatalf("CheckAnswerMembers(%q): Valid for a refused user (%v)", user, got)
	}
	if !m.Of(user) || m.Of(user[:len(user)-1]) || m.Of(append(user[:len(user):len(user)], ' ')) {
		t.Fatalf("CheckAnswerMembers(%q): Of tells this user from another badly", user)
	}
	for _, name := range memberNames {
		i := MemberIndex(name)
		want := gjson.GetBytes(user, name)
		if i < 0 {
			if want.Exists() && name != "" {
				t.Fatalf("%q: a Valid user with member %q, which has no MemberIndex", user, name)
			}
			continue
		}
		if raw := m.Raw(string(user), i); raw != want.Raw {
			t.Fatalf("%q: member %q is %q, gjson reads %q", user, name, raw, want.Raw)
		}
	}
}

func TestCheckAnswerSameVerdict(t *testing.T) {
	for _, s := range answerSeeds {
		for _, want := range answerWants {
			sameVerdict(t, []byte(s), want)
		}
	}
}

// acceptAnswer reports whether the fast path alone accepts user.
func acceptAnswer(user []byte, want Addressed) bool {
	var s answerScan
	return s.walk(user) && s.addressed(want) == nil
}

// TestAcceptAnswer checks that the fast path does take the valid answers
// (else CheckAnswer is only as fast as before), and never allocates.
func TestAcceptAnswer(t *testing.T) {
	for _, tc := range []struct {
		user string
		want Addressed
	}{
		{benchUser, answerWants[0]},
		{benchUser, Addressed{Target: ByUsername, Value: "Merchant.Admin", Tenant: "t"}},
		{testJane, answerWants[2]},
		{testJane, answerWants[3]},
		{`{"id":"u1","extensions":{"shift":{"a":1,"b":"x","c":[true,{"d":-1.5}]}},"roles":[{"id":"r"},{"name":"n","description":""}]}`, answerWants[1]},
		{`{"id":"u1","createdAt":"2024-02-29T23:59:59.123456789123-23:59","updatedAt":"0000-12-31T00:00:00+00:00"}`, answerWants[1]},
	} {
		if !acceptAnswer([]byte(tc.user), tc.want) {
			t.Errorf("acceptAnswer(%s, %+v) = false, want true", tc.user, tc.want)
		}
	}
	u := []byte(benchUser)
	if n := testing.AllocsPerRun(100, func() { CheckAnswer(u, answerWants[0]) }); n != 0 {
		t.Errorf("CheckAnswer(benchUser) allocates %v times, want 0", n)
	}
}

// TestRFC3339 checks that every timestamp rfc3339 accepts, time.Parse
// accepts too, over timestamps near the form's edges.
func TestRFC3339(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pick := func(s ...string) string { return s[r.IntN(len(s))] }
	accepted := 0
	for range 200000 {
		ts := fmt.Sprintf("%s-%s-%sT%s:%s:%s%s%s",
			pick("2024", "2023", "1900", "2000", "0000", "9999", "20x4", "202"),
			pick("01", "02", "04", "12", "13", "00", "1"), pick("01", "28", "29", "30", "31", "32", "00"),
			pick("00", "23", "24"), pick("00", "59", "60"), pick("00", "59", "60", "5"),
			pick("", ".", ".1", ".123456789", ".1234567890123", ",5"),
			pick("Z", "z", "", "+00:00", "-23:59", "+24:00", "+01:60", "+0100", "Z "))
		_, err := time.Parse(time.RFC3339Nano, ts)
		ok := rfc3339([]byte(ts))
		if ok && err != nil {
			t.Fatalf("rfc3339(%q) = true, time.Parse says %v", ts, err)
		}
		if ok {
			accepted++
		}
	}
	if accepted == 0 {
		t.Fatal("rfc3339 accepted no timestamp")
	}
}

func FuzzCheckAnswerSameVerdict(f *testing.F) {
	for _, s := range answerSeeds {
		for _, want := range answerWants {
			f.Add([]byte(s), uint8(want.Target), want.Value, want.Tenant)
		}
	}
	f.Fuzz(func(t *testing.T, user []byte, target uint8, value, tenant string) {
		sameVerdict(t, user, Addressed{Target: Target(target % 3), Value: value, Tenant: tenant})
	})
}

// BenchmarkCheckAnswerRefused is the price of two refusals: another
// user's answer, which the walk refuses itself, and an unknown field last,
// where the walk gives up and checkAnswer (the reference) names the fault.
func BenchmarkCheckAnswerRefused(b *testing.B) {
	unknown := []byte(strings.TrimSuffix(benchUser, "}") + `,"nickname":"x"}`)
	for _, c := range []struct {
		name  string
		user  []byte
		want  Addressed
		check func([]byte, Addressed) *AnswerError
	}{
		{"other_user", []byte(benchUser), Addressed{Value: "another"}, CheckAnswer},
		{"other_user/reference", []byte(benchUser), Addressed{Value: "another"}, checkAnswerReference},
		{"unknown_field", unknown, answerWants[0], CheckAnswer},
		{"unknown_field/reference", unknown, answerWants[0], checkAnswerReference},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if c.check(c.user, c.want) == nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}

// TestMemberIndexCoversTheContract ties memberAt's hand-written switch to
// the contract's lists: every writable field's top-level name but password,
// every read-only field and extensions has an index of its own, and the
// walk knows no other name.
func TestMemberIndexCoversTheContract(t *testing.T) {
	names := map[string]bool{"extensions": true}
	for _, f := range Fields {
		if top, _, _ := strings.Cut(f.Name, "."); top != "password" {
			names[top] = true
		}
	}
	for _, r := range ReadOnly {
		names[r] = true
	}
	seen := map[int]string{}
	for name := range names {
		i := MemberIndex(name)
		if i < 0 || i >= numMembers {
			t.Errorf("MemberIndex(%q) = %d", name, i)
			continue
		}
		if other, dup := seen[i]; dup {
			t.Errorf("%q and %q share index %d", name, other, i)
		}
		seen[i] = name
	}
	if len(names) != numMembers {
		t.Errorf("%d names in the contract, %d members in the walk", len(names), numMembers)
	}
	for _, name := range []string{"password", "", "ID", "roles2", "user", "extension"} {
		if i := MemberIndex(name); i >= 0 {
			t.Errorf("MemberIndex(%q) = %d, want -1", name, i)
		}
	}
}
