package migrate

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/userbridge/userbridge/config"
)

// topFields is how many differing fields a dialect's report lists.
const topFields = 10

// Report is the diff log summed up per dialect: what the cutover gate
// (`userbridge migration report`) reads.
type Report struct {
	// Dialects are sorted by name.
	Dialects []*DialectReport
	// Lines is the number of log lines read; Unreadable those that were
	// not a comparison record.
	Lines, Unreadable int
}

// DialectReport is one dialect's comparisons.
type DialectReport struct {
	Dialect string
	// Compared counts the comparisons that compared two answers (outcome
	// match or mismatch) and, in shadow mode, the candidate_error ones: the
	// vendor applied an update the upstream did not get, so they count as
	// not matched. Matched counts those that matched.
	Compared, Matched int
	// Outcomes counts every record by outcome, the errors included.
	Outcomes map[string]int
	// Fields are the paths that differed most (indices as #), at most
	// ten, most first.
	Fields []FieldCount
}

// FieldCount is how often a path differed, with a request that shows it.
type FieldCount struct {
	Field   string
	Count   int
	Example string // a request id
}

// Ratio is Matched over Compared; 0 with no comparison.
func (d *DialectReport) Ratio() float64 {
	if d.Compared == 0 {
		return 0
	}
	return float64(d.Matched) / float64(d.Compared)
}

// Read sums up a diff log.
func Read(r io.Reader) (*Report, error) {
	rep := &Report{}
	by := map[string]*DialectReport{}
	fields := map[string]map[string]*FieldCount{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		rep.Lines++
		var rec Record
		if err := json.Unmarshal(line, &rec); err != nil || rec.Dialect == "" || rec.Outcome == "" {
			rep.Unreadable++
			continue
		}
		d := by[rec.Dialect]
		if d == nil {
			d = &DialectReport{Dialect: rec.Dialect, Outcomes: map[string]int{}}
			by[rec.Dialect], fields[rec.Dialect] = d, map[string]*FieldCount{}
		}
		d.Outcomes[rec.Outcome]++
		switch rec.Outcome {
		case Match:
			d.Compared++
			d.Matched++
		case CandidateError:
			if rec.Mode == config.LegacyShadow {
				d.Compared++
			}
		case Mismatch:
			d.Compared++
			for _, df := range rec.Diffs {
				p := indexless(df.Path)
				fc := fields[rec.Dialect][p]
				if fc == nil {
					fc = &FieldCount{Field: p, Example: rec.RequestID}
					fields[rec.Dialect][p] = fc
				}
				fc.Count++
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("migrate: report: %w", err)
	}
	for name, d := range by {
		for _, fc := range fields[name] {
			d.Fields = append(d.Fields, *fc)
		}
		sort.Slice(d.Fields, func(i, j int) bool {
			if d.Fields[i].Count != d.Fields[j].Count {
				return d.Fields[i].Count > d.Fields[j].Count
			}
			return d.Fields[i].Field < d.Fields[j].Field
		})
		if len(d.Fields) > topFields {
			d.Fields = d.Fields[:topFields]
		}
		rep.Dialects = append(rep.Dialects, d)
	}
	sort.Slice(rep.Dialects, func(i, j int) bool { return rep.Dialects[i].Dialect < rep.Dialects[j].Dialect })
	return rep, nil
}

// indexless writes a path's array indices as #.
func indexless(path string) string {
	segs := strings.Split(path, ".")
	for i, s := range segs {
		if s != "" && strings.Trim(s, "0123456789") == "" {
			segs[i] = "#"
		}
	}
	return strings.Join(segs, ".")
}

// Gate is the cutover's thresholds.
type Gate struct {
	// Source names the log read, in the failures.
	Source string
	// MinCompared is the fewest comparisons a dialect needs.
	MinCompared int
	// MinMatch is the least share of them that must match, 0 to 1.
	MinMatch float64
}

// Failures says, per dialect with records, which threshold it misses;
// empty when every dialect meets both. A log without a single comparison,
// or with lines that are no comparison record, never passes.
func (g Gate) Failures(r *Report) []string {
	var out []string
	compared := 0
	for _, d := range r.Dialects {
		compared += d.Compared
	}
	if compared == 0 {
		out = append(out, "no comparisons in "+g.Source)
	}
	if r.Unreadable > 0 {
		out = append(out, fmt.Sprintf("%d unreadable lines", r.Unreadable))
	}
	for _, d := range r.Dialects {
		if d.Compared < g.MinCompared {
			out = append(out, fmt.Sprintf("%s: compared %d < %d", d.Dialect, d.Compared, g.MinCompared))
		}
		if d.Ratio() < g.MinMatch {
			out = append(out, fmt.Sprintf("%s: matched %.2f%% < %.2f%%", d.Dialect, 100*d.Ratio(), 100*g.MinMatch))
		}
	}
	return out
}

// Write prints the report for a person.
func (r *Report) Write(w io.Writer) {
	if len(r.Dialects) == 0 {
		fmt.Fprintln(w, "no comparisons")
	}
	for _, d := range r.Dialects {
		fmt.Fprintf(w, "%s: compared %d, matched %d (%.2f%%)\n", d.Dialect, d.Compared, d.Matched, 100*d.Ratio())
		parts := make([]string, 0, len(Outcomes))
		for _, o := range Outcomes {
			parts = append(parts, fmt.Sprintf("%s %d", o, d.Outcomes[o]))
		}
		fmt.Fprintf(w, "  outcomes: %s\n", strings.Join(parts, ", "))
		if len(d.Fields) > 0 {
			fmt.Fprintln(w, "  fields that differ most:")
			for _, f := range d.Fields {
				fmt.Fprintf(w, "    %-40s %6d  e.g. request %s\n", f.Field, f.Count, f.Example)
			}
		}
	}
	if r.Unreadable > 0 {
		fmt.Fprintf(w, "%d of %d lines were no comparison record\n", r.Unreadable, r.Lines)
	}
}
