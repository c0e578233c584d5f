// Package app wires userbridge together from a configuration: the dialects,
// the upstream client, the demo backend when no upstream is set, and the
// server. cmd/userbridge and the end-to-end tests both start it this way.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/trace"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/backend"
	"github.com/userbridge/userbridge/internal/migrate"
	"github.com/userbridge/userbridge/internal/server"
	"github.com/userbridge/userbridge/internal/telemetry"
	"github.com/userbridge/userbridge/internal/upstream"
)

// App is a configured userbridge.
type App struct {
	// Config and Mounts are the configuration userbridge started with;
	// Current tells the one it serves now, after reloads.
	Config   *config.Config
	Mounts   []config.Mount
	Server   *server.Server
	Upstream *upstream.Client
	// Profile is the client of the configured upstream profile (canonical,
	// scim, rules or ldap) that the dialects' updates go through; Upstream
	// is its HTTP client (nil for ldap).
	Profile server.Upstream
	// Demo is the in-process backend, nil when an upstream is configured.
	Demo *backend.Backend
	// Metrics are the app's own Prometheus series, served on /metrics.
	Metrics *telemetry.Metrics

	log      *slog.Logger
	opts     Options
	state    atomic.Pointer[loaded]
	reloadMu sync.Mutex
	reloads  reloadState // guarded by reloadMu
	// upstreamSums are the upstream's files (config's UpstreamFiles) as read at
	// start, by path: the upstream is built once.
	upstreamSums map[string][32]byte
	// watchBase is the watched files' fingerprint when the configuration
	// was loaded: Watch's first point of comparison.
	watchBase [32]byte
	admin     *gin.Engine // the admin listener's engine, when admin.listen is set
	draining  atomic.Bool // Shutdown began: /readyz answers 503
	demoSrv   *http.Server
	demoLn    net.Listener
	// migration records the comparisons with legacy vendors; migLog is its
	// file (migration.log), closed at Shutdown.
	migration *migrate.Recorder
	migLog    io.Closer
}

// Options are what an App needs besides its configuration. Every field is
// optional.
type Options struct {
	// Logger receives the access lines and the app's own messages.
	Logger *slog.Logger
	// Level, when set, is Logger's level: New and every reload set it from
	// log.level.
	Level *slog.LevelVar
	// Load reads the configuration again for Reload: the same file,
	// environment and flags as at start. Nil: Reload is refused.
	Load func() (*config.Config, config.Source, error)
	// ConfigFile is the file Watch watches, besides the rule files the
	// configuration names. Empty: only the rule files.
	ConfigFile string
	// TracerProvider, when set, traces every dialect request (a server
	// span) and every upstream attempt (a client span), and the upstream
	// receives the client span's traceparent. Nil: no spans; the client's
	// own traceparent is passed on.
	TracerProvider trace.TracerProvider
	// Build is what userbridge_build_info reports; zero: read from the binary.
	Build telemetry.Build
}

// loaded is one configuration being served.
type loaded struct {
	cfg    *config.Config
	src    config.Source
	mounts []config.Mount
}

// New validates the configuration and builds everything; nothing listens
// yet. It is NewWith with a logger alone.
func New(cfg *config.Config, src config.Source, log *slog.Logger) (*App, error) {
	return NewWith(cfg, src, Options{Logger: log})
}

// NewWith validates the configuration and builds everything; nothing
// listens yet.
func NewWith(cfg *config.Config, src config.Source, o Options) (*App, error) {
	applied := digest(cfg, src) // before Resolve reads the files
	mounts, err := Resolve(cfg, src)
	if err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	if o.Build == (telemetry.Build{}) {
		o.Build = telemetry.ReadBuild()
	}
	if o.Level != nil {
		o.Level.Set(telemetry.ParseLevel(cfg.Log.Level))
	}
	a := &App{Config: cfg, Mounts: mounts, log: log, opts: o, reloads: reloadState{applied: applied},
		upstreamSums: fileSums(cfg.UpstreamFiles(src))}
	a.state.Store(&loaded{cfg: cfg, src: src, mounts: mounts})
	// What Watch compares with first: the files as they were loaded, not
	// as they are when Watch starts (a change in between is not missed).
	a.watchBase = a.fingerprint()
	var uo upstream.Options
	if cfg.IsDemo() {
		a.Demo = backend.New(backend.Options{Seed: true})
		a.demoLn, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("app: demo backend: %w", err)
		}
		uo.URL = "http://" + a.demoLn.Addr().String()
	}
	if o.TracerProvider != nil {
		uo.WrapTransport = telemetry.WrapTransport(o.TracerProvider)
	}
	uo.Logger = log
	if cfg.Upstream.Profile != config.ProfileLDAP { // ldap has no HTTP client
		a.Upstream, err = upstream.New(cfg.Upstream, uo)
		if err != nil {
			a.closeDemo()
			return nil, err
		}
	}
	if a.Profile, err = newProfile(cfg, src, a.Upstream, log); err != nil {
		a.closeDemo()
		return nil, err
	}
	warnClearText(log, cfg, src)
	a.Metrics = telemetry.NewMetrics(o.Build, a.probed().BreakerState)
	migLog, err := migrate.OpenLog(cfg.Migration.Log)
	if err != nil {
		a.closeDemo()
		return nil, err
	}
	a.migLog, a.migration = migLog, migrate.NewRecorder(migLog, a.Metrics)
	if cfg.Admin.Listen != "" {
		gin.SetMode(gin.ReleaseMode)
		a.admin = gin.New()
		a.extraRoutes(a.admin)
	}
	a.Server, err = server.New(a.serverOptions(cfg, mounts))
	if err != nil {
		a.closeDemo()
		_ = a.migLog.Close()
		return nil, authProblems(cfg, src, err) // as validate prints them
	}
	// The vendors' breakers are the current routing's: a reload's Swap
	// replaces them, and the gauge follows.
	a.Metrics.SetVendorBreakers(a.Server.VendorBreakers)
	a.declareSeries(mounts)
	return a, nil
}

// serverOptions are the server's options for one configuration.
func (a *App) serverOptions(cfg *config.Config, mounts []config.Mount) server.Options {
	o := server.Options{Config: cfg, Mounts: mounts, Upstream: a.Profile, Logger: a.log, Observer: a.Metrics, Migration: a.migration}
	if a.opts.TracerProvider != nil {
		o.TracerProvider, o.Propagator = a.opts.TracerProvider, telemetry.Propagator()
	}
	if cfg.Admin.Listen != "" {
		o.AdminListen, o.Admin = cfg.Admin.Listen, a.admin
	} else {
		o.Extra = a.extraRoutes
	}
	return o
}

// Current is the configuration being served and its mounts: the start-up
// one until a reload succeeds.
func (a *App) Current() (*config.Config, []config.Mount) {
	l := a.state.Load()
	return l.cfg, l.mounts
}

// AdminAddr is the bound address of the probes and metrics: the admin
// listener's when admin.listen is set, else the main listener's.
func (a *App) AdminAddr() string {
	if a.Config.Admin.Listen != "" {
		return a.Server.Addr(a.Config.Admin.Listen)
	}
	return a.Server.Addr(a.Config.Listen)
}

// UpstreamURL is where updates go.
func (a *App) UpstreamURL() string {
	if a.Demo != nil {
		return "http://" + a.demoLn.Addr().String()
	}
	return a.Config.Upstream.URL
}

// Start binds the listeners and serves in the background.
func (a *App) Start() (wait func() error, err error) {
	if err := a.Server.Listen(); err != nil {
		a.closeDemo()
		return nil, err
	}
	if a.Demo != nil {
		a.demoSrv = &http.Server{Handler: a.Demo.Handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = a.demoSrv.Serve(a.demoLn) }()
	}
	done := make(chan error, 1)
	go func() { done <- a.Server.Serve() }()
	return func() error { return <-done }, nil
}

// Shutdown stops accepting, lets in-flight requests finish within the
// configured shutdown timeout, then stops the dialects' authenticators
// (JWKS refreshes) and the demo backend.
func (a *App) Shutdown(ctx context.Context) error {
	a.draining.Store(true)
	cfg, _ := a.Current()
	ctx, cancel := context.WithTimeout(ctx, cfg.Server.ShutdownTimeout.D())
	defer cancel()
	err := a.Server.Shutdown(ctx)
	a.Server.Close() // the dialects' authenticators: JWKS refreshes stop
	// The upstream client's idle connections first: one it dialed and
	// never used would hold the demo backend's Shutdown for the 5 s
	// net/http gives a new connection.
	a.probed().Close()
	if a.demoSrv != nil {
		err = errors.Join(err, a.demoSrv.Shutdown(ctx))
	}
	if a.migLog != nil {
		err = errors.Join(err, a.migLog.Close())
	}
	return err
}

func (a *App) closeDemo() {
	if a.demoLn != nil {
		_ = a.demoLn.Close()
	}
}

var (
	_ server.Observer  = (*telemetry.Metrics)(nil)
	_ migrate.Observer = (*telemetry.Metrics)(nil)
)
