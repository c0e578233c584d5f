// Command gohop is the bench's Go floor: a hop that translates nothing,
// built from the same two pieces as userbridge's hop (fasthttp's HTTP/1.1
// server, fasthttp's HostClient with a keep-alive pool to the upstream) but
// with no router, no net/http types and no rules, so that a run shows what
// any Go hop costs on the machine next to what nginx's pass-through costs.
//
//	go run ./bench/gohop --listen 127.0.0.1:18099 --upstream 127.0.0.1:18091
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
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

func run(listen, upstream string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing %s: the bench's servers listen on loopback only", listen)
	}
	hc := &fasthttp.HostClient{
		Addr:                     upstream,
		MaxIdleConnDuration:      time.Minute,
		ReadTimeout:              5 * time.Second,
		WriteTimeout:             5 * time.Second,
		DisablePathNormalizing:   true,
		NoDefaultUserAgentHeader: true,
	}
	// fasthttp's request and response are forwarded as they are: every
	// header but the hop-by-hop ones, which fasthttp's own writers manage
	// (Connection, Content-Length, Transfer-Encoding), the Host set to the
	// upstream's.
	hop := func(ctx *fasthttp.RequestCtx) {
		req := &ctx.Request
		req.Header.SetHost(upstream)
		req.Header.Del("Keep-Alive")
		req.Header.Del("Proxy-Connection")
		req.Header.Del("Te")
		req.Header.Del("Upgrade")
		if err := hc.Do(req, &ctx.Response); err != nil {
			ctx.Error("upstream unreachable", fasthttp.StatusBadGateway)
		}
	}
	srv := &fasthttp.Server{Handler: hop, NoDefaultServerHeader: true, NoDefaultContentType: true,
		ReadTimeout: 5 * time.Second, IdleTimeout: 120 * time.Second}
	go func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGINT, syscall.SIGTERM)
		<-c
		_ = srv.Shutdown()
	}()
	return srv.ListenAndServe(listen)
}
