package mapping

import (
	"math/bits"
	"regexp"
	"regexp/syntax"
)

// pattern is a validator's regular expression, matched against the whole
// value. The patterns rule files use are mostly a run of ASCII character
// classes with repeat counts ("[0-9A-Za-z][0-9A-Za-z_ \-]{0,30}[0-9A-Za-z]");
// those are also compiled to a classSeq, which decides the same match in
// one pass without allocating, several times faster than regexp. Anything
// else, and values too long for a classSeq, go to regexp.
type pattern struct {
	re  *regexp.Regexp
	seq classSeq // nil: regexp only
}

// compilePattern compiles pat anchored at both ends.
func compilePattern(pat string) (*pattern, error) {
	if _, err := regexp.Compile(pat); err != nil {
		return nil, err // about the pattern as written, not the anchored one
	}
	re, err := regexp.Compile(`^(?:` + pat + `)$`)
	if err != nil {
		return nil, err
	}
	return &pattern{re: re, seq: compileClassSeq(pat)}, nil
}

func (p *pattern) MatchString(s string) bool {
	if p.seq != nil && len(s) < classSeqMaxLen {
		return p.seq.match(s)
	}
	return p.re.MatchString(s)
}

// classSeqMaxLen bounds the values a classSeq matches: positions 0…len fit
// one 64-bit word. Longer values, rare in a validated field, go to regexp.
const classSeqMaxLen = 64

// classSeq is a sequence of steps, each a set of ASCII bytes repeated
// between min and max times (max < 0: no bound).
type classSeq []classStep

type classStep struct {
	set      [2]uint64 // bit b: ASCII byte b belongs
	min, max int
}

func (st *classStep) has(b byte) bool { return b < 0x80 && st.set[b>>6]&(1<<(b&63)) != 0 }

// compileClassSeq returns the classSeq of pat, or nil when pat is anything
// but a concatenation of ASCII classes and literals, each possibly
// repeated (?, *, +, {n,m}) — no alternation, groups other than a capture
// around one such item, anchors, case folding, or non-ASCII.
func compileClassSeq(pat string) classSeq {
	re, err := syntax.Parse(pat, syntax.Perl)
	if err != nil {
		return nil
	}
	items := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		items = re.Sub
	}
	var seq classSeq
	for _, it := range items {
		min, max := 1, 1
		switch it.Op {
		case syntax.OpStar:
			min, max, it = 0, -1, it.Sub[0]
		case syntax.OpPlus:
			min, max, it = 1, -1, it.Sub[0]
		case syntax.OpQuest:
			min, max, it = 0, 1, it.Sub[0]
		case syntax.OpRepeat:
			min, max, it = it.Min, it.Max, it.Sub[0]
		}
		for it.Op == syntax.OpCapture {
			it = it.Sub[0]
		}
		if it.Flags&syntax.FoldCase != 0 {
			return nil
		}
		switch it.Op {
		case syntax.OpCharClass:
			var st classStep
			for i := 0; i+1 < len(it.Rune); i += 2 {
				lo, hi := it.Rune[i], it.Rune[i+1]
				if hi >= 0x80 {
					return nil
				}
				for r := lo; r <= hi; r++ {
					st.set[r>>6] |= 1 << (r & 63)
				}
			}
			st.min, st.max = min, max
			seq = append(seq, st)
		case syntax.OpLiteral:
			if (min != 1 || max != 1) && len(it.Rune) != 1 {
				return nil // (abc)+: not a run of one class
			}
			for _, r := range it.Rune {
				if r >= 0x80 {
					return nil
				}
				var st classStep
				st.set[r>>6] |= 1 << (r & 63)
				st.min, st.max = min, max
				seq = append(seq, st)
			}
		default:
			return nil
		}
	}
	if len(seq) == 0 {
		return nil
	}
	return seq
}

// match reports whether s, len(s) < classSeqMaxLen, is the whole sequence.
// reach holds the positions of s the steps so far can end at (bit p:
// position p); each step moves every reached position p to p+min …
// p+min(run, max), where run is how many bytes from p belong to its set.
func (q classSeq) match(s string) bool {
	n := len(s)
	reach := uint64(1)
	for i := range q {
		st := &q[i]
		var next uint64
		for set := reach; set != 0; set &= set - 1 {
			p := bits.TrailingZeros64(set)
			r := 0
			for p+r < n && (st.max < 0 || r < st.max) && st.has(s[p+r]) {
				r++
			}
			if r >= st.min {
				next |= (uint64(1)<<(r-st.min+1) - 1) << (p + st.min)
			}
		}
		if next == 0 {
			return false
		}
		reach = next
	}
	return reach&(1<<n) != 0
}
