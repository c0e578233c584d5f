package app

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
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

// reloadState is what Reload compares a configuration read again with.
type reloadState struct {
	// applied is the digest of the configuration served (digest).
	applied [32]byte
	// refused: the last reload was refused, for a configuration of digest
	// refusedDigest (unloadable's when it could not be loaded).
	refused       bool
	refusedDigest [32]byte
}

// Reload reads the configuration again (Options.Load) and serves it. The
// rules are compiled and checked first; the routing of every listener is
// then swapped at once: requests already started finish on the old
// configuration, the next ones get the new. An invalid configuration is
// refused, every problem logged, and the old one keeps serving. Settings
// that need a restart (listen addresses, admin.listen, upstream.*,
// server timeouts of the listeners, log.format) are logged as such and keep
// their running values.
//
// A configuration that is the one served (the same values, the same rule
// files and files auth names) is not applied again, nor counted: SIGHUP
// and Watch both reload, and a change one of them applied is nothing to
// the other. After a refused reload it is applied: going back to the
// configuration served is then a reload that succeeds.
func (a *App) Reload() error { return a.reload(false) }

// reload is Reload; watching, a configuration refused already, by SIGHUP
// or by the watcher, is not tried again, whether it could not be loaded
// (unloadable) or loaded and was refused (digest). SIGHUP, an operator's
// request, always tries again.
func (a *App) reload(watching bool) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	if a.opts.Load == nil {
		return ErrNoSource
	}
	// The configuration file as Load is about to read it: what identifies
	// a configuration that cannot be loaded (unloadable).
	file := readConfigFile(a.opts.ConfigFile)
	cfg, src, err := a.opts.Load()
	var held []held
	var d [32]byte
	if err == nil {
		// Taken before apply reads the files: a file that changes in
		// between is at worst reloaded once more, never missed.
		d = digest(cfg, src)
	} else {
		d = unloadable(file, err)
	}
	switch r := &a.reloads; {
	case err == nil && d == r.applied && !r.refused:
		a.log.Info("config unchanged since it was applied; nothing to reload", "config", src.Name)
		return nil
	case watching && r.refused && d == r.refusedDigest:
		// Refused already, by SIGHUP or by the watcher: not tried, nor
		// counted, again.
		a.log.Info("config unchanged since it was refused; still serving the previous configuration", "config", src.Name)
		return nil
	}
	if err == nil {
		held, err = a.apply(cfg, src)
	}
	if err != nil {
		a.reloads.refused, a.reloads.refusedDigest = true, d
		a.Metrics.Reload(false)
		a.log.Error("config reload refused; still serving the previous configuration",
			"config", src.Name, "problems", Problems(err))
		return err
	}
	a.reloads = reloadState{applied: d}
	a.Metrics.Reload(true)
	// The file served asks for what only a restart applies, or no longer.
	a.Metrics.RestartPending(len(held) > 0)
	for _, h := range held {
		a.log.Warn("config change needs a restart; not applied", "key", h.key, "running", h.running, "configured", h.configured)
	}
	cur, mounts := a.Current()
	// Said again: the directory is still reached as it was (upstream.* are
	// held for a restart), and the warning is in the logs of the reload.
	warnClearText(a.log, cur, src)
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
	// The upstream's files, where the key still names the one read at
	// start (a key that changed is held above): one changed since is held.
	now := fileSums(cfg.UpstreamFiles(src))
	for _, f := range cur.cfg.UpstreamFiles(cur.src) {
		if s, ok := now[f.Path]; ok && s != a.upstreamSums[f.Path] {
			hold = append(hold, held{f.Key, f.Path + " as read at start", f.Path + " changed since"})
		}
	}
	mounts, err := Resolve(cfg, src)
	if err != nil {
		return nil, err
	}
	if err := a.Server.Swap(a.serverOptions(cfg, mounts)); err != nil {
		return nil, authProblems(cfg, src, err) // as validate prints them
	}
	if a.opts.Level != nil {
		a.opts.Level.Set(telemetry.ParseLevel(cfg.Log.Level))
	}
	a.state.Store(&loaded{cfg: cfg, src: src, mounts: mounts})
	a.declareSeries(mounts)
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
	// The diff log is opened once (the dialects' legacy blocks reload).
	keep("migration.log", run.Migration.Log, next.Migration.Log)
	next.Migration.Log = run.Migration.Log
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
		if dc.Listen == "" || !dc.IsEnabled() || slices.Contains(listening, dc.Listen) {
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
	if a.Kind() == reflect.Pointer && a.Type().Elem().Kind() == reflect.Struct {
		// A block (upstream.scim.discoveryCredentials, upstream.ldap.active):
		// key by key when both are set, else set or not (its pointers
		// would print as addresses).
		if a.IsNil() || b.IsNil() {
			keep(prefix, setOrNot(a), setOrNot(b))
			return
		}
		a, b = a.Elem(), b.Elem()
	}
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

// setOrNot is an optional block as a held change shows it: "default"
// when unset, as leaf says, else "set".
func setOrNot(v reflect.Value) string {
	if v.IsNil() {
		return "default"
	}
	return "set"
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

// Problems lists every problem an error joins (config.Problems), one
// string each: a log line's "problems", a refused reload's as a refused
// start's.
func Problems(err error) []string {
	var out []string
	for _, e := range config.Problems(err) {
		out = append(out, e.Error())
	}
	return out
}

// Watch reloads whenever the configuration file (Options.ConfigFile) or a
// file the running configuration names (rules, the files its auth blocks
// and legacy.tls blocks name) changes content, looking every
// interval (DefaultWatchInterval when 0), until ctx ends. It polls: this
// follows Kubernetes ConfigMap updates (a symlink swapped under the file)
// and editors that replace the file, which file-system events miss. A
// change that is refused, by the watcher or by a SIGHUP before it, is not
// retried until the files change again; one that SIGHUP applied already is
// a no-op (Reload).
func (a *App) Watch(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	last := a.watchBase
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
		_ = a.reload(true) // logged
		// A change made while reloading differs from now: the next tick
		// reloads again. (So does a reload that names new rule files: a
		// no-op, what they hold is applied already.)
		last = now
	}
}

// watched lists the files Watch looks at: the configuration file, every
// file a reload reads again for it (config's DialectFiles: rules, auth, legacy.tls),
// and the upstream's (config's UpstreamFiles), whose change a reload holds and says.
func (a *App) watched() []string {
	l := a.state.Load()
	var files []string
	if a.opts.ConfigFile != "" {
		files = append(files, a.opts.ConfigFile)
	}
	files = append(files, paths(l.cfg.DialectFiles(l.src))...)
	return append(files, paths(l.cfg.UpstreamFiles(l.src))...)
}

// fingerprint hashes the watched files' names and contents; a missing file
// counts as its own content.
func (a *App) fingerprint() [32]byte {
	h := sha256.New()
	hashFiles(h, a.watched())
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// hashFiles writes each file's name, length and content to h; a missing
// or unreadable file counts as its own content.
func hashFiles(h io.Writer, files []string) {
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			b = []byte("\x00missing: " + err.Error())
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(b))
		h.Write(b)
	}
}

// readConfigFile is the configuration file's content, or what stands for
// it when it cannot be read (hashFiles); nil without a file.
func readConfigFile(path string) []byte {
	if path == "" {
		return nil
	}
	var b strings.Builder
	hashFiles(&b, []string{path})
	return []byte(b.String())
}

// unloadable identifies a configuration Load refused (an unknown key, a
// value that does not decode, an empty or unreadable file): the
// configuration file's content, read before Load read it (a change in
// between is at worst tried once more, never missed), and Load's error.
// Load reads nothing else that changes while serve runs: the environment
// and the flags are the process's. It is never a digest.
func unloadable(file []byte, err error) [32]byte {
	h := sha256.New()
	fmt.Fprintf(h, "\x00unloadable\x00%d\x00", len(file))
	h.Write(file)
	io.WriteString(h, err.Error())
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// digest identifies a configuration as served: its values (the file, the
// environment and the flags as loaded, comments and layout aside) and the
// content of every file a reload reads again for it: the dialects' rule
// files, the files their auth blocks name and those their legacy blocks'
// tls names (a vendor whose CA or client certificate changed is built
// again), and the upstream's files (config's UpstreamFiles), whose change is held
// for a restart as every upstream.* change, and said. A missing or
// unreadable file counts as its own content.
func digest(cfg *config.Config, src config.Source) [32]byte {
	h := sha256.New()
	values, err := json.Marshal(cfg)
	if err != nil {
		// Not expected (the config is plain data): a digest that matches
		// nothing, so that every reload applies.
		values = fmt.Appendf(nil, "\x00unmarshalable %d: %v", time.Now().UnixNano(), err)
	}
	fmt.Fprintf(h, "%d\x00", len(values))
	h.Write(values)
	hashFiles(h, paths(cfg.DialectFiles(src)))
	hashFiles(h, paths(cfg.UpstreamFiles(src))) // held if changed, but told (apply)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// fileSums is the content digest of each file, by path (hashFiles: a
// missing file counts as its own content).
func fileSums(files []config.KeyedFile) map[string][32]byte {
	out := make(map[string][32]byte, len(files))
	for _, f := range files {
		h := sha256.New()
		hashFiles(h, []string{f.Path})
		var s [32]byte
		h.Sum(s[:0])
		out[f.Path] = s
	}
	return out
}

// paths are the files' paths, in order.
func paths(files []config.KeyedFile) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.Path
	}
	return out
}
