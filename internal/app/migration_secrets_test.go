package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/userbridge/userbridge/internal/migrate"
)

// echoVendor is a vendor that answers status with a body quoting the
// request: its body whole and its X-Api-Key header, as a vendor's
// validation message may.
func echoVendor(t *testing.T, status int) string {
	t.Helper()
	v := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		msg := strings.ReplaceAll(strings.ReplaceAll("bad: "+string(b)+" key="+r.Header.Get("X-Api-Key"), `\`, `\\`), `"`, `\"`)
		_, _ = io.WriteString(w, `{"password":["is too weak"],"msg":"`+msg+`"}`)
	}))
	t.Cleanup(v.Close)
	return v.URL
}

// migSecrets are the secrets the requests below carry: passwords, a
// secret-named member deep in the body, credential headers (the
// dialect's, and one only the vendor reads).
var migSecrets = []string{"Str0ng!Passw0rd", "CrafterPw123", "NestedTok99", "TopSecretXYZ", "ExtraHdrKey77", "TTnestedTok1", "tt-wrong-key-1"}

// The diff log never holds a secret the request carried, whatever the
// outcome: userbridge refusing the request before translating it (no
// password translated to take), the vendor refusing it, both accepting
// it, one accepting what the other refused, a caller verify mode refuses,
// primary mode. The vendor's message is kept, the secrets cut out of it.
func TestMigrationDiffLogRedactsRequestSecrets(t *testing.T) {
	shiftHdr := map[string]string{"x-key": "k", "x-secret": "TopSecretXYZ", "X-Api-Key": "ExtraHdrKey77"}
	crafter := specNamed(t, "crafter")
	crafterHdr := map[string]string{"X-Api-Key": "ExtraHdrKey77"}
	for k, v := range crafter.header {
		crafterHdr[k] = v
	}
	keys := authFile(t, "tt.keys", "tt-client:"+sha256Hex(ttKey)+"\n")
	for _, c := range []struct {
		name, dialect, mode string
		vendor              int
		header              map[string]string
		body                string
		dialectYAML         []string
		note                string
	}{
		{"shift refused by both", "shift", "shadow", 400, shiftHdr,
			`{"password":"Str0ng!Passw0rd","email":"","profile":{"apiToken":["NestedTok99"]}}`, nil, ""},
		{"crafter refused by both", "crafter", "shadow", 400, crafterHdr,
			`{"username":"john.smith","password":"CrafterPw123","email":""}`, nil, ""},
		{"shift refused by userbridge", "shift", "shadow", 200, shiftHdr,
			`{"password":"Str0ng!Passw0rd","email":""}`, nil, "candidate refuses"},
		{"crafter refused by userbridge", "crafter", "shadow", 200, crafterHdr,
			`{"username":"john.smith","password":"CrafterPw123","email":""}`, nil, "candidate refuses"},
		{"crafter accepted by both", "crafter", "shadow", 200, crafterHdr,
			`{"username":"john.smith","password":"CrafterPw123","email":"johnny@example.com"}`, nil, ""},
		{"shift refused by the vendor", "shift", "shadow", 400, shiftHdr,
			`{"password":"Str0ng!Passw0rd","email":"john@example.com"}`, nil, "candidate accepts"},
		{"crafter primary", "crafter", "primary", 200, crafterHdr,
			`{"username":"john.smith","password":"CrafterPw123","email":"johnny@example.com"}`, nil, ""},
		{"trustedtwin caller refused", "trustedtwin", "shadow", 400,
			map[string]string{"Authorization": "tt-wrong-key-1", "X-Api-Key": "ExtraHdrKey77"},
			`{"name":"Jane","description":{"apiToken":"TTnestedTok1"}}`,
			[]string{"auth: {mode: verify, apiKeys: {file: " + keys + "}}"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := specNamed(t, c.dialect)
			m := startMigratingSetup(t, d, migSetup{mode: c.mode, vendorURL: echoVendor(t, c.vendor), timeout: "2s", dialect: c.dialectYAML})
			m.cand.do(t, d.method, "/mig"+d.path, c.header, c.body)
			raw, err := os.ReadFile(m.log)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range migSecrets {
				if strings.Contains(string(raw), s) {
					t.Errorf("%q in the diff log: %s", s, raw)
				}
			}
			rs := m.records(t)
			if len(rs) != 1 || rs[0].Outcome != migrate.Mismatch || rs[0].Note != c.note || rs[0].LegacyStatus != c.vendor {
				t.Fatalf("records %+v", rs)
			}
			if c.note != "candidate accepts" && (!strings.Contains(string(raw), "bad: ") || !strings.Contains(string(raw), "[redacted]")) {
				t.Errorf("the vendor's message is not there, redacted: %s", raw)
			}
			for _, df := range rs[0].Diffs {
				var msg string
				// The vendor's string, as a string: not a quoted copy of its JSON.
				if df.Path == "msg" && (json.Unmarshal(df.Legacy, &msg) != nil || !strings.HasPrefix(msg, "bad: {")) {
					t.Errorf("msg written as %s", df.Legacy)
				}
			}
		})
	}
}
