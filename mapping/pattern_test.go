package mapping

import (
	"regexp"
	"strings"
	"testing"
)

// The patterns of the built-in rule files and others of the same kind.
var seqPatterns = []string{
	`[0-9A-Za-z][0-9A-Za-z_ \-]{0,30}[0-9A-Za-z]`,
	`[a-z]+`, `[a-z]*`, `[a-z]?x`, `ab[0-9]{2,4}c`, `[A-Z]{3}`, `[a-z]*[a-z]*z`, `x{0}`, `[0-9]{1,}`,
	`(?:[a-z])+`, `([a-z0-9._%+-]+)`, `\d{3}-\d{4}`, `[^\x00-\x7f]`, `.+`, `a|b`, `(?i)[a-z]+`, `(ab)+`, `^a$`,
	`[a-z]{0,300}`, `é+`,
}

var seqInputs = []string{
	"", "a", "z", "ab", "abc", "Jane Doe", "Jane Doe ", " Jane", "J", "JD", "ab12c", "ab1c", "ab12345c",
	"ABC", "ABCD", "abz", "zz", "x", "123", "123-4567", "é", "ée", "a\nb", "a-b_c d", strings.Repeat("a", 31),
	strings.Repeat("a", 32), strings.Repeat("a", 33), strings.Repeat("a", 63), strings.Repeat("a", 64), strings.Repeat("a", 255), strings.Repeat("a", 256), strings.Repeat("a", 400),
}

// A classSeq must decide exactly what the anchored regexp decides.
func checkPattern(t *testing.T, pat, s string) {
	t.Helper()
	p, err := compilePattern(pat)
	if err != nil {
		return
	}
	want := regexp.MustCompile(`^(?:` + pat + `)$`).MatchString(s)
	if got := p.MatchString(s); got != want {
		t.Fatalf("pattern %q on %q: %v, regexp says %v (classSeq %v)", pat, s, got, want, p.seq != nil)
	}
}

func TestPatternClassSeq(t *testing.T) {
	for _, pat := range seqPatterns {
		for _, s := range seqInputs {
			checkPattern(t, pat, s)
		}
	}
	// The first pattern is Trusted Twin's name rule: it must take the fast path.
	for _, pat := range []string{seqPatterns[0], `[a-z]+`, `ab[0-9]{2,4}c`, `\d{3}-\d{4}`} {
		if compileClassSeq(pat) == nil {
			t.Errorf("%q is a run of classes but got no classSeq", pat)
		}
	}
	for _, pat := range []string{`.+`, `(?i)[a-z]+`, `(ab)+`, `^a$`, `é+`, `[^\x00-\x7f]`} {
		if compileClassSeq(pat) != nil {
			t.Errorf("%q got a classSeq", pat)
		}
	}
}

func FuzzPatternClassSeq(f *testing.F) {
	for i, pat := range seqPatterns {
		f.Add(pat, seqInputs[i%len(seqInputs)])
	}
	f.Fuzz(func(t *testing.T, pat, s string) {
		if len(pat) > 64 {
			return
		}
		checkPattern(t, pat, s)
	})
}

func BenchmarkPattern(b *testing.B) {
	p, _ := compilePattern(seqPatterns[0])
	re := regexp.MustCompile(`^(?:` + seqPatterns[0] + `)$`)
	b.Run("classSeq", func(b *testing.B) {
		for b.Loop() {
			p.MatchString("Jane Doe")
		}
	})
	b.Run("regexp", func(b *testing.B) {
		for b.Loop() {
			re.MatchString("Jane Doe")
		}
	})
}

// TestPatternErrorQuotesThePattern: a bad pattern is reported as written,
// not as the anchored expression it is compiled into.
func TestPatternErrorQuotesThePattern(t *testing.T) {
	_, err := compilePattern(`[a-z`)
	if err == nil || !strings.Contains(err.Error(), "`[a-z`") || strings.Contains(err.Error(), "(?:") {
		t.Errorf("got %v", err)
	}
}
