package upstream

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/userbridge/userbridge/mapping/canonical"
)

// BenchmarkPatch measures one update against a loopback upstream that
// answers a canonical user, keep-alive connection included. The figures
// include the test server's own work and allocations.
func BenchmarkPatch(b *testing.B) {
	body := []byte(userJSON)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}))
	defer srv.Close()
	c := newClient(b, srv.URL)
	h := http.Header{}
	h.Set("Authorization", "Bearer t0ken")
	h.Set("Idempotency-Key", "0d7e5bb4-6f3c-4a51-9b0a-1f2c3d4e5f60")
	h.Set("X-Request-ID", "req-1")
	h.Set("X-Userbridge-Dialect", "finix")
	SetJSONHeaders(h) // as the server's handler builds it: Patch sends the map as it is
	call := &Call{Target: canonical.ByID, Value: "42", Header: h,
		Body: []byte(`{"set":{"active":true,"attributes":{"a":"1","b":"2","c":"3"}}}`)}
	ctx := context.Background()

	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Patch(ctx, call); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.Patch(ctx, call); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
