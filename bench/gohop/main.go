// Command gohop is the bench's Go floor: a hop that translates nothing,
// built as userbridge's hop is (a net/http server, fasthttp's HostClient
// with a keep-alive pool to the upstream), so that a run shows what any Go
// hop costs on the machine next to what nginx's pass-through costs.
//
//	go run ./bench/gohop --listen 127.0.0.1:18099 --upstream 127.0.0.1:18091
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/userbridge/userbridge/bench"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18099", "loopback address to listen on")
	upstream := flag.String("upstream", "127.0.0.1:18091", "the upstream's host:port")
	flag.Parse()
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(400) // as userbridge serves: the same GC trade-off
	}
	if err := run(*listen, *upstream); err != nil {
		fmt.Fprintln(os.Stderr, "gohop:", err)
		os.Exit(1)
	}
}

// hopByHop are not forwarded either way (RFC 9110, 7.6.1); Content-Length
// is set by each side's own writer.
var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true, "Content-Length": true,
}

func run(listen, upstream string) error {
	hc := &fasthttp.HostClient{
		Addr:                     upstream,
		MaxIdleConnDuration:      time.Minute,
		ReadTimeout:              5 * time.Second,
		WriteTimeout:             5 * time.Second,
		DisablePathNormalizing:   true,
		NoDefaultUserAgentHeader: true,
	}
	hop := func(w http.ResponseWriter, r *http.Request) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer func() { fasthttp.ReleaseRequest(req); fasthttp.ReleaseResponse(resp) }()
		req.Header.SetMethod(r.Method)
		req.SetRequestURI(r.URL.RequestURI())
		for k, vs := range r.Header {
			if hopByHop[k] {
				continue
			}
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
		req.Header.SetHost(upstream)
		req.URI().DisablePathNormalizing = true // parses the URI: after the Host is set
		if _, err := io.Copy(req.BodyWriter(), r.Body); err != nil {
			http.Error(w, "bad request body", http.StatusBadRequest)
			return
		}
		if err := hc.Do(req, resp); err != nil {
			http.Error(w, "upstream unreachable", http.StatusBadGateway)
			return
		}
		h := w.Header()
		for k, v := range resp.Header.All() {
			if name := http.CanonicalHeaderKey(string(k)); !hopByHop[name] {
				h.Add(name, string(v))
			}
		}
		w.WriteHeader(resp.StatusCode())
		_, _ = w.Write(resp.Body())
	}
	return bench.ServeLoopback(listen, http.HandlerFunc(hop))
}
