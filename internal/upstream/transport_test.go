package upstream

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/userbridge/userbridge/mapping/canonical"
)

// TestHTTP2WhereTLSOffersIt: an https upstream that offers HTTP/2 (ALPN)
// is called over HTTP/2; a plain http one over HTTP/1.1, never upgraded.
func TestHTTP2WhereTLSOffersIt(t *testing.T) {
	protos := make(chan string, 4)
	h := func(_ int, w http.ResponseWriter, r *http.Request) {
		protos <- r.Proto
		reply(w, http.StatusOK, userJSON)
	}
	tlsUp := &testUpstream{conns: map[string]bool{}}
	tlsUp.Server = httptest.NewUnstartedServer(tlsUp.record(h))
	tlsUp.EnableHTTP2 = true
	tlsUp.StartTLS()
	t.Cleanup(tlsUp.Close)
	plain := startUpstream(t, h)

	for _, tc := range []struct {
		name, url, proto string
		mod              func(*setup)
	}{
		{"https", tlsUp.URL, "HTTP/2.0", func(s *setup) { s.TLS.CAFile = serverCAFile(t, tlsUp.Server) }},
		{"http", plain.URL, "HTTP/1.1", nil},
	} {
		var mods []func(*setup)
		if tc.mod != nil {
			mods = append(mods, tc.mod)
		}
		c := newClient(t, tc.url, mods...)
		if _, err := patch(t, c, patchCall("1")); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := <-protos; got != tc.proto {
			t.Errorf("%s: the upstream was called over %s, want %s", tc.name, got, tc.proto)
		}
	}
}

// TestNoTransparentGzip: the client asks for no compression it would undo
// by itself: the reply is read, and its size checked, as sent.
func TestNoTransparentGzip(t *testing.T) {
	up := startUpstream(t, ok)
	if _, err := patch(t, newClient(t, up.URL), patchCall("1")); err != nil {
		t.Fatal(err)
	}
	if ae := up.requests()[0].header.Get("Accept-Encoding"); ae != "" {
		t.Errorf("Accept-Encoding %q sent", ae)
	}
}

// TestProxyFromEnvironment: the upstream is called through the proxy the
// environment names, as net/http reads it (HTTP_PROXY here). net/http
// reads the environment once per process, so the call is made by a child
// process of this test binary started with the variable set.
func TestProxyFromEnvironment(t *testing.T) {
	if os.Getenv("UPSTREAM_TEST_PROXY_CHILD") == "1" {
		c := newClient(t, "http://idp.example/api")
		if _, err := c.Get(context.Background(), &Call{Target: canonical.ByID, Value: "42", Header: http.Header{}}); err != nil {
			t.Fatal(err)
		}
		return
	}
	proxy := startUpstream(t, ok) // answers for every host it is asked for
	cmd := exec.Command(os.Args[0], "-test.run=^TestProxyFromEnvironment$", "-test.count=1")
	cmd.Env = append(os.Environ(), "UPSTREAM_TEST_PROXY_CHILD=1", "HTTP_PROXY="+proxy.URL, "http_proxy="+proxy.URL, "NO_PROXY=", "no_proxy=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the call through the proxy failed: %v\n%s", err, out)
	}
	reqs := proxy.requests()
	if len(reqs) != 1 || !strings.HasPrefix(reqs[0].uri, "http://idp.example/api/users/42") {
		t.Fatalf("the proxy saw %+v, want one request for http://idp.example/api/users/42", reqs)
	}
}
