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
	"go.opentelemetry.io/otel"
)

// commands is the command table: one entry a command, in the order the
// overview lists them. Adding a command is adding its entry here.
func commands() []command {
	return []command{
		{name: "serve", args: "[--config F] [--listen ADDR] [--upstream URL] [--upstream-profile canonical|scim|rules|ldap] [--upstream-timeout D]",
			about: "serve the dialects (the default command)", run: serve},
		{name: "backend", args: "[--listen ADDR] [--demo-users=false]", about: "run the reference canonical backend alone", run: runBackend},
		{name: "translate", args: "--dialect NAME [--path P] [--rules F] < body.json",
			about: "print the canonical update a body becomes (password redacted), or the dialect's error", run: translate},
		{name: "dialects", about: "list each built-in dialect with its method and route", run: dialects},
		{name: "routes", args: "[--config F] [serve's flags]", about: "list every mounted route, listener and upstream", run: routes},
		{name: "validate", args: "[--config F] [serve's flags]", about: "check a configuration: every problem at once, each with file:line", run: validate},
		{name: "test", args: "[--config F] [--coverage-min PCT] PATH...", about: "run rule test cases (YAML): diffs, field coverage, N passed, N failed",
			run: ruleTest, help: testHelp},
		{name: "openapi", args: "[--config F] [--dialect D] [--out DIR]",
			about: "write each served dialect's OpenAPI 3.1 contract, generated from its rules", run: openapiCmd},
		{name: "schema", args: "rules|config", about: "print the JSON Schema of rule files or of the configuration", run: schemaCmd},
		{name: "migration", args: "report --log FILE [--min-compared N] [--min-match RATIO]",
			about: "sum up the comparisons with legacy vendors per dialect; exit 0 only when every dialect meets both thresholds", run: migrationCmd, help: migrationHelp},
		{name: "health", args: "[--url URL] [--timeout D]", about: "probe /healthz (default " + defaultHealthURL + "): exit 0 on a 2xx, 1 otherwise", run: health},
		{name: "version", about: "print the version, commit and build date", run: version},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run runs the command args name (serve when the first argument is a
// flag, or there is none) and returns the exit status: 0, 1 when the
// command failed, 2 when it was called wrongly.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	name := "serve"
	if len(args) > 0 {
		switch a := args[0]; {
		case a == "help" || a == "-h" || a == "--help" || a == "-help":
			overview(stdout)
			return 0
		case !strings.HasPrefix(a, "-"):
			name, args = a, args[1:]
		}
	}
	c, ok := lookupCommand(name)
	if !ok {
		fmt.Fprintf(stderr, "userbridge: unknown command %q\n\n", name)
		overview(stderr)
		return 2
	}
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, cmd: c}
	return e.exitStatus(c.run(e, args))
}

// configFlags are the flags that choose and adjust the configuration:
// --config, --listen, --upstream, --upstream-timeout, --upstream-profile.
type configFlags struct {
	fs               *flag.FlagSet
	file, listen, up *string
	upProfile        *string
	upTimeout        *time.Duration
	timeoutSet       bool
}

// newConfigFlags defines the configuration flags on fs.
func newConfigFlags(fs *flag.FlagSet) *configFlags {
	return &configFlags{
		fs:        fs,
		file:      fs.String("config", "", "configuration file (default: the embedded default)"),
		listen:    fs.String("listen", "", "main listener address, e.g. 127.0.0.1:8080 (default: listen)"),
		up:        fs.String("upstream", "", "upstream base URL (replaces the demo backend)"),
		upTimeout: durationFlag(fs, "upstream-timeout", "upstream.timeout", "one deadline for all attempts of one upstream call, a `duration` from 10ms to 10m, e.g. 3s (default: upstream.timeout, 5s)"),
		upProfile: fs.String("upstream-profile", "", "the upstream's protocol: canonical, scim, rules or ldap (default: upstream.profile, canonical)"),
	}
}

// durationFlag defines a duration flag for key whose bad value is said as
// the configuration says it, naming the key: "upstream.timeout: \"5
// seconds\" is not a duration such as 5s or 250ms" (the flag package's
// own says "parse error").
func durationFlag(fs *flag.FlagSet, name, key, usage string) *time.Duration {
	d := new(time.Duration)
	fs.Func(name, usage, func(v string) error {
		var c config.Duration
		if err := c.UnmarshalText([]byte(v)); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		*d = c.D()
		return nil
	})
	return d
}

// check checks the flags given, once parsed. A flag given is a value of
// its own, 0 included (never "the default"): checked against the key's
// range as the file's and the environment's values are, before anything
// is loaded.
func (f *configFlags) check() error {
	f.fs.Visit(func(fl *flag.Flag) { f.timeoutSet = f.timeoutSet || fl.Name == "upstream-timeout" })
	if f.timeoutSet {
		if err := config.CheckDuration("upstream.timeout", *f.upTimeout); err != nil {
			return fmt.Errorf("--upstream-timeout %s: upstream.timeout %w", *f.upTimeout, err)
		}
	}
	return nil
}

// apply sets what the flags given say over cfg, each recorded as its
// key's origin (SetBy): a problem of the value names the flag, not a line
// of the file.
func (f *configFlags) apply(cfg *config.Config) {
	if *f.listen != "" {
		cfg.Listen = *f.listen
		cfg.SetBy("listen", "--listen")
	}
	if *f.up != "" {
		cfg.Upstream.URL = *f.up
		cfg.SetBy("upstream.url", "--upstream")
	}
	if *f.upProfile != "" {
		cfg.Upstream.Profile = *f.upProfile
		cfg.SetBy("upstream.profile", "--upstream-profile")
	}
	if f.timeoutSet {
		cfg.Upstream.Timeout = config.Duration(*f.upTimeout)
		cfg.SetBy("upstream.timeout", "--upstream-timeout")
	}
}

// load reads the file (or the embedded default) and the environment, then
// applies the flags; serve calls it again on every reload.
func (f *configFlags) load() (*config.Config, config.Source, error) {
	cfg, src, err := config.Load(*f.file)
	if err != nil {
		return nil, src, err
	}
	f.apply(cfg)
	return cfg, src, nil
}

// parseConfigFlags defines the configuration flags on a command's flag
// set, parses args and checks them.
func (e *env) parseConfigFlags(args []string) (*configFlags, error) {
	f := newConfigFlags(e.flags())
	if err := e.parse(f.fs, args); err != nil {
		return nil, err
	}
	return f, f.check()
}

// The time the last spans are given to reach the collector on the way
// out: what is left of server.shutdownTimeout, within these bounds.
const (
	minFlush = time.Second
	maxFlush = 5 * time.Second
)

func serve(e *env, args []string) error {
	stderr := e.stderr
	var drainBy time.Time // set on SIGTERM: then + server.shutdownTimeout
	procs, byDefault := app.RuntimeDefaults(os.LookupEnv)
	flags, err := e.parseConfigFlags(args)
	if err != nil {
		return err
	}
	load, path := flags.load, *flags.file
	cfg, src, err := load()
	if err != nil {
		return err
	}
	level := new(slog.LevelVar)
	level.Set(telemetry.ParseLevel(cfg.Log.Level))
	log := telemetry.NewLogger(stderr, cfg.Log.Format, level)
	// From here on serve's failures are log lines too, in the log's format
	// (log.format json: one JSON line a collector can parse), each problem
	// of a configuration refused at start-up one item of "problems", as a
	// refused reload's are.
	fail := func(msg string, err error) error {
		log.Error(msg, "problems", app.Problems(err))
		return errQuiet
	}
	build := telemetry.ReadBuild()
	if byDefault {
		log.Info("runtime: one processor, serve's default (GOMAXPROCS=0 for every core, or GOMAXPROCS=N)", "gomaxprocs", procs)
	} else {
		log.Info("runtime: processors as GOMAXPROCS sets", "gomaxprocs", procs)
	}
	opts := app.Options{Logger: log, Level: level, Load: load, ConfigFile: path, Build: build}
	tp, err := telemetry.TracingFromEnv(context.Background(), os.LookupEnv, build)
	if err != nil {
		return fail("serve: cannot start", err)
	}
	if tp != nil {
		// The SDK's own errors (an export the collector did not take) go
		// to the log, in its format: otel's default handler prints a
		// plain line on stderr, amid the JSON lines.
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("tracing: the OpenTelemetry SDK failed", "error", err) }))
		opts.TracerProvider = tp
		defer func() {
			// The last spans go within what is left of the drain's
			// budget, at least 1 s, at most 5 s: serve exits within
			// server.shutdownTimeout plus 1 s whatever the collector
			// does, and a Kubernetes grace period that holds the
			// preStop pause and the drain holds it.
			within := maxFlush
			if !drainBy.IsZero() {
				within = min(max(time.Until(drainBy), minFlush), maxFlush).Round(time.Millisecond)
			}
			ctx, cancel := context.WithTimeout(context.Background(), within)
			defer cancel()
			if err := tp.Shutdown(ctx); err != nil {
				log.Warn("tracing: the last spans were not exported", "error", err, "within", within.String())
			}
		}()
		log.Info("tracing: exporting spans over OTLP (OTEL_EXPORTER_OTLP_*)")
	}
	a, err := app.NewWith(cfg, src, opts)
	if err != nil {
		return fail("serve: cannot start", err)
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
		return fail("serve: cannot start", err)
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
		if err == nil {
			return nil
		}
		return fail("serve: a listener failed", err)
	case <-ctx.Done():
	}
	stop() // a second SIGINT or SIGTERM now ends the process at once
	cur, _ := a.Current()
	drainBy = time.Now().Add(cur.Server.ShutdownTimeout.D())
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

func runBackend(e *env, args []string) error {
	stderr := e.stderr
	fs := e.flags()
	listen := fs.String("listen", "127.0.0.1:8081", "address to listen on")
	seed := fs.Bool("demo-users", true, "seed the demo users")
	if err := e.parse(fs, args); err != nil {
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

func dialects(e *env, args []string) error {
	if err := e.parse(e.flags(), args); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
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
func (e *env) resolve(args []string) (*config.Config, config.Source, []config.Mount, error) {
	flags, err := e.parseConfigFlags(args)
	if err != nil {
		return nil, config.Source{}, nil, err
	}
	cfg, src, err := flags.load()
	if err != nil {
		return nil, src, nil, err
	}
	mounts, err := app.Resolve(cfg, src)
	return cfg, src, mounts, err
}

func routes(e *env, args []string) error {
	cfg, src, mounts, err := e.resolve(args)
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
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
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

// validate checks a configuration as serve would, and reports every
// problem it can find in one run, each with its file and line: a key or
// value that does not fit does not hide the problems of the rest, which
// is checked as far as it decodes (the rule files included).
func validate(e *env, args []string) error {
	flags, err := e.parseConfigFlags(args)
	if err != nil {
		return err
	}
	cfg, src, err := config.LoadAll(*flags.file)
	problems := config.Problems(err)
	var mounts []config.Mount
	if cfg != nil {
		flags.apply(cfg)
		mounts, err = app.Resolve(cfg, src)
		problems = append(problems, config.Problems(err)...)
	}
	if len(problems) == 0 {
		// What serve warns of at start-up (and on reload), before the
		// directory is reached: it holds whether or not it answers.
		for _, w := range cfg.Upstream.ClearText() {
			fmt.Fprintf(e.stderr, "warning: %s: %s\n", cfg.Named(src, w.Key), w.Problem)
		}
		// What serve reads and reaches before it listens, once the
		// configuration is otherwise valid: each mounted dialect's
		// credential files and variables, read by the code serve builds
		// its authenticators with (no JWKS fetched: serve starts without
		// one); profile ldap's directory, reached, bound and searched.
		problems = config.Problems(app.CheckAuth(cfg, src, mounts))
		problems = append(problems, config.Problems(app.CheckUpstream(cfg, src))...)
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(e.stderr, p)
		}
		fmt.Fprintf(e.stderr, "%s: %d problem%s\n", src.Name, len(problems), plural(len(problems)))
		return errQuiet
	}
	fmt.Fprintf(e.stdout, "%s: valid; %d dialects mounted\n", src.Name, len(mounts))
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func version(e *env, args []string) error {
	if err := e.parse(e.flags(), args); err != nil {
		return err
	}
	b := telemetry.ReadBuild()
	fmt.Fprintf(e.stdout, "userbridge %s\ncommit %s\ndate %s\n%s\n", b.Version, b.Revision, b.Date, b.GoVersion)
	return nil
}
