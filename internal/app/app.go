// Package app wires userbridge together from a configuration: the dialects,
// the upstream client, the demo backend when no upstream is set, and the
// server. cmd/userbridge and the end-to-end tests both start it this way.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/backend"
	"github.com/userbridge/userbridge/internal/server"
	"github.com/userbridge/userbridge/internal/upstream"
)

// App is a configured userbridge.
type App struct {
	Config   *config.Config
	Mounts   []config.Mount
	Server   *server.Server
	Upstream *upstream.Client
	// Demo is the in-process backend, nil when an upstream is configured.
	Demo *backend.Backend

	log     *slog.Logger
	demoSrv *http.Server
	demoLn  net.Listener
}

// New validates the configuration and builds everything; nothing listens
// yet.
func New(cfg *config.Config, src config.Source, log *slog.Logger) (*App, error) {
	mounts, err := cfg.Resolve(src)
	if err != nil {
		return nil, err
	}
	a := &App{Config: cfg, Mounts: mounts, log: log}
	url := cfg.Upstream.URL
	if cfg.IsDemo() {
		a.Demo = backend.New(backend.Options{Seed: true})
		a.demoLn, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("app: demo backend: %w", err)
		}
		url = "http://" + a.demoLn.Addr().String()
	}
	u := cfg.Upstream
	enabled := u.Breaker.Enabled == nil || *u.Breaker.Enabled
	a.Upstream, err = upstream.New(upstream.Config{URL: url, ByIDPath: u.ByIDPath, ByUsernamePath: u.ByUsernamePath,
		Timeout: u.Timeout.D(), MaxAttempts: u.MaxAttempts, MaxIdleConnsPerHost: u.MaxIdleConns,
		TLS:     upstream.TLSConfig{CAFile: u.TLS.CAFile, CertFile: u.TLS.CertFile, KeyFile: u.TLS.KeyFile, ServerName: u.TLS.ServerName},
		Breaker: upstream.BreakerConfig{Enabled: enabled, Failures: u.Breaker.Failures, OpenFor: u.Breaker.OpenFor.D()}})
	if err != nil {
		a.closeDemo()
		return nil, err
	}
	a.Server, err = server.New(server.Options{Config: cfg, Mounts: mounts, Upstream: a.Upstream, Logger: log, Extra: a.extraRoutes})
	if err != nil {
		a.closeDemo()
		return nil, err
	}
	return a, nil
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
// configured shutdown timeout, then stops the demo backend.
func (a *App) Shutdown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, a.Config.Server.ShutdownTimeout.D())
	defer cancel()
	err := a.Server.Shutdown(ctx)
	if a.demoSrv != nil {
		err = errors.Join(err, a.demoSrv.Shutdown(ctx))
	}
	a.Upstream.Close()
	return err
}

func (a *App) closeDemo() {
	if a.demoLn != nil {
		_ = a.demoLn.Close()
	}
}
