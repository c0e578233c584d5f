package migrate

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func paths(ds []Diff) string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Path)
	}
	return strings.Join(out, ",")
}

func TestCompare(t *testing.T) {
	for _, c := range []struct {
		name       string
		ls, cs     int
		lb, cb     string
		ignore     []string
		wantPaths  string
		wantValues string // the first diff's values, legacy|candidate
	}{
		{"same", 200, 200, `{"a":1,"b":[1,2]}`, `{"b":[1,2],"a":1}`, nil, "", ""},
		{"numbers as numbers", 200, 200, `{"a":1.0,"b":1e2}`, `{"a":1,"b":100}`, nil, "", ""},
		{"strings exactly", 200, 200, `{"a":"X"}`, `{"a":"x"}`, nil, "a", `"X"|"x"`},
		{"string against number", 200, 200, `{"a":"1"}`, `{"a":1}`, nil, "a", `"1"|1`},
		{"status first", 200, 404, `{}`, `{}`, nil, "status", `200|404`},
		{"arrays by position", 200, 200, `{"r":[{"n":"a"},{"n":"b"}]}`, `{"r":[{"n":"b"},{"n":"a"}]}`, nil, "r.0.n,r.1.n", `"a"|"b"`},
		{"missing member", 200, 200, `{"a":1,"b":2}`, `{"a":1}`, nil, "b", `2|`},
		{"extra element", 200, 200, `[1]`, `[1,2]`, nil, "1", `|2`},
		{"null is a value", 200, 200, `{"a":null}`, `{}`, nil, "a", `null|`},
		{"ignored", 200, 200, `{"a":1,"l":{"h":"x"},"e":[{"l":1,"k":1}]}`, `{"a":1,"l":{"h":"y"},"e":[{"l":2,"k":1}]}`, []string{"l", "e.*.l"}, "", ""},
		{"not JSON", 200, 200, `OK`, `ok`, nil, "body", `"OK"|"ok"`},
		{"empty both", 204, 204, ``, ``, nil, "", ""},
		{"object against array", 200, 200, `{"a":{}}`, `{"a":[]}`, nil, "a", `{}|[]`},
	} {
		t.Run(c.name, func(t *testing.T) {
			ds := Compare(&Answer{Status: c.ls, Body: []byte(c.lb)}, &Answer{Status: c.cs, Body: []byte(c.cb)}, c.ignore)
			if got := paths(ds); got != c.wantPaths {
				t.Fatalf("paths %q, want %q", got, c.wantPaths)
			}
			if c.wantValues != "" {
				if got := string(ds[0].Legacy) + "|" + string(ds[0].Candidate); got != c.wantValues {
					t.Errorf("values %s, want %s", got, c.wantValues)
				}
			}
		})
	}
}

type counts struct{ outcomes, fields map[string]int }

func (c *counts) Comparison(_, o string)    { c.outcomes[o]++ }
func (c *counts) FieldMismatch(_, f string) { c.fields[f]++ }

// The diff log never holds a secret: members named like one are replaced,
// and the request's own secrets are cut out of any value.
func TestRecordRedacts(t *testing.T) {
	var buf bytes.Buffer
	obs := &counts{map[string]int{}, map[string]int{}}
	r := NewRecorder(&buf, obs)
	diffs := Compare(&Answer{Status: 200, Body: []byte(`{"password":"hunter22","note":"token Bearer abc123 here","roles":["a"]}`)},
		&Answer{Status: 200, Body: []byte(`{"password":"other","note":"x","roles":["b"]}`)}, nil)
	r.Record(Record{Dialect: "d", Outcome: Mismatch, Diffs: diffs}, func(s string) string {
		return strings.ReplaceAll(s, "abc123", "[redacted]")
	})
	line := buf.String()
	for _, secret := range []string{"hunter22", "other", "abc123"} {
		if strings.Contains(line, secret) {
			t.Errorf("%q in the log: %s", secret, line)
		}
	}
	var rec Record
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.Diffs) != 3 || obs.outcomes[Mismatch] != 1 || obs.fields["roles.#"] != 1 || obs.fields["password"] != 1 {
		t.Errorf("record %+v, counts %+v", rec, obs)
	}
}

// The field label takes at most maxFieldLabels values; the rest are other.
func TestFieldLabelBounded(t *testing.T) {
	obs := &counts{map[string]int{}, map[string]int{}}
	r := NewRecorder(&bytes.Buffer{}, obs)
	for i := range maxFieldLabels + 10 {
		r.Record(Record{Dialect: "d", Outcome: Mismatch, Diffs: []Diff{{Path: "m" + strings.Repeat("x", i)}}}, nil)
	}
	if len(obs.fields) != maxFieldLabels+1 || obs.fields[OtherField] != 10 {
		t.Errorf("%d labels, other %d", len(obs.fields), obs.fields[OtherField])
	}
}

// A whole missing subtree, or a whole body, keeps no secret member at any
// depth; a body that is not JSON is written as its length and a digest.
func TestRecordRedactsSubtrees(t *testing.T) {
	var buf bytes.Buffer
	r := NewRecorder(&buf, nil)
	diffs := Compare(&Answer{Status: 200, Body: []byte(`{"user":{"name":"a","creds":[{"apiKey":"k-hunter22"}],"Password":"p-hunter22"}}`)},
		&Answer{Status: 200, Body: []byte(`{}`)}, nil)
	diffs = append(diffs, Compare(&Answer{Status: 200, Body: []byte(`[{"token":"t-hunter22"}]`)},
		&Answer{Status: 200, Body: []byte(`{"x":{"client_secret":"s-hunter22"}}`)}, nil)...)
	diffs = append(diffs, Compare(&Answer{Status: 500, Body: []byte(`password=plain-hunter22`)},
		&Answer{Status: 200, Body: []byte(`{"ok":true}`)}, nil)...)
	r.Record(Record{Dialect: "d", Outcome: Mismatch, Diffs: diffs}, nil)
	line := buf.String()
	if strings.Contains(line, "hunter22") {
		t.Errorf("a secret in the log: %s", line)
	}
	for _, want := range []string{`"name":"a"`, `"apiKey":"[redacted]"`, `"bytes":23,"sha256":"`} {
		if !strings.Contains(line, want) {
			t.Errorf("no %s in %s", want, line)
		}
	}
}

// Every member the docs call secret is redacted in the diff log, in any
// case and with any separators: credentials a vendor answer carries under
// names other than password and token (the auth object whole, and each of
// its members where it is named otherwise).
func TestRecordRedactsSecretNames(t *testing.T) {
	members := `{"Authorization":"Basic QQ==","cookie":"JSESSIONID=abc","x-api-key":"XAK1","private_key":"PK1",` +
		`"passphrase":"PP1","sessionId":"SID1","pwd":"PWD1","ApiKey":"AK1","bearer_token":"BT1","clientSecret":"CS1","team":"blue"}`
	for _, body := range []string{`{"meta":{"auth":` + members + `}}`, `{"meta":{"creds":` + members + `}}`} {
		var buf bytes.Buffer
		r := NewRecorder(&buf, nil)
		diffs := Compare(&Answer{Status: 200, Body: []byte(body)}, &Answer{Status: 200, Body: []byte(`{}`)}, nil)
		r.Record(Record{Dialect: "d", Outcome: Mismatch, Diffs: diffs}, nil)
		line := buf.String()
		for _, secret := range []string{"QQ==", "JSESSIONID=abc", "XAK1", "PK1", "PP1", "SID1", "PWD1", "AK1", "BT1", "CS1"} {
			if strings.Contains(line, secret) {
				t.Errorf("%q in the log: %s", secret, line)
			}
		}
		if strings.Contains(body, "creds") && !strings.Contains(line, `"team":"blue"`) {
			t.Errorf("a member that is no secret was redacted: %s", line)
		}
	}
}

// A value with a secret of the request's in it is written as the value
// the answer gave, the secret cut out: a string stays a string (not a
// quoted copy of its JSON), an object an object; a number holding one is
// replaced whole.
func TestRecordRedactsInPlace(t *testing.T) {
	var buf bytes.Buffer
	r := NewRecorder(&buf, nil)
	diffs := Compare(&Answer{Status: 400, Body: []byte(`{"msg":"bad: {\"username\":\"john\",\"password\":\"abc123\"}","o":{"m":"x abc123 y","n":1},"pin":12345678}`)},
		&Answer{Status: 400, Body: []byte(`{}`)}, nil)
	r.Record(Record{Dialect: "d", Outcome: Mismatch, Diffs: diffs}, func(s string) string {
		return strings.NewReplacer("abc123", "[redacted]", "12345678", "[redacted]").Replace(s)
	})
	var rec Record
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"msg": `"bad: {\"username\":\"john\",\"password\":\"[redacted]\"}"`,
		"o":   `{"m":"x [redacted] y","n":1}`,
		"pin": `"[redacted]"`,
	}
	if len(rec.Diffs) != len(want) {
		t.Fatalf("diffs %+v", rec.Diffs)
	}
	for _, d := range rec.Diffs {
		if string(d.Legacy) != want[d.Path] {
			t.Errorf("%s: %s, want %s", d.Path, d.Legacy, want[d.Path])
		}
	}
}
