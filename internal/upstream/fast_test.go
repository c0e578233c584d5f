package upstream

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// TestFastReplyHeader: the fast transport's reply carries the headers
// net/http's Transport reads from the same answer, few or many, short or
// long, repeated names included.
func TestFastReplyHeader(t *testing.T) {
	long := strings.Repeat("v", 500)
	for _, hs := range [][][2]string{
		{{"Content-Type", "application/json"}},
		{{"Etag", `"1"`}, {"X-A", "1"}, {"x-a", "2"}, {"Retry-After", "3"}},
		{{"X-1", "a"}, {"X-2", "b"}, {"X-3", "c"}, {"X-4", "d"}, {"X-5", "e"}, {"X-6", "f"}, {"X-7", "g"}, {"X-8", "h"}, {"X-2", "i"}},
		{{"X-Long", long}, {"Set-Cookie", "a=" + long}, {"Set-Cookie", "b=2"}},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for _, h := range hs {
				w.Header()[h[0]] = append(w.Header()[h[0]], h[1])
			}
			_, _ = w.Write([]byte(`{}`))
		}))
		get := func(transport string) http.Header {
			c := newClient(t, srv.URL, func(cfg *Config) { cfg.Transport = transport })
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/x", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.transport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			resp.Header.Del("Date")
			return resp.Header
		}
		fast, std := get(TransportFast), get(TransportStandard)
		srv.Close()
		if !reflect.DeepEqual(fast, std) {
			t.Errorf("fast transport's reply header %v, net/http's %v", fast, std)
		}
	}
}
