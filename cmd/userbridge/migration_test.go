package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// migrationLog is a diff log: finix 3 of 4 compared matched (created_at
// differed twice, the 2nd element of roles once), one vendor error;
// baasic 2 of 2.
const migrationLog = `{"time":"2026-01-01T00:00:00Z","request_id":"r1","dialect":"finix","mode":"shadow","outcome":"match","legacy_status":200,"candidate_status":200}
{"time":"2026-01-01T00:00:00Z","request_id":"r2","dialect":"finix","mode":"shadow","outcome":"mismatch","legacy_status":200,"candidate_status":200,"diffs":[{"path":"created_at","legacy":"a","candidate":"b"},{"path":"roles.1","legacy":"x"}]}
{"time":"2026-01-01T00:00:00Z","request_id":"r3","dialect":"finix","mode":"shadow","outcome":"match","legacy_status":200,"candidate_status":200}
{"time":"2026-01-01T00:00:00Z","request_id":"r4","dialect":"finix","mode":"shadow","outcome":"legacy_error","legacy_status":0,"candidate_status":0}
{"time":"2026-01-01T00:00:00Z","request_id":"r5","dialect":"finix","mode":"shadow","outcome":"match","legacy_status":200,"candidate_status":200}
{"time":"2026-01-01T00:00:00Z","request_id":"r7","dialect":"baasic","mode":"shadow","outcome":"match","legacy_status":204,"candidate_status":204}
{"time":"2026-01-01T00:00:00Z","request_id":"r8","dialect":"baasic","mode":"shadow","outcome":"match","legacy_status":204,"candidate_status":204}
`

func TestMigrationReport(t *testing.T) {
	file := filepath.Join(t.TempDir(), "migration.log")
	if err := os.WriteFile(file, []byte(migrationLog+`{"time":"2026-01-01T00:00:00Z","request_id":"r6","dialect":"finix","mode":"shadow","outcome":"mismatch","legacy_status":200,"candidate_status":200,"diffs":[{"path":"created_at","legacy":"a","candidate":"c"}]}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"--log", file, "--min-compared", "2", "--min-match", "0.5"}, 0, []string{
			"baasic: compared 2, matched 2 (100.00%)",
			"finix: compared 5, matched 3 (60.00%)",
			"outcomes: match 3, mismatch 2, candidate_error 0, legacy_error 1, not_comparable 0",
			"created_at", "2  e.g. request r2", "roles.#", "gate: pass"}},
		{[]string{"--log", file, "--min-match", "0.9"}, 1, []string{"gate: fail: finix: matched 60.00% < 90.00%"}},
		{[]string{"--log", file, "--min-compared", "3", "--min-match", "0"}, 1, []string{"gate: fail: baasic: compared 2 < 3"}},
		{[]string{"--min-match", "0.9"}, 2, nil},
		{[]string{"--log", file, "--min-match", "2"}, 2, nil},
	} {
		var out, errb bytes.Buffer
		code := run(append([]string{"migration", "report"}, c.args...), strings.NewReader(""), &out, &errb)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d\n%s%s", c.args, code, c.code, out.String(), errb.String())
		}
		for _, w := range c.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%v: no %q in\n%s", c.args, w, out.String())
			}
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"migration", "report", "--log", "-"}, strings.NewReader(migrationLog), &out, &errb); code != 1 {
		t.Errorf("stdin: exit %d\n%s", code, out.String())
	}
	if code := run([]string{"migration"}, strings.NewReader(""), &out, &errb); code != 2 {
		t.Errorf("no subcommand: exit %d", code)
	}
}

// The gate never passes on no evidence: an empty log, a log of lines that
// are no record, or one whose shadow candidate_error is a miss.
func TestMigrationReportNoEvidence(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.log")
	garbled := filepath.Join(dir, "garbled.log")
	shadowErr := filepath.Join(dir, "shadow.log")
	for f, body := range map[string]string{
		empty:     "",
		garbled:   migrationLog[:strings.Index(migrationLog, "\n")+1] + "{not json\n{\"dialect\":\"finix\"}\n",
		shadowErr: `{"request_id":"a","dialect":"finix","mode":"shadow","outcome":"match","legacy_status":200,"candidate_status":200}` + "\n" + `{"request_id":"b","dialect":"finix","mode":"shadow","outcome":"candidate_error","legacy_status":200,"candidate_status":502}` + "\n",
	} {
		if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--log", empty, "--min-compared", "0", "--min-match", "0"}, "gate: fail: no comparisons in " + empty},
		{[]string{"--log", garbled, "--min-match", "0"}, "gate: fail: 2 unreadable lines"},
		{[]string{"--log", shadowErr, "--min-match", "0.9"}, "gate: fail: finix: matched 50.00% < 90.00%"},
	} {
		var out, errb bytes.Buffer
		if code := run(append([]string{"migration", "report"}, c.args...), strings.NewReader(""), &out, &errb); code != 1 {
			t.Errorf("%v: exit %d, want 1\n%s%s", c.args, code, out.String(), errb.String())
		}
		if !strings.Contains(out.String(), c.want) {
			t.Errorf("%v: no %q in\n%s", c.args, c.want, out.String())
		}
	}
}

// validate checks the vendor's TLS as serve builds it: legacy.tls alone,
// whatever upstream.tls says.
func TestValidateLegacyTLS(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		legacy string
		code   int
		want   string
	}{
		{`{url: "http://vendor.example", mode: shadow}`, 0, "valid"},
		{`{url: "http://vendor.example", mode: shadow, tls: {serverName: v}}`, 1, "dialects.finix.legacy.tls: set, but URL is not https"},
		{`{url: "https://vendor.example", mode: shadow, tls: {caFile: "` + ca + `"}}`, 1, "dialects.finix.legacy.tls.caFile: " + ca + " holds no PEM certificate"},
	} {
		cfg := filepath.Join(dir, "c.yaml")
		body := "upstream: {url: \"https://up.example\", tls: {serverName: up}}\ndialects:\n  finix:\n    legacy: " + c.legacy + "\n"
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		code := run([]string{"validate", "--config", cfg}, strings.NewReader(""), &out, &errb)
		if code != c.code || !strings.Contains(out.String()+errb.String(), c.want) {
			t.Errorf("%s: exit %d, want %d with %q\n%s%s", c.legacy, code, c.code, c.want, out.String(), errb.String())
		}
	}
}
