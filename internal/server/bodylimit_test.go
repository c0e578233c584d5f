package server

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestBodyLimitNamedAsApplied: a body refused for its size carries the
// limit it was read under, which the answer names, whatever limit a
// reload has set since.
func TestBodyLimitNamedAsApplied(t *testing.T) {
	var limit atomic.Int64
	limit.Store(10)
	s := &fastServer{maxBody: &limit}
	for _, declared := range []int{-1, 20} { // chunked, and a declared length over the limit
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetContentLength(declared)
		buf := make([]byte, 0, 8)
		_, err := s.readBody(&ctx, strings.NewReader(strings.Repeat("a", 20)), &buf)
		limit.Store(1 << 20) // a reload
		if !isBodyTooLarge(err) || limitOf(err, 1<<20) != 10 {
			t.Errorf("declared %d: %v, limit %d; want too large under 10", declared, err, limitOf(err, 1<<20))
		}
		limit.Store(10)
	}
	if got := limitOf(fasthttp.ErrBodyTooLarge, 7); got != 7 {
		t.Errorf("an error that names no limit: %d", got)
	}
}
