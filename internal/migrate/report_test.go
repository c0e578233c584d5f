package migrate

import (
	"bytes"
	"strings"
	"testing"
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
