package app

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/telemetry"
)

// DefaultWatchInterval is how often Watch looks at the configuration files.
const DefaultWatchInterval = 2 * time.Second

// ErrNoSource is returned by Reload when the app has no Options.Load.
var ErrNoSource = errors.New("app: reload: no configuration source to read again")

// Reload reads the configuration again (Options.Load) and serves it. The
// rules are compiled and checked first; the routing of every listener is
// then swapped at once: requests already started finish on the old
// configuration, the next ones get the new. An invalid configuration is
// refused, every problem logged, and the old one keeps serving. Settings
// that need a restart (listen addresses, admin.listen, upstream.*,
// server timeouts of the listeners, log.format) are logged as such and keep
// their running values.
func (a *App) Reload() error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	if a.opts.Load == nil {
		return ErrNoSource
	}
	cfg, src, err := a.opts.Load()
	var held []held
	if err == nil {
		held, err = a.apply(cfg, src)
	}
	if err != nil {
		a.Metrics.Reload(false)
		a.log.Error("config reload refused; still serving the previous configuration",
			"config", src.Name, "problems", problems(err))
		return err
	}
	a.Metrics.Reload(true)
	for _, h := range held {
		a.log.Warn("config change needs a restart; not applied", "key", h.key, "running", h.running, "configured", h.configured)
	}
	_, mounts := a.Current()
	a.log.Info("config reloaded", "config", src.Name, "dialects", len(mounts), "held_for_restart", len(held))
	return nil
}

// apply validates cfg and swaps it in; it returns the changes it held back.
func (a *App) apply(cfg *config.Config, src config.Source) ([]held, error) {
	// The file as written first: a value that could not start userbridge
	// is refused even where it would be held for a restart.
	if _, err := Resolve(cfg, src); err != nil {
		return nil, err
	}
	cur := a.state.Load()
	hold := holdRestartOnly(cur.cfg, cfg, a.Server.Listens())
	mounts, err := Resolve(cfg, src)
	if err != nil {
		return nil, err
	}
	if err := a.Server.Swap(a.serverOptions(cfg, mounts)); err != nil {
		return nil, err
	}
	if a.opts.Level != nil {
		a.opts.Level.Set(telemetry.ParseLevel(cfg.Log.Level))
	}
	a.state.Store(&loaded{cfg: cfg, src: src, mounts: mounts})
	return hold, nil
}

// held is a configuration change that needs a restart.
type held struct{ key, running, configured string }

// holdRestartOnly puts the running values back into next wherever applying
// the new one would need a restart, and says which.
func holdRestartOnly(run, next *config.Config, listening []string) []held {
	var out []held
	keep := func(key string, running, configured any) {
		r, c := fmt.Sprint(running), fmt.Sprint(configured)
		if r != c {
			out = append(out, held{key, r, c})
		}
	}
	keep("listen", run.Listen, next.Listen)
	next.Listen = run.Listen
	keep("admin.listen", run.Admin.Listen, next.Admin.Listen)
	next.Admin.Listen = run.Admin.Listen
	// The upstream client (and its profile) is built once: every key.
	diffFields("upstream", reflect.ValueOf(run.Upstream), reflect.ValueOf(next.Upstream), keep)
	next.Upstream = run.Upstream
	rs, ns := &run.Server, &next.Server
	keep("server.readHeaderTimeout", rs.ReadHeaderTimeout.D(), ns.ReadHeaderTimeout.D())
	keep("server.readTimeout", rs.ReadTimeout.D(), ns.ReadTimeout.D())
	keep("server.writeTimeout", rs.WriteTimeout.D(), ns.WriteTimeout.D())
	keep("server.idleTimeout", rs.IdleTimeout.D(), ns.IdleTimeout.D())
	ns.ReadHeaderTimeout, ns.ReadTimeout, ns.WriteTimeout, ns.IdleTimeout = rs.ReadHeaderTimeout, rs.ReadTimeout, rs.WriteTimeout, rs.IdleTimeout
	keep("log.format", run.Log.Format, next.Log.Format)
	next.Log.Format = run.Log.Format

	names := make([]string, 0, len(next.Dialects))
	for n := range next.Dialects {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		dc := next.Dialects[n]
		if dc.Listen == "" || !dc.IsEnabled() || contains(listening, dc.Listen) {
			continue
		}
		rd, ok := run.Dialects[n]
		if ok && rd.IsEnabled() {
			out = append(out, held{"dialects." + n + ".listen", listenOf(run, rd), dc.Listen})
			dc.Listen = rd.Listen
		} else {
			out = append(out, held{"dialects." + n + ".listen", "not served", dc.Listen + " (a new listener: the dialect is not served until a restart)"})
			off := false
			dc.Enabled = &off
		}
		next.Dialects[n] = dc
	}
	return out
}

// diffFields calls keep for each leaf of two values of one config struct
// type, keyed by the dotted YAML names.
func diffFields(prefix string, a, b reflect.Value, keep func(key string, running, configured any)) {
	if a.Kind() == reflect.Struct {
		for i := 0; i < a.NumField(); i++ {
			f := a.Type().Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			diffFields(prefix+"."+name, a.Field(i), b.Field(i), keep)
		}
		return
	}
	keep(prefix, leaf(a), leaf(b))
}

// leaf is a config value as an operator wrote it: a duration as 5s, an
// unset pointer as "default".
func leaf(v reflect.Value) any {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "default"
		}
		v = v.Elem()
	}
	if d, ok := v.Interface().(config.Duration); ok {
		return d.D()
	}
	return v.Interface()
}

func listenOf(c *config.Config, d config.Dialect) string {
	if d.Listen != "" {
		return d.Listen
	}
	return c.Listen
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// problems lists every problem an error joins, one string each.
func problems(err error) []string {
	var out []string
	for _, e := range config.Problems(err) {
		out = append(out, e.Error())
	}
	return out
}

// Watch reloads whenever the configuration file (Options.ConfigFile) or a
// rule file the running configuration names changes content, looking every
// interval (DefaultWatchInterval when 0), until ctx ends. It polls: this
// follows Kubernetes ConfigMap updates (a symlink swapped under the file)
// and editors that replace the file, which file-system events miss. A
// change that is refused is not retried until the files change again.
func (a *App) Watch(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	last := a.fingerprint()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := a.fingerprint()
		if now == last {
			continue
		}
		a.log.Info("config files changed; reloading")
		_ = a.Reload() // logged
		// A change made while reloading differs from now: the next tick
		// reloads again. (So does a reload that names new rule files: once,
		// harmlessly.)
		last = now
	}
}

// watched lists the files Watch looks at.
func (a *App) watched() []string {
	l := a.state.Load()
	var files []string
	if a.opts.ConfigFile != "" {
		files = append(files, a.opts.ConfigFile)
	}
	names := make([]string, 0, len(l.cfg.Dialects))
	for n := range l.cfg.Dialects {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if r := l.cfg.Dialects[n].Rules; r != "" {
			if !filepath.IsAbs(r) && l.src.Dir != "" {
				r = filepath.Join(l.src.Dir, r)
			}
			files = append(files, r)
		}
	}
	return files
}

// fingerprint hashes the watched files' names and contents; a missing file
// counts as its own content.
func (a *App) fingerprint() [32]byte {
	h := sha256.New()
	for _, f := range a.watched() {
		b, err := os.ReadFile(f)
		if err != nil {
			b = []byte("\x00missing: " + err.Error())
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(b))
		h.Write(b)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}
