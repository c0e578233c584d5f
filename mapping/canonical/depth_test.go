package canonical

import "testing"

// withinDepthByByte is WithinDepth as it was first written, byte by byte:
// the reference the string-skipping version must agree with.
func withinDepthByByte(doc []byte, max int) bool {
	depth := 0
	var t textState
	for _, c := range doc {
		if t.inString(c) {
			continue
		}
		switch c {
		case '{', '[':
			if depth++; depth > max {
				return false
			}
		case '}', ']':
			depth--
		}
	}
	return true
}

var depthSeeds = []string{
	`{}`, `[[[[]]]]`, `{"a":"[[[[["}`, `{"a":"\"[[[["}`, `{"a":"\\"}[[[[`, `{"a":"\\\"[[[["}`,
	`"unterminated [[[[`, `{"k\\":[[[[1]]]]}`, `[["x\\\\\"",[[[]]]]]`, `{"a":"é[[[","b":[[[[[]]]]]}`,
}

func TestWithinDepthSkipsStrings(t *testing.T) {
	for _, s := range depthSeeds {
		for max := 0; max < 6; max++ {
			if got, want := WithinDepth([]byte(s), max), withinDepthByByte([]byte(s), max); got != want {
				t.Errorf("WithinDepth(%s, %d) = %v, want %v", s, max, got, want)
			}
		}
	}
}

func FuzzWithinDepth(f *testing.F) {
	for _, s := range depthSeeds {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		max = max&15 + 1
		if got, want := WithinDepth([]byte(s), max), withinDepthByByte([]byte(s), max); got != want {
			t.Fatalf("WithinDepth(%q, %d) = %v, want %v", s, max, got, want)
		}
	})
}

func BenchmarkWithinDepth(b *testing.B) {
	doc := []byte(`{"id":"USsRhsHYZGBPnQw8CFHjD7Un","username":"merchant.admin","email":"admin@example.com","givenName":"Merchant","familyName":"Admin","displayName":"Merchant Admin","phone":"+1 415 555 0100","active":false,"locked":false,"roles":[{"id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","name":"ROLE_MERCHANT"}],"attributes":{"order_number":"25","item_type":"produce","department":"sales"},"createdAt":"2024-01-15T09:31:00.000Z","updatedAt":"2024-03-01T10:00:00.000Z"}`)
	b.Run("skipping", func(b *testing.B) {
		for b.Loop() {
			WithinDepth(doc, 32)
		}
	})
	b.Run("by-byte", func(b *testing.B) {
		for b.Loop() {
			withinDepthByByte(doc, 32)
		}
	})
}
