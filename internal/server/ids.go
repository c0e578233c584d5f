package server

import "github.com/google/uuid"

// Request ids and Idempotency-Keys are random (version 4) UUIDs, one or two
// a request: their randomness is read from the system in batches (google/
// uuid's pool, a mutex and 16 UUIDs a read) rather than one read each.
// Neither is a secret; the pool must be enabled before any is made, hence
// here.
func init() { uuid.EnableRandPool() }

// requestID keeps a client's X-Request-ID when it is sane (1 to 128
// visible ASCII characters, no quote or backslash: it goes into logs,
// headers and JSON answers as it is), else makes one: a random UUID.
func requestID(v string) string {
	if v == "" || len(v) > 128 {
		return uuid.NewString()
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return uuid.NewString()
		}
	}
	return v
}
