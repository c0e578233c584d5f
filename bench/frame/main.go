// Command frame is the bench's floor for userbridge: the frame userbridge
// is built on, with nothing of userbridge in it. gin's engine served by
// net/http's server; each Finix update (PUT /users/{id}) forwarded as
// userbridge forwards it (PATCH /users/{id}, the request's body unchanged,
// the JSON headers) through go-retryablehttp over net/http's Transport, a
// keep-alive pool to the upstream sized as userbridge's default; the
// upstream's status, content type and body returned. No rules, no
// translation, no metrics, no logs, no breaker, no auth: what userbridge
// costs above this is what userbridge itself does.
//
//	go run ./bench/frame --listen 127.0.0.1:18099 --upstream http://127.0.0.1:18091
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/userbridge/userbridge/bench"
)

// The settings userbridge runs with by default (docs/configuration.md), so
// that the floor is measured under the same conditions; main_test.go checks
// the runtime pair against internal/app.
const (
	gcPercent = 400 // app.DefaultGCPercent, unless GOGC is set
	procs     = 1   // app.DefaultProcs, unless GOMAXPROCS is set

	maxIdleConns    = 256              // upstream.DefaultMaxIdleConnsPerHost (upstream.maxIdleConns)
	idleConnTimeout = 30 * time.Second // upstream.DefaultIdleConnTimeout (upstream.idleTimeout)
	dialTimeout     = 2 * time.Second  // upstream.DefaultDialTimeout

	maxHeaderBytes    = 64 << 10
	readHeaderTimeout = 5 * time.Second   // server.readHeaderTimeout
	readTimeout       = 30 * time.Second  // server.readTimeout
	writeTimeout      = 60 * time.Second  // server.writeTimeout
	idleTimeout       = 120 * time.Second // server.idleTimeout
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18099", "loopback address to listen on")
	upstream := flag.String("upstream", "http://127.0.0.1:18091", "the upstream's base URL")
	flag.Parse()
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
	if _, set := os.LookupEnv("GOMAXPROCS"); !set {
		runtime.GOMAXPROCS(procs)
	}
	if err := run(*listen, *upstream); err != nil {
		fmt.Fprintln(os.Stderr, "frame:", err)
		os.Exit(1)
	}
}

func run(listen, upstream string) error {
	h, closeIdle, err := newFrame(upstream)
	if err != nil {
		return err
	}
	defer closeIdle()
	return bench.ServeLoopbackWith(listen, &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout,
		WriteTimeout: writeTimeout, IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes})
}

// newFrame returns the frame's handler, forwarding to the upstream at base,
// and a function that closes its idle upstream connections.
func newFrame(base string) (http.Handler, func(), error) {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	tr := &http.Transport{
		DialContext:            (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		DisableCompression:     true,
		MaxIdleConns:           maxIdleConns,
		MaxIdleConnsPerHost:    maxIdleConns,
		IdleConnTimeout:        idleConnTimeout,
		MaxResponseHeaderBytes: maxHeaderBytes,
		Protocols:              &protocols,
	}
	h, err := bench.NewFrame(base, tr)
	if err != nil {
		return nil, nil, fmt.Errorf("--%w", err)
	}
	return h, tr.CloseIdleConnections, nil
}
