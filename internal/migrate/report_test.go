package migrate

import (
	"bytes"
	"strings"
	"testing"

	"github.com/userbridge/userbridge/internal/telemetry"
)

// A log written from 4 MiB bodies stays readable by the report: each
// value is capped, and so is the number of differences a line holds.
func TestReportReadsLogOfLargeBodies(t *testing.T) {
	var buf bytes.Buffer
	r := NewRecorder(&buf, nil)
	// One member of 4 MiB that JSON escapes six times over.
	big := func(c string) []byte { return []byte(`{"blob":"` + strings.Repeat(c, 4<<20) + `"}`) }
	r.Record(Record{Dialect: "d", Mode: "shadow", Outcome: Mismatch,
		Diffs: Compare(&Answer{Status: 200, Body: big("<")}, &Answer{Status: 200, Body: big(">")}, nil)}, nil)
	// A 1 MiB array differing in every element.
	arr := func(c string) []byte { return []byte("[" + strings.Repeat(c+",", 1<<19) + c + "]") }
	r.Record(Record{Dialect: "d", Mode: "shadow", Outcome: Mismatch,
		Diffs: Compare(&Answer{Status: 200, Body: arr("1")}, &Answer{Status: 200, Body: arr("2")}, nil)}, nil)
	for i, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if len(line) > 4<<20 {
			t.Errorf("line %d: %d bytes", i, len(line))
		}
	}
	if !strings.Contains(buf.String(), `"truncated":true`) || !strings.Contains(buf.String(), `"diffs_omitted":`) {
		t.Errorf("no truncation said in the log")
	}
	rep, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Lines != 2 || rep.Unreadable != 0 || len(rep.Dialects) != 1 || rep.Dialects[0].Outcomes[Mismatch] != 2 {
		t.Errorf("report %+v", rep)
	}
}

// A not_comparable record is listed among the outcomes and counted as no
// comparison, matched or not: the gate judges what was compared.
func TestReportNotComparable(t *testing.T) {
	var buf bytes.Buffer
	r := NewRecorder(&buf, nil)
	r.Record(Record{Dialect: "d", Mode: "shadow", Outcome: Match, LegacyStatus: 200, CandidateStatus: 200}, nil)
	r.Record(Record{Dialect: "d", Mode: "shadow", Outcome: NotComparable, LegacyStatus: 200, CandidateStatus: 200,
		Note: "answer encoding br not comparable"}, nil)
	rep, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Dialects) != 1 || rep.Dialects[0].Compared != 1 || rep.Dialects[0].Matched != 1 || rep.Dialects[0].Outcomes[NotComparable] != 1 {
		t.Fatalf("report %+v", rep.Dialects)
	}
	var out bytes.Buffer
	rep.Write(&out)
	if !strings.Contains(out.String(), "not_comparable 1") {
		t.Errorf("report says\n%s", out.String())
	}
}

// TestOutcomesInMetricHelp: the help text of
// userbridge_migration_comparisons_total lists exactly the outcomes a
// comparison can have, in the report's order (telemetry cannot import this
// package, so the list there is written by hand: this test keeps it true).
func TestOutcomesInMetricHelp(t *testing.T) {
	m := telemetry.NewMetrics(telemetry.Build{}, func() string { return "closed" })
	for _, o := range Outcomes {
		m.Comparison("finix", o)
	}
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := "(" + strings.Join(Outcomes, ", ") + ")"
	for _, mf := range mfs {
		if mf.GetName() == "userbridge_migration_comparisons_total" {
			if !strings.HasSuffix(mf.GetHelp(), want+".") {
				t.Fatalf("help %q does not end with the outcomes %s", mf.GetHelp(), want)
			}
			return
		}
	}
	t.Fatal("no userbridge_migration_comparisons_total series")
}
