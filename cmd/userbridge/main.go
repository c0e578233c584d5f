// Command userbridge serves legacy "update user" API dialects in front of
// an identity backend. `userbridge` alone serves the embedded default.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/userbridge/userbridge/adapters/registry"
	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/app"
	"github.com/userbridge/userbridge/internal/backend"
	"github.com/userbridge/userbridge/mapping"
)

const usage = `userbridge: a compatibility proxy for user-management APIs

Usage:
  userbridge [serve] [--config F] [--listen ADDR] [--upstream URL]
  userbridge backend [--listen ADDR]          run the reference backend alone
  userbridge translate --dialect NAME [--path P] [--rules F] < body.json
  userbridge dialects                          list dialects and routes
  userbridge routes [--config F]               list every mounted route
  userbridge validate --config F               check a config, every problem at once
  userbridge version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(args, stderr)
	case "backend":
		err = runBackend(args, stderr)
	case "translate":
		return translate(args, stdin, stdout, stderr)
	case "dialects":
		err = dialects(stdout)
	case "routes":
		err = routes(args, stdout)
	case "validate":
		err = validate(args, stdout)
	case "version":
		version(stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "userbridge: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "userbridge:", err)
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 1
	}
	return 0
}

// loadConfig reads the config and applies the flags given.
func loadConfig(fs *flag.FlagSet, args []string) (*config.Config, config.Source, error) {
	path := fs.String("config", "", "configuration file (default: the embedded default)")
	listen := fs.String("listen", "", "main listener address, e.g. 127.0.0.1:8080")
	up := fs.String("upstream", "", "upstream base URL (replaces the demo backend)")
	if err := fs.Parse(args); err != nil {
		return nil, config.Source{}, err
	}
	cfg, src, err := config.Load(*path)
	if err != nil {
		return nil, src, err
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *up != "" {
		cfg.Upstream.URL = *up
	}
	return cfg, src, nil
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.Log.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func serve(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg, src, err := loadConfig(fs, args)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	a, err := app.New(cfg, src, log)
	if err != nil {
		return err
	}
	wait, err := a.Start()
	if err != nil {
		return err
	}
	if a.Demo != nil {
		log.Warn("using the in-memory demo backend with demo users; set upstream.url or --upstream for a real one",
			"backend", a.UpstreamURL(), "config", src.Name)
	} else {
		log.Info("forwarding to upstream", "upstream", a.UpstreamURL(), "profile", cfg.Upstream.Profile, "config", src.Name)
	}
	for _, m := range a.Mounts {
		log.Info("serving dialect", "dialect", m.Dialect.Name(), "method", m.Method, "route", m.Path,
			"url", "http://"+a.Server.Addr(m.Listen)+m.Path)
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
	log.Info("shutting down: finishing in-flight requests", "timeout", cfg.Server.ShutdownTimeout.D().String())
	return a.Shutdown(context.Background())
}

func runBackend(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("backend", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8081", "address to listen on")
	seed := fs.Bool("demo-users", true, "seed the demo users")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b := backend.New(backend.Options{Seed: *seed})
	srv := &http.Server{Addr: *listen, Handler: b.Handler(), ReadHeaderTimeout: 5e9}
	fmt.Fprintf(stderr, "userbridge backend: the reference canonical backend (in memory) listens on http://%s\n", *listen)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); _ = srv.Shutdown(context.Background()) }()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func dialects(stdout io.Writer) error {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DIALECT\tMETHOD\tROUTE\tDESCRIPTION")
	for _, b := range registry.Builtins() {
		d, err := b.Load("", nil, mapping.Options{})
		if err != nil {
			return err
		}
		r := d.Program().Route()
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", b.Name, r.Method, r.Path, d.Program().Description())
	}
	return tw.Flush()
}

func routes(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("routes", flag.ContinueOnError)
	cfg, src, err := loadConfig(fs, args)
	if err != nil {
		return err
	}
	mounts, err := cfg.Resolve(src)
	if err != nil {
		return err
	}
	up := cfg.Upstream.URL
	if cfg.IsDemo() {
		up = "demo backend (in-process)"
	}
	sort.Slice(mounts, func(i, j int) bool { return mounts[i].Path < mounts[j].Path })
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "METHOD\tROUTE\tDIALECT\tLISTENER\tHOST\tUPSTREAM")
	for _, m := range mounts {
		host := m.Host
		if host == "" {
			host = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s (%s)\n", m.Method, m.Path, m.Dialect.Name(), m.Listen, host, up, cfg.Upstream.Profile)
	}
	return tw.Flush()
}

func validate(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	cfg, src, err := loadConfig(fs, args)
	if err != nil {
		return err
	}
	mounts, err := cfg.Resolve(src)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: valid; %d dialects mounted\n", src.Name, len(mounts))
	return nil
}

func version(stdout io.Writer) {
	v, rev, goV := "(devel)", "unknown", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		goV = bi.GoVersion
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				rev = s.Value
			}
		}
	}
	fmt.Fprintf(stdout, "userbridge %s commit %s %s\n", v, rev, goV)
}
