package migrate

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/userbridge/userbridge/mapping"
)

// bodyDigest is how a body that is not JSON is written in the diff log:
// its length and the start of its SHA-256, enough to tell two apart.
type bodyDigest struct {
	Bytes  int    `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// digestPrefix is how many hex digits of the SHA-256 a digest keeps.
const digestPrefix = 16

// redactValue makes a diff's value fit for the log: an object or array
// (a whole missing subtree, or a whole body) has its members named like a
// secret replaced by "[redacted]" at any depth; a non-JSON body (Compare
// writes it as a JSON string at BodyPath) becomes a bodyDigest.
func redactValue(path string, v json.RawMessage) json.RawMessage {
	t := bytes.TrimSpace(v)
	if len(t) == 0 {
		return v
	}
	switch t[0] {
	case '{', '[':
		var tree any
		d := json.NewDecoder(bytes.NewReader(t))
		d.UseNumber()
		if err := d.Decode(&tree); err != nil {
			return redactedValue // not what Compare writes: never raw
		}
		if !redactTree(tree) {
			return v
		}
		out, err := json.Marshal(tree)
		if err != nil {
			return redactedValue
		}
		return out
	case '"':
		if path != BodyPath {
			return v
		}
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return redactedValue
		}
		return digestOf([]byte(s))
	}
	return v
}

// digestOf is b's bodyDigest as JSON.
func digestOf(b []byte) json.RawMessage {
	sum := sha256.Sum256(b)
	out, _ := json.Marshal(bodyDigest{Bytes: len(b), SHA256: hex.EncodeToString(sum[:])[:digestPrefix]})
	return out
}

// redactTree replaces, in place, every member named like a secret with
// "[redacted]"; it reports whether it replaced any.
func redactTree(v any) bool {
	changed := false
	switch t := v.(type) {
	case map[string]any:
		for k, m := range t {
			if mapping.SecretName(k) {
				t[k] = "[redacted]"
				changed = true
				continue
			}
			if redactTree(m) {
				changed = true
			}
		}
	case []any:
		for _, m := range t {
			if redactTree(m) {
				changed = true
			}
		}
	}
	return changed
}

// truncatedValue replaces a diff value over maxDiffValue bytes of JSON.
type truncatedValue struct {
	Truncated bool   `json:"truncated"`
	Bytes     int    `json:"bytes"`
	SHA256    string `json:"sha256"`
}

// capValue replaces a value over maxDiffValue bytes (already redacted)
// by its length and a SHA-256 prefix.
func capValue(v json.RawMessage) json.RawMessage {
	if len(v) <= maxDiffValue {
		return v
	}
	sum := sha256.Sum256(v)
	out, _ := json.Marshal(truncatedValue{Truncated: true, Bytes: len(v), SHA256: hex.EncodeToString(sum[:])[:digestPrefix]})
	return out
}
