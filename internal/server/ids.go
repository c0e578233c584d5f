package server

import "github.com/google/uuid"

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
