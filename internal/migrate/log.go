package migrate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/userbridge/userbridge/mapping"
)

// Observer counts the comparisons: telemetry.Metrics implements it. Every
// value it receives is bounded: dialect names, the outcomes, and field
// labels from FieldLabel's bounded set.
type Observer interface {
	// Comparison counts one comparison by its outcome.
	Comparison(dialect, outcome string)
	// FieldMismatch counts one differing member by its field label.
	FieldMismatch(dialect, field string)
}

// Record is one line of the diff log.
type Record struct {
	Time      time.Time `json:"time"`
	RequestID string    `json:"request_id"`
	Dialect   string    `json:"dialect"`
	// Target is the user the request addressed (its id or username).
	Target string `json:"target,omitempty"`
	Mode   string `json:"mode"`
	// Outcome is one of Outcomes.
	Outcome         string `json:"outcome"`
	LegacyStatus    int    `json:"legacy_status"`
	CandidateStatus int    `json:"candidate_status"`
	// Note says why, in a few fixed words ("candidate refuses", "candidate
	// accepts", "vendor timed out"): never an error's text.
	Note  string `json:"note,omitempty"`
	Diffs []Diff `json:"diffs,omitempty"`
	// DiffsOmitted counts the differences past the first maxDiffs, left
	// out of the line to bound it.
	DiffsOmitted int `json:"diffs_omitted,omitempty"`
}

// A diff log line stays well under the report's 16 MiB line limit: at
// most maxDiffs differences, each value at most maxDiffValue bytes of
// JSON (beyond, a truncatedValue): about 2 MiB at worst.
const (
	maxDiffs     = 256
	maxDiffValue = 4 << 10
)

// maxFieldLabels bounds the field label's values across all dialects;
// paths beyond are counted as OtherField.
const maxFieldLabels = 64

// OtherField is the field label of a path past the first maxFieldLabels.
const OtherField = "other"

// redactedValue replaces a secret in the log.
var redactedValue = json.RawMessage(`"[redacted]"`)

// Recorder writes the diff log and counts the comparisons. It is safe for
// concurrent use.
type Recorder struct {
	mu     sync.Mutex
	w      io.Writer
	obs    Observer
	labels map[string]string
}

// NewRecorder writes to w (one JSON object a line) and counts with obs
// (nil: nothing counted).
func NewRecorder(w io.Writer, obs Observer) *Recorder {
	return &Recorder{w: w, obs: obs, labels: map[string]string{}}
}

// OpenLog opens the diff log file for appending (created 0600 when
// missing); stderr when path is empty.
func OpenLog(path string) (io.WriteCloser, error) {
	if path == "" {
		return nopCloser{os.Stderr}, nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("migrate: log: %w", err)
	}
	return f, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// Record logs rec and counts it. redact removes from a value the secrets
// the request carried (the password it set, its credentials); members
// named like a secret are replaced whole, at any depth of an object or
// array value; a body that is not JSON is written as its length and a
// SHA-256 prefix, never raw.
func (r *Recorder) Record(rec Record, redact func(string) string) {
	for i := range rec.Diffs {
		d := &rec.Diffs[i]
		if mapping.SecretName(d.Path) {
			if d.Legacy != nil {
				d.Legacy = redactedValue
			}
			if d.Candidate != nil {
				d.Candidate = redactedValue
			}
			continue
		}
		d.Legacy = capValue(redactRaw(redactValue(d.Path, d.Legacy), redact))
		d.Candidate = capValue(redactRaw(redactValue(d.Path, d.Candidate), redact))
	}
	written := rec
	if len(rec.Diffs) > maxDiffs {
		// The metrics count them all; the line keeps the first.
		written.Diffs, written.DiffsOmitted = rec.Diffs[:maxDiffs], len(rec.Diffs)-maxDiffs
	}
	// Values are written as capped: no HTML escaping to grow them.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(written); err != nil {
		return
	}
	line := buf.Bytes() // Encode ends it with a newline
	r.mu.Lock()
	_, _ = r.w.Write(line)
	var labels []string
	if r.obs != nil && rec.Outcome == Mismatch {
		labels = make([]string, 0, len(rec.Diffs))
		for _, d := range rec.Diffs {
			labels = append(labels, r.label(d.Path))
		}
	}
	r.mu.Unlock()
	if r.obs == nil {
		return
	}
	r.obs.Comparison(rec.Dialect, rec.Outcome)
	for _, l := range labels {
		r.obs.FieldMismatch(rec.Dialect, l)
	}
}

// label bounds a path for the field label: indices become "#", and past
// the first maxFieldLabels distinct paths, OtherField. r.mu is held.
func (r *Recorder) label(path string) string {
	segs := strings.Split(path, ".")
	for i, s := range segs {
		if s != "" && strings.Trim(s, "0123456789") == "" {
			segs[i] = "#"
		}
	}
	p := strings.Join(segs, ".")
	if l, ok := r.labels[p]; ok {
		return l
	}
	if len(r.labels) >= maxFieldLabels {
		return OtherField
	}
	r.labels[p] = p
	return p
}

// redactRaw cuts out of v, a diff's JSON value, the secrets redact finds:
// in each of its strings (the value itself, a member's, an item's), so that
// the value keeps the JSON type the answer gave it. A value that still
// quotes a secret once its strings are redacted (a number, or a member
// name, holding one) is written whole as "[redacted]".
func redactRaw(v json.RawMessage, redact func(string) string) json.RawMessage {
	if v == nil || redact == nil || redact(string(v)) == string(v) {
		return v // redact reads v's JSON escapes too: nothing to cut
	}
	var tree any
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	if err := d.Decode(&tree); err != nil {
		return redactedValue
	}
	tree = redactStrings(tree, redact)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(tree); err != nil {
		return redactedValue
	}
	out := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if redact(string(out)) != string(out) {
		return redactedValue
	}
	return out
}

// redactStrings applies redact to every string in v, in place where v is
// an object or array, and returns v.
func redactStrings(v any, redact func(string) string) any {
	switch t := v.(type) {
	case string:
		return redact(t)
	case map[string]any:
		for k, m := range t {
			t[k] = redactStrings(m, redact)
		}
	case []any:
		for i, m := range t {
			t[i] = redactStrings(m, redact)
		}
	}
	return v
}
