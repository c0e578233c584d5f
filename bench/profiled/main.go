// Command profiled is userbridge's serve command with net/http/pprof on a
// second loopback listener, for profiling under load (bench/run --profile):
// the same app (internal/app), configuration, environment and flags as
// `userbridge serve`, plus --pprof.
//
//	go run ./bench/profiled --upstream http://127.0.0.1:18091 --listen 127.0.0.1:18094 --pprof 127.0.0.1:18096
//	go tool pprof -top http://127.0.0.1:18096/debug/pprof/profile?seconds=10
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/app"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "profiled:", err)
		os.Exit(1)
	}
}

func run() error {
	app.RuntimeDefaults(os.LookupEnv) // as serve runs
	path := flag.String("config", "", "configuration file (default: the embedded default)")
	listen := flag.String("listen", "", "main listener address")
	up := flag.String("upstream", "", "upstream base URL")
	pp := flag.String("pprof", "127.0.0.1:6060", "loopback address of the pprof listener")
	flag.Parse()
	cfg, src, err := config.Load(*path)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *up != "" {
		cfg.Upstream.URL = *up
	}
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler = slog.NewJSONHandler(os.Stderr, opts)
	if cfg.Log.Format == "text" {
		h = slog.NewTextHandler(os.Stderr, opts)
	}
	a, err := app.New(cfg, src, slog.New(h))
	if err != nil {
		return err
	}

	host, _, err := net.SplitHostPort(*pp)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing --pprof %s: loopback only", *pp)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", *pp)
	if err != nil {
		return err
	}
	psrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = psrv.Serve(ln) }()
	defer psrv.Close()

	wait, err := a.Start()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- wait() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if err := a.Shutdown(context.Background()); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
