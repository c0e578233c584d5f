package mapping

import (
	"testing"
	"unicode/utf8"
)

// runesBelow and runesAbove must agree with counting the characters, for
// any length in bytes and any mix of one- to four-byte characters.
func TestRuneBounds(t *testing.T) {
	chars := []string{"a", "é", "€", "😀"}
	for n := 0; n < 400; n++ {
		s := ""
		for i := 0; i < n%13; i++ {
			s += chars[(n/13+i*7+n)%4]
		}
		c := utf8.RuneCountInString(s)
		for k := 1; k < 16; k++ {
			if runesBelow(s, k) != (c < k) || runesAbove(s, k) != (c > k) {
				t.Fatalf("%q (%d characters) against %d: below %v, above %v", s, c, k, runesBelow(s, k), runesAbove(s, k))
			}
		}
	}
}

func TestIsUUID(t *testing.T) {
	for s, want := range map[string]bool{
		"0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a":   true,
		"0B6F4C1E-8C2A-4D7E-9F3B-5A1D2E3C4B5A":   true,
		"{0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a}": true,
		"0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5":    false,
		"0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5g":   false,
		"0b6f4c1e8c2a-4d7e-9f3b-5a1d2e3c4b5a0":   false,
		"0b6f4c1e-8c2a-4d7e-9f3b_5a1d2e3c4b5a":   false,
		"{0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a":  false,
		"jane.doe":                               false,
		"":                                       false,
	} {
		if IsUUID(s) != want {
			t.Errorf("IsUUID(%q) = %v", s, !want)
		}
	}
}

func TestCanonicalUUID(t *testing.T) {
	for s, want := range map[string]string{
		"0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a":   "0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a",
		"0B6F4C1E-8C2A-4D7E-9F3B-5A1D2E3C4B5A":   "0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a",
		"{0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a}": "0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a",
		"{0B6F4C1E-8c2a-4d7e-9f3b-5a1d2e3c4b5a}": "0b6f4c1e-8c2a-4d7e-9f3b-5a1d2e3c4b5a",
		"{0B6F4C1E-8C2A-4D7E-9F3B-5A1D2E3C4B5A":  "{0B6F4C1E-8C2A-4D7E-9F3B-5A1D2E3C4B5A",
		"Jane.Doe":                               "Jane.Doe",
		"USsRhsHYZGBPnQw8CFHjD7Un":               "USsRhsHYZGBPnQw8CFHjD7Un",
		"":                                       "",
	} {
		if got := CanonicalUUID(s); got != want {
			t.Errorf("CanonicalUUID(%q) = %q, want %q", s, got, want)
		}
	}
}
