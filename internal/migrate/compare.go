package migrate

import (
	"bytes"
	"encoding/json"
	"math/big"
	"sort"
	"strconv"
	"strings"
)

// Outcomes of a comparison.
const (
	// Match: same status, and same JSON members but the ignored ones.
	Match = "match"
	// Mismatch: the answers differ (a status, a member, or one side
	// refused what the other accepted).
	Mismatch = "mismatch"
	// CandidateError: the upstream failed (no answer, a 5xx, an answer
	// userbridge refused), so userbridge's answer says nothing of its rules.
	CandidateError = "candidate_error"
	// LegacyError: the vendor was unreachable, too slow or unreadable, or
	// failed (a 5xx, 429).
	LegacyError = "legacy_error"
	// NotComparable: both sides answered with the same status, but the
	// vendor's body is in a content coding userbridge cannot read (br, a
	// body that does not decode, or decodes past the size limit): neither
	// a match nor a mismatch can be told.
	NotComparable = "not_comparable"
)

// Outcomes lists every outcome, in the report's order.
var Outcomes = []string{Match, Mismatch, CandidateError, LegacyError, NotComparable}

// Paths of a difference that is no JSON member.
const (
	// StatusPath names a difference of the HTTP statuses.
	StatusPath = "status"
	// BodyPath names a difference of bodies of which one is not JSON.
	BodyPath = "body"
)

// Diff is one difference: the dotted path of a member (arrays by index),
// or "status", or "body"; each side's value as JSON, nil when that side
// has no such member.
type Diff struct {
	Path      string          `json:"path"`
	Legacy    json.RawMessage `json:"legacy,omitempty"`
	Candidate json.RawMessage `json:"candidate,omitempty"`
}

// Compare compares the vendor's answer with userbridge's: the statuses,
// then, when both bodies are JSON, member by member (arrays by position)
// without the ignored paths (a "*" segment matches any member or index),
// numbers as numbers and strings exactly. A body that is not JSON on
// either side is compared byte for byte, as "body". A body is compared
// without its content coding (gzip, deflate). No difference: the answers
// match.
func Compare(legacy, candidate *Answer, ignore []string) []Diff {
	var diffs []Diff
	if legacy.Status != candidate.Status {
		diffs = append(diffs, Diff{Path: StatusPath, Legacy: json.RawMessage(strconv.Itoa(legacy.Status)),
			Candidate: json.RawMessage(strconv.Itoa(candidate.Status))})
	}
	lb, cb := bytes.TrimSpace(legacy.comparable()), bytes.TrimSpace(candidate.comparable())
	if len(lb) == 0 && len(cb) == 0 {
		return diffs
	}
	lv, lok := decode(lb)
	cv, cok := decode(cb)
	if !lok || !cok {
		if !bytes.Equal(lb, cb) {
			diffs = append(diffs, Diff{Path: BodyPath, Legacy: quoted(lb), Candidate: quoted(cb)})
		}
		return diffs
	}
	w := walker{ignore: splitPaths(ignore)}
	w.walk(nil, lv, cv, true, true)
	return append(diffs, w.diffs...)
}

// decode reads a JSON body, numbers kept as written; false when it is
// not JSON (or empty).
func decode(b []byte) (any, bool) {
	if len(b) == 0 {
		return nil, false
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil || d.More() {
		return nil, false
	}
	return v, true
}

func quoted(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	q, _ := json.Marshal(string(b))
	return q
}

func splitPaths(ps []string) [][]string {
	out := make([][]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, strings.Split(p, "."))
	}
	return out
}

type walker struct {
	ignore [][]string
	diffs  []Diff
}

func (w *walker) ignored(path []string) bool {
	for _, ig := range w.ignore {
		if len(ig) > len(path) {
			continue
		}
		ok := true
		for i, seg := range ig {
			if seg != "*" && seg != path[i] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// walk compares l and c at path; has tells whether each side has it.
func (w *walker) walk(path []string, l, c any, lhas, chas bool) {
	if len(path) > 0 && w.ignored(path) {
		return
	}
	lo, lobj := l.(map[string]any)
	co, cobj := c.(map[string]any)
	if lhas && chas && lobj && cobj {
		keys := make([]string, 0, len(lo)+len(co))
		for k := range lo {
			keys = append(keys, k)
		}
		for k := range co {
			if _, ok := lo[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			lv, lh := lo[k]
			cv, ch := co[k]
			w.walk(append(path[:len(path):len(path)], k), lv, cv, lh, ch)
		}
		return
	}
	la, larr := l.([]any)
	ca, carr := c.([]any)
	if lhas && chas && larr && carr {
		for i := 0; i < max(len(la), len(ca)); i++ {
			var lv, cv any
			if i < len(la) {
				lv = la[i]
			}
			if i < len(ca) {
				cv = ca[i]
			}
			w.walk(append(path[:len(path):len(path)], strconv.Itoa(i)), lv, cv, i < len(la), i < len(ca))
		}
		return
	}
	if lhas == chas && equal(l, c) {
		return
	}
	d := Diff{Path: strings.Join(path, ".")}
	if d.Path == "" {
		d.Path = BodyPath
	}
	if lhas {
		d.Legacy, _ = json.Marshal(l)
	}
	if chas {
		d.Candidate, _ = json.Marshal(c)
	}
	w.diffs = append(w.diffs, d)
}

// equal compares two scalars (or an object or array against something
// else): numbers by value, everything else exactly.
func equal(l, c any) bool {
	switch lv := l.(type) {
	case json.Number:
		cv, ok := c.(json.Number)
		if !ok {
			return false
		}
		a, aok := new(big.Rat).SetString(string(lv))
		b, bok := new(big.Rat).SetString(string(cv))
		return aok && bok && a.Cmp(b) == 0
	case string:
		cv, ok := c.(string)
		return ok && lv == cv
	case bool:
		cv, ok := c.(bool)
		return ok && lv == cv
	case nil:
		return c == nil
	}
	return false // an object or array against a scalar, or each other
}
