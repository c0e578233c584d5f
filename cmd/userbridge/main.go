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
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/userbridge/userbridge/adapters/registry"
	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/app"
	"github.com/userbridge/userbridge/internal/backend"
	"github.com/userbridge/userbridge/internal/telemetry"
	"github.com/userbridge/userbridge/mapping"
)

const usage = `userbridge: a compatibility proxy for user-management APIs

Usage:
  userbridge [serve] [--config F] [--listen ADDR] [--upstream URL] [--upstream-timeout D]
                    [--upstream-profile canonical|scim|rules|ldap]
  userbridge backend [--listen ADDR]          run the reference backend alone
  userbridge translate --dialect NAME [--path P] [--rules F] < body.json
  userbridge dialects                          list dialects and routes
  userbridge routes [--config F]               list every mounted route
  userbridge validate --config F               check a config, every problem at once
  userbridge test [--config F] [--coverage-min PCT] PATH...   run rule test cases (YAML)
  userbridge openapi [--config F] [--dialect D] [--out DIR]
                                               each served dialect's OpenAPI 3.1 contract
  userbridge schema rules|config               the JSON Schema of rule files or of the config
  userbridge health [--url URL]                exit 0 when URL (default /healthz on 127.0.0.1:8080) answers 2xx
  userbridge version

serve reloads its configuration on SIGHUP and when --config F or a rule
file it names changes; tracing is on when OTEL_EXPORTER_OTLP_ENDPOINT (or
OTEL_TRACES_EXPORTER=otlp) is set.
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
	case "test":
		return ruleTest(args, stdout, stderr)
	case "health":
		err = health(args, stdout)
	case "version":
		version(stdout)
	case "openapi":
		err = openapiCmd(args, stdout)
	case "schema":
		err = schemaCmd(args, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "userbridge: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err != nil {
		if !errors.Is(err, errQuiet) {
			fmt.Fprintln(stderr, "userbridge:", err)
		}
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 1
	}
	return 0
}

// errQuiet ends a command with status 1 after it has said why in its log.
var errQuiet = errors.New("userbridge: failed (see the log)")

// loadConfig reads the config and applies the flags given.
func loadConfig(fs *flag.FlagSet, args []string) (*config.Config, config.Source, error) {
	load, _, err := configFlags(fs, args)
	if err != nil {
		return nil, config.Source{}, err
	}
	return load()
}

// configFlags parses --config, --listen and --upstream. load reads the
// file (or the embedded default) and the environment, then applies the
// flags; serve calls it again on every reload. path is the --config file.
func configFlags(fs *flag.FlagSet, args []string) (load func() (*config.Config, config.Source, error), path string, err error) {
	file := fs.String("config", "", "configuration file (default: the embedded default)")
	listen := fs.String("listen", "", "main listener address, e.g. 127.0.0.1:8080")
	up := fs.String("upstream", "", "upstream base URL (replaces the demo backend)")
	upTimeout := fs.Duration("upstream-timeout", 0, "one deadline for all attempts of one upstream call, 10ms to 10m, e.g. 3s (default: upstream.timeout, 5s)")
	upProfile := fs.String("upstream-profile", "", "the upstream's protocol: canonical, scim or rules (default: upstream.profile, canonical)")
	if err := fs.Parse(args); err != nil {
		return nil, "", err
	}
	// A flag given is a value of its own, 0 included (never "the
	// default"): checked against the key's range as the file's and the
	// environment's values are, before anything is loaded.
	timeoutSet := false
	fs.Visit(func(f *flag.Flag) { timeoutSet = timeoutSet || f.Name == "upstream-timeout" })
	if timeoutSet {
		if err := config.CheckDuration("upstream.timeout", *upTimeout); err != nil {
			return nil, "", fmt.Errorf("--upstream-timeout %s: upstream.timeout %w", *upTimeout, err)
		}
	}
	load = func() (*config.Config, config.Source, error) {
		cfg, src, err := config.Load(*file)
		if err != nil {
			return nil, src, err
		}
		if *listen != "" {
			cfg.Listen = *listen
		}
		if *up != "" {
			cfg.Upstream.URL = *up
		}
		if *upProfile != "" {
			cfg.Upstream.Profile = *upProfile
		}
		if timeoutSet {
			cfg.Upstream.Timeout = config.Duration(*upTimeout)
		}
		return cfg, src, nil
	}
	return load, *file, nil
}

func serve(args []string, stderr io.Writer) error {
	procs, byDefault := app.RuntimeDefaults(os.LookupEnv)
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	load, path, err := configFlags(fs, args)
	if err != nil {
		return err
	}
	cfg, src, err := load()
	if err != nil {
		return err
	}
	level := new(slog.LevelVar)
	level.Set(telemetry.ParseLevel(cfg.Log.Level))
	log := telemetry.NewLogger(stderr, cfg.Log.Format, level)
	build := telemetry.ReadBuild()
	if byDefault {
		log.Info("runtime: one processor, serve's default (GOMAXPROCS=0 for every core, or GOMAXPROCS=N)", "gomaxprocs", procs)
	} else {
		log.Info("runtime: processors as GOMAXPROCS sets", "gomaxprocs", procs)
	}
	opts := app.Options{Logger: log, Level: level, Load: load, ConfigFile: path, Build: build}
	tp, err := telemetry.TracingFromEnv(context.Background(), os.LookupEnv, build)
	if err != nil {
		return err
	}
	if tp != nil {
		opts.TracerProvider = tp
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := tp.Shutdown(ctx); err != nil {
				log.Warn("tracing: the last spans were not exported", "error", err)
			}
		}()
		log.Info("tracing: exporting spans over OTLP (OTEL_EXPORTER_OTLP_*)")
	}
	a, err := app.NewWith(cfg, src, opts)
	if err != nil {
		return err
	}
	// Signals are caught before the listeners open: a SIGHUP or SIGTERM
	// sent as soon as userbridge answers never takes the default action.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				log.Info("SIGHUP: reloading the configuration")
				_ = a.Reload() // logged
			}
		}
	}()
	go a.Watch(ctx, app.DefaultWatchInterval)
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
	if cfg.Admin.Listen != "" {
		log.Info("serving probes and metrics", "url", "http://"+a.AdminAddr()+"/metrics")
	}
	errc := make(chan error, 1)
	go func() { errc <- wait() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stop() // a second SIGINT or SIGTERM now ends the process at once
	cur, _ := a.Current()
	log.Info("shutting down: finishing in-flight requests", "timeout", cur.Server.ShutdownTimeout.D().String())
	if err := a.Shutdown(context.Background()); err != nil {
		// Said in the log, where it is collected; the exit status (1)
		// tells the orchestrator the drain did not complete.
		if errors.Is(err, context.DeadlineExceeded) {
			log.Error("shutdown: requests or connections still open after server.shutdownTimeout were cut off",
				"timeout", cur.Server.ShutdownTimeout.D().String())
		} else {
			log.Error("shutdown: " + err.Error())
		}
		return errQuiet
	}
	log.Info("shutdown complete")
	return nil
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

// resolve loads the configuration a command's flags name and checks it.
func resolve(cmd string, args []string) (*config.Config, config.Source, []config.Mount, error) {
	cfg, src, err := loadConfig(flag.NewFlagSet(cmd, flag.ContinueOnError), args)
	if err != nil {
		return nil, src, nil, err
	}
	mounts, err := app.Resolve(cfg, src)
	return cfg, src, mounts, err
}

func routes(args []string, stdout io.Writer) error {
	cfg, src, mounts, err := resolve("routes", args)
	if err != nil {
		return err
	}
	up := cfg.Upstream.URL
	if cfg.IsDemo() {
		up = "demo backend (in-process)"
	}
	profile := cfg.Upstream.Profile
	if profile == config.ProfileRules {
		if rules, err := app.LoadRules(cfg, src); err == nil {
			profile += ": " + rules.Name() + ", " + cfg.RulesFile(src)
		}
	}
	sort.Slice(mounts, func(i, j int) bool { return mounts[i].Path < mounts[j].Path })
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "METHOD\tROUTE\tDIALECT\tLISTENER\tHOST\tUPSTREAM")
	for _, m := range mounts {
		host := m.Host
		if host == "" {
			host = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s (%s)\n", m.Method, m.Path, m.Dialect.Name(), m.Listen, host, up, profile)
	}
	admin := cfg.Admin.Listen
	if admin == "" {
		admin = cfg.Listen
	}
	for _, p := range []struct{ path, what string }{{"/healthz", "(liveness)"}, {"/readyz", "(readiness)"}, {"/metrics", "(metrics)"}} {
		fmt.Fprintf(tw, "GET\t%s\t%s\t%s\t*\t-\n", p.path, p.what, admin)
	}
	return tw.Flush()
}

func validate(args []string, stdout io.Writer) error {
	cfg, src, mounts, err := resolve("validate", args)
	if err != nil {
		return err
	}
	if err := app.CheckUpstream(cfg, src); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: valid; %d dialects mounted\n", src.Name, len(mounts))
	return nil
}

func version(stdout io.Writer) {
	b := telemetry.ReadBuild()
	fmt.Fprintf(stdout, "userbridge %s commit %s %s\n", b.Version, b.Revision, b.GoVersion)
}
