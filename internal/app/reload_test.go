package app_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/app"
	"golang.org/x/crypto/bcrypt"
)

// okUpstream answers every call with the canonical user.
func okUpstream(t *testing.T) *recorder {
	rec := newRecorder(t)
	rec.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(userFor(r))
	})
	return rec
}

// acmeRules is a new dialect by configuration: Finix's rules renamed, on
// route path.
func acmeRules(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile("../../adapters/finix/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "dialect: finix", "dialect: acme", 1)
	return strings.Replace(s, "path: /users/:user_id", "path: "+path, 1)
}

func finixPut(t *testing.T, s *started, path string, hdr map[string]string) answer {
	t.Helper()
	finix := specNamed(t, "finix")
	return s.do(t, "PUT", path, specHeader(finix, hdr), finix.body)
}

// eventually retries check until it passes or 5s have gone.
func eventually(t *testing.T, what string, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReloadGoodChange changes a dialect's prefix and the log level and
// reloads (what SIGHUP does): the new route answers, the old one is gone,
// the level applies.
func TestReloadGoodChange(t *testing.T) {
	rec := okUpstream(t)
	cfg := "listen: 127.0.0.1:0\nupstream: {url: %s}\nlog: {level: %s}\ndialects:\n  finix: {prefix: %s}\n"
	f := startFile(t, fileSetup{yaml: fmt.Sprintf(cfg, rec.srv.URL, "info", "/a")})
	if a := finixPut(t, f.started, "/a/users/"+finixID, nil); a.Status != 200 {
		t.Fatalf("before: %d %s", a.Status, a.Body)
	}
	f.write(t, "config.yaml", fmt.Sprintf(cfg, rec.srv.URL, "warn", "/b"))
	if err := f.app.Reload(); err != nil {
		t.Fatal(err)
	}
	if a := finixPut(t, f.started, "/b/users/"+finixID, map[string]string{"X-Request-ID": "after-reload"}); a.Status != 200 {
		t.Errorf("new route: %d %s", a.Status, a.Body)
	}
	if a := finixPut(t, f.started, "/a/users/"+finixID, nil); a.Status != 404 {
		t.Errorf("old route: %d, want 404", a.Status)
	}
	if cur, _ := f.app.Current(); cur.Dialects["finix"].Prefix != "/b" {
		t.Errorf("Current prefix %q", cur.Dialects["finix"].Prefix)
	}
	// At warn, neither the access line nor "config reloaded" is written.
	if logs := f.logs.String(); strings.Contains(logs, "after-reload") {
		t.Error("log.level warn did not apply: an info access line was written")
	}
	ss := scrape(t, f.base)
	wantValue(t, ss, "userbridge_config_reloads_total", map[string]string{"result": "success"}, 1)
	wantValue(t, ss, "userbridge_config_last_reload_successful", nil, 1)
	wantValue(t, ss, "userbridge_requests_total", map[string]string{"dialect": "finix", "route": "/b/users/:user_id", "status": "200"}, 1)
}

// TestReloadWatchFromLoad: a rule file changed after the configuration was
// loaded but before Watch started is still seen (Watch compares with the
// files as loaded, not as it first finds them).
func TestReloadWatchFromLoad(t *testing.T) {
	rec := okUpstream(t)
	f := startFile(t, fileSetup{
		yaml:  fmt.Sprintf("listen: 127.0.0.1:0\nupstream: {url: %s}\ndialects:\n  acme: {rules: acme.yaml, prefix: /acme}\n", rec.srv.URL),
		files: map[string]string{"acme.yaml": acmeRules(t, "/users/:user_id")},
	})
	f.write(t, "acme.yaml", acmeRules(t, "/members/:user_id")) // before Watch
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.app.Watch(ctx, 20*time.Millisecond); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	eventually(t, "the rule file changed before Watch served", func() bool {
		return finixPut(t, f.started, "/acme/members/"+finixID, nil).Status == 200
	})
}

// TestReloadWatch changes a rule file only; the watcher sees it and the new
// route answers.
func TestReloadWatch(t *testing.T) {
	rec := okUpstream(t)
	f := startFile(t, fileSetup{
		yaml:  fmt.Sprintf("listen: 127.0.0.1:0\nupstream: {url: %s}\ndialects:\n  acme: {rules: acme.yaml, prefix: /acme}\n", rec.srv.URL),
		files: map[string]string{"acme.yaml": acmeRules(t, "/users/:user_id")},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.app.Watch(ctx, 20*time.Millisecond); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	if a := finixPut(t, f.started, "/acme/users/"+finixID, nil); a.Status != 200 {
		t.Fatalf("before: %d %s", a.Status, a.Body)
	}
	f.write(t, "acme.yaml", acmeRules(t, "/members/:user_id"))
	eventually(t, "the changed rule file served", func() bool {
		return finixPut(t, f.started, "/acme/members/"+finixID, nil).Status == 200
	})
	if a := finixPut(t, f.started, "/acme/users/"+finixID, nil); a.Status != 404 {
		t.Errorf("old route: %d", a.Status)
	}
	// The config file itself is watched too.
	f.write(t, "config.yaml", fmt.Sprintf("listen: 127.0.0.1:0\nupstream: {url: %s}\ndialects:\n  acme: {rules: acme.yaml, prefix: /v2}\n", rec.srv.URL))
	eventually(t, "the changed config file served", func() bool {
		return finixPut(t, f.started, "/v2/members/"+finixID, nil).Status == 200
	})
	if logs := f.logs.String(); !strings.Contains(logs, `"msg":"config reloaded"`) || !strings.Contains(logs, `"msg":"config files changed; reloading"`) {
		t.Errorf("reloads not logged:\n%s", logs)
	}
}

// TestReloadBadChange writes a configuration with several problems: the
// reload is refused, every problem is logged, and the old one keeps
// serving. A good file afterwards applies.
func TestReloadBadChange(t *testing.T) {
	rec := okUpstream(t)
	good := fmt.Sprintf("listen: 127.0.0.1:0\nupstream: {url: %s}\ndialects:\n  finix: {prefix: /a}\n", rec.srv.URL)
	f := startFile(t, fileSetup{yaml: good})
	f.write(t, "config.yaml", fmt.Sprintf("listen: 127.0.0.1:0\nupstream: {url: %s, maxAttempts: 99}\nlog: {level: loud}\n"+
		"dialects:\n  finix: {prefix: nope/}\n  acme: {}\n  shift: {rules: missing.yaml}\n", rec.srv.URL))
	err := f.app.Reload()
	if err == nil || !errors.Is(err, config.ErrInvalid) {
		t.Fatalf("a bad config was applied: %v", err)
	}
	if a := finixPut(t, f.started, "/a/users/"+finixID, nil); a.Status != 200 {
		t.Errorf("the old config stopped serving: %d %s", a.Status, a.Body)
	}
	var refused map[string]any
	for _, l := range strings.Split(f.logs.String(), "\n") {
		if strings.Contains(l, "config reload refused") {
			if refused != nil {
				t.Error("refused twice")
			}
			refused = map[string]any{}
			if err := jsonUnmarshal(l, &refused); err != nil {
				t.Fatal(err)
			}
		}
	}
	if refused == nil || refused["level"] != "ERROR" {
		t.Fatalf("no refusal logged at ERROR:\n%s", f.logs.String())
	}
	probs, _ := refused["problems"].([]any)
	all := fmt.Sprint(probs...)
	for _, want := range []string{"upstream.maxAttempts", "log.level", "dialects.finix.prefix", "dialects.acme", "dialects.shift.rules"} {
		if !strings.Contains(all, want) {
			t.Errorf("problem %s not logged in %v", want, probs)
		}
	}
	if len(probs) != 5 {
		t.Errorf("%d problems logged, want 5 (one each): %v", len(probs), probs)
	}
	ss := scrape(t, f.base)
	wantValue(t, ss, "userbridge_config_reloads_total", map[string]string{"result": "failure"}, 1)
	wantValue(t, ss, "userbridge_config_last_reload_successful", nil, 0)

	// A misspelt key is refused too, naming its line.
	f.write(t, "config.yaml", good+"upstrem: {}\n")
	if err := f.app.Reload(); err == nil || !strings.Contains(err.Error(), "upstrem") {
		t.Errorf("a misspelt key: %v", err)
	}
	// So is a file caught empty mid-write: read as the defaults, it would
	// move finix back to /users and undo any auth: verify.
	f.write(t, "config.yaml", "")
	if err := f.app.Reload(); err == nil || !strings.Contains(err.Error(), "holds no configuration") {
		t.Errorf("an empty file: %v", err)
	}
	if a := finixPut(t, f.started, "/a/users/"+finixID, nil); a.Status != 200 {
		t.Errorf("after an empty file, the old config stopped serving: %d %s", a.Status, a.Body)
	}
	// A good file afterwards applies.
	f.write(t, "config.yaml", strings.Replace(good, "/a", "/c", 1))
	if err := f.app.Reload(); err != nil {
		t.Fatal(err)
	}
	if a := finixPut(t, f.started, "/c/users/"+finixID, nil); a.Status != 200 {
		t.Errorf("after the fix: %d", a.Status)
	}
	wantValue(t, scrape(t, f.base), "userbridge_config_last_reload_successful", nil, 1)
}

// TestReloadInFlight holds a request at a slow upstream while the
// configuration changes: it completes under the old configuration, a
// request made after the reload gets the new one.
func TestReloadInFlight(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	var n atomic.Int32
	rec := newRecorder(t)
	rec.set(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			close(arrived)
			<-release
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(strings.Replace(string(userFor(r)), "jane.doe", "held", 1)))
	})
	cfg := "listen: 127.0.0.1:0\nupstream: {url: %s}\ndialects:\n  finix: {config: {application: %s}}\n"
	f := startFile(t, fileSetup{yaml: fmt.Sprintf(cfg, rec.srv.URL, "APold")})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // first of the cleanups: a failed test never leaves the upstream holding
	slow := make(chan answer, 1)
	go func() {
		finix := specNamed(t, "finix")
		req, _ := http.NewRequest("PUT", f.base+finix.path, strings.NewReader(finix.body))
		for k, v := range specHeader(finix, nil) {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			slow <- answer{}
			return
		}
		defer resp.Body.Close()
		slow <- answer{Status: resp.StatusCode, Body: []byte(readAll(resp))}
	}()
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the request never reached the upstream")
	}
	f.write(t, "config.yaml", fmt.Sprintf(cfg, rec.srv.URL, "APnew"))
	if err := f.app.Reload(); err != nil { // must not wait for the held request
		t.Fatal(err)
	}
	finix := specNamed(t, "finix")
	if a := f.do(t, finix.method, finix.path, specHeader(finix, nil), finix.body); a.Status != 200 || !strings.Contains(string(a.Body), "/applications/APnew") {
		t.Errorf("after the reload: %d %s", a.Status, a.Body)
	}
	free()
	a := <-slow
	if a.Status != 200 || !strings.Contains(string(a.Body), "/applications/APold") {
		t.Errorf("the in-flight request: %d %s, want the old configuration's application", a.Status, a.Body)
	}
}

// TestReloadNeedsRestart changes settings that need a restart alongside one
// that does not: the latter applies, the others are logged as held and keep
// their running values.
func TestReloadNeedsRestart(t *testing.T) {
	rec := okUpstream(t)
	f := startFile(t, fileSetup{
		yaml:  fmt.Sprintf("listen: 127.0.0.1:0\nupstream: {url: %s}\ndialects:\n  finix: {prefix: /a}\n", rec.srv.URL),
		files: map[string]string{"acme.yaml": acmeRules(t, "/members/:user_id")},
	})
	f.write(t, "config.yaml", "listen: 127.0.0.1:1\nupstream: {url: 'http://127.0.0.1:1', timeout: 1s}\nlog: {format: text}\nserver: {readTimeout: 7s}\nadmin: {listen: 'localhost:0'}\n"+
		"dialects:\n  finix: {prefix: /b}\n  acme: {rules: acme.yaml, listen: '127.0.0.1:9'}\n")
	if err := f.app.Reload(); err != nil {
		t.Fatal(err)
	}
	if a := finixPut(t, f.started, "/b/users/"+finixID, nil); a.Status != 200 {
		t.Errorf("the prefix change did not apply, or the upstream changed: %d %s", a.Status, a.Body)
	}
	if len(rec.requests()) == 0 {
		t.Error("the request did not reach the running upstream")
	}
	if a := f.do(t, "GET", "/healthz", nil, ""); a.Status != 200 {
		t.Errorf("the probes moved without a restart: %d", a.Status)
	}
	if a := finixPut(t, f.started, "/members/"+finixID, nil); a.Status != 404 {
		t.Errorf("a dialect on a new listener is served on the main one: %d", a.Status)
	}
	held := map[string]bool{}
	for _, l := range strings.Split(f.logs.String(), "\n") {
		if strings.Contains(l, "needs a restart") {
			var m map[string]any
			if err := jsonUnmarshal(l, &m); err != nil {
				t.Fatal(err)
			}
			held[fmt.Sprint(m["key"])] = true
			if m["level"] != "WARN" {
				t.Errorf("held change logged at %v", m["level"])
			}
		}
	}
	for _, k := range []string{"listen", "upstream.url", "upstream.timeout", "log.format", "server.readTimeout", "admin.listen", "dialects.acme.listen"} {
		if !held[k] {
			t.Errorf("%s not logged as needing a restart; logged: %v", k, held)
		}
	}
	if held["dialects.finix.prefix"] {
		t.Error("the prefix was held")
	}
	cur, _ := f.app.Current()
	if cur.Upstream.URL != rec.srv.URL || cur.Listen != "127.0.0.1:0" || cur.Log.Format != "json" || cur.Server.ReadTimeout.D() != 30*time.Second {
		t.Errorf("Current shows values that were not applied: %s %s %s", cur.Upstream.URL, cur.Listen, cur.Log.Format)
	}
}

// TestReloadWithoutSource: an app built without Options.Load refuses to
// reload and keeps serving.
func TestReloadWithoutSource(t *testing.T) {
	s := start(t, "", "", nil)
	if err := s.app.Reload(); !errors.Is(err, app.ErrNoSource) {
		t.Errorf("%v", err)
	}
}

// TestReloadBodyLimit raises and lowers server.maxBodyBytes by reload: the
// new limit applies at once.
func TestReloadBodyLimit(t *testing.T) {
	rec := okUpstream(t)
	cfg := "listen: 127.0.0.1:0\nupstream: {url: %s}\nserver: {maxBodyBytes: %d}\n"
	f := startFile(t, fileSetup{yaml: fmt.Sprintf(cfg, rec.srv.URL, 4096)})
	finix := specNamed(t, "finix")
	var tags []string // 5 KiB of tags, each within Finix's limits
	for i := range 12 {
		tags = append(tags, fmt.Sprintf(`"t%d":"%s"`, i, strings.Repeat("a", 420)))
	}
	body := `{"tags":{` + strings.Join(tags, ",") + `}}`
	put := func() answer { return f.do(t, "PUT", finix.path, specHeader(finix, nil), body) }
	if a := put(); a.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("at 4096: %d %s", a.Status, a.Body)
	}
	f.write(t, "config.yaml", fmt.Sprintf(cfg, rec.srv.URL, 8192))
	if err := f.app.Reload(); err != nil {
		t.Fatal(err)
	}
	if a := put(); a.Status != http.StatusOK {
		t.Fatalf("at 8192: %d %s", a.Status, a.Body)
	}
	f.write(t, "config.yaml", fmt.Sprintf(cfg, rec.srv.URL, 2048))
	if err := f.app.Reload(); err != nil {
		t.Fatal(err)
	}
	if a := put(); a.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("at 2048: %d %s", a.Status, a.Body)
	}
}

// TestReloadOnce: SIGHUP (Reload) and the watcher both see one change; it
// is applied and counted once, whichever comes first. A comment is nothing
// to apply; a refused file is not tried again by the watcher (a SIGHUP
// does try again); back to what is served after a refusal is applied.
func TestReloadOnce(t *testing.T) {
	rec := okUpstream(t)
	cfg := "listen: 127.0.0.1:0\nupstream: {url: %s}\ndialects:\n  finix: {prefix: %s}\n"
	f := startFile(t, fileSetup{yaml: fmt.Sprintf(cfg, rec.srv.URL, "/a")})
	// write replaces the file at once, as a ConfigMap update does: the
	// watcher never reads it half written.
	write := func(data string) {
		t.Helper()
		tmp := filepath.Join(f.dir, "config.yaml.new")
		if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, f.path); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.app.Watch(ctx, 10*time.Millisecond); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	// settle lets the watcher look at the files many times.
	settle := func() { time.Sleep(200 * time.Millisecond) }
	reloads := func(result string) float64 {
		for _, s := range scrape(t, f.base) {
			if s.name == "userbridge_config_reloads_total" && s.labels["result"] == result {
				return s.value
			}
		}
		return 0
	}
	want := func(result string, n float64) {
		t.Helper()
		if got := reloads(result); got != n {
			t.Errorf("reloads %s: %v, want %v", result, got, n)
		}
	}

	write(fmt.Sprintf(cfg, rec.srv.URL, "/b"))
	if err := f.app.Reload(); err != nil { // what SIGHUP does
		t.Fatal(err)
	}
	if a := finixPut(t, f.started, "/b/users/"+finixID, nil); a.Status != 200 {
		t.Fatalf("after the change: %d %s", a.Status, a.Body)
	}
	settle()
	want("success", 1)
	if n := strings.Count(f.logs.String(), `"msg":"config reloaded"`); n != 1 {
		t.Errorf("the change was applied %d times, want once:\n%s", n, f.logs.String())
	}
	// SIGHUP again, nothing changed: nothing applied, nothing counted.
	if err := f.app.Reload(); err != nil {
		t.Fatal(err)
	}
	// A comment changes the file, not the configuration.
	write("# a comment\n" + fmt.Sprintf(cfg, rec.srv.URL, "/b"))
	settle()
	want("success", 1)
	if !strings.Contains(f.logs.String(), `"msg":"config unchanged since it was applied; nothing to reload"`) {
		t.Errorf("the no-op reload not logged:\n%s", f.logs.String())
	}

	// A refused file: the watcher refuses it once and does not try again.
	write(fmt.Sprintf(cfg, rec.srv.URL, "nope/"))
	eventually(t, "the watcher refuses the file", func() bool { return reloads("failure") == 1 })
	settle()
	want("failure", 1)
	// A SIGHUP is a request to try again.
	if err := f.app.Reload(); err == nil {
		t.Fatal("a bad prefix reloaded")
	}
	want("failure", 2)
	// Back to the configuration served: applied, the gauge back to 1, once.
	write(fmt.Sprintf(cfg, rec.srv.URL, "/b"))
	if err := f.app.Reload(); err != nil {
		t.Fatal(err)
	}
	settle()
	want("success", 2)
	want("failure", 2)
	wantValue(t, scrape(t, f.base), "userbridge_config_last_reload_successful", nil, 1)
}

// TestReloadAuthFileAlone: SIGHUP after a change to a file auth names,
// the configuration unchanged, applies it (the file is part of what is
// served).
func TestReloadAuthFileAlone(t *testing.T) {
	f, put, rotate := startBasicAuthFile(t)
	if s := put("old-password"); s != 200 {
		t.Fatalf("before: %d", s)
	}
	rotate()
	if err := f.app.Reload(); err != nil {
		t.Fatal(err)
	}
	if s := put(finixPass); s != 200 {
		t.Errorf("the rotated password: %d", s)
	}
	if s := put("old-password"); s != 401 {
		t.Errorf("the old password after the rotation: %d", s)
	}
	wantValue(t, scrape(t, f.base), "userbridge_config_reloads_total", map[string]string{"result": "success"}, 1)
}

// TestReloadWatchAuthFile: the watcher looks at the files auth names too:
// a password rotated in a mounted secret is served without a SIGHUP.
func TestReloadWatchAuthFile(t *testing.T) {
	f, put, rotate := startBasicAuthFile(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.app.Watch(ctx, 20*time.Millisecond); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	if s := put("old-password"); s != 200 {
		t.Fatalf("before: %d", s)
	}
	rotate()
	eventually(t, "the rotated password served", func() bool { return put(finixPass) == 200 })
	if s := put("old-password"); s != 401 {
		t.Errorf("the old password after the rotation: %d", s)
	}
}

// startBasicAuthFile serves Finix with auth verify and a Basic file holding
// finixUser with the password "old-password"; put sends an update with a
// password, rotate rewrites the file with finixPass instead.
func startBasicAuthFile(t *testing.T) (f *fileStarted, put func(pass string) int, rotate func()) {
	t.Helper()
	rec := okUpstream(t)
	hash := func(pass string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	f = startFile(t, fileSetup{
		yaml:  "listen: 127.0.0.1:0\nupstream: {url: " + rec.srv.URL + "}\ndialects:\n  finix:\n    auth: {mode: verify, basic: {file: users}}\n",
		files: map[string]string{"users": finixUser + ":" + hash("old-password") + "\n"},
	})
	put = func(pass string) int {
		rec.set(okUser)
		return finixPut(t, f.started, "/users/"+finixID, map[string]string{"Authorization": basicValue(finixUser, pass)}).Status
	}
	rotate = func() { f.write(t, "users", finixUser+":"+hash(finixPass)+"\n") }
	return f, put, rotate
}

// TestReloadRefusedOnceSIGHUPFirst: a bad edit that SIGHUP (Reload) refuses
// is not refused again by the watcher looking next, whether the file could
// not be loaded (an unknown key, nothing in it) or loaded and was refused
// (a bad prefix): one ERROR line, one failure counted. The watcher does try
// a bad file that changed again, and SIGHUP tries the same one again.
func TestReloadRefusedOnceSIGHUPFirst(t *testing.T) {
	const good = "listen: 127.0.0.1:0\nupstream: {url: %s}\ndialects:\n  finix: {prefix: /a}\n"
	for _, c := range []struct{ name, bad, worse string }{
		{"unknown key", good + "bogus: 1\n", good + "bogus: 2\n"},
		{"empty", "# only a comment\n", "\n"},
		{"bad prefix", strings.Replace(good, "/a", "nope/", 1), strings.Replace(good, "/a", "nope2/", 1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := okUpstream(t)
			f := startFile(t, fileSetup{yaml: fmt.Sprintf(good, rec.srv.URL)})
			write := func(data string) {
				t.Helper()
				if strings.Contains(data, "%s") {
					data = fmt.Sprintf(data, rec.srv.URL)
				}
				tmp := filepath.Join(f.dir, "config.yaml.new")
				if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(tmp, f.path); err != nil {
					t.Fatal(err)
				}
			}
			failures := func() float64 {
				for _, s := range scrape(t, f.base) {
					if s.name == "userbridge_config_reloads_total" && s.labels["result"] == "failure" {
						return s.value
					}
				}
				return 0
			}
			count := func(msg string) int { return strings.Count(f.logs.String(), `"msg":"`+msg) }
			const refused, stands = "config reload refused", "config unchanged since it was refused"

			write(c.bad)
			if err := f.app.Reload(); err == nil { // SIGHUP, before the watcher runs
				t.Fatal("the bad file reloaded")
			}
			// The watcher starts after: its first look sees the file
			// changed since start-up, and reloads.
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { f.app.Watch(ctx, 10*time.Millisecond); close(done) }()
			t.Cleanup(func() { cancel(); <-done })
			eventually(t, "the watcher's reload", func() bool { return count(stands) > 0 || count(refused) > 1 })
			if n := count(refused); n != 1 {
				t.Errorf("%d %q lines for one bad edit, want 1:\n%s", n, refused, f.logs.String())
			}
			if n := failures(); n != 1 {
				t.Errorf("failures %v, want 1", n)
			}
			// Changed again, still bad: the watcher tries it.
			write(c.worse)
			eventually(t, "the watcher refuses the changed file", func() bool { return failures() == 2 })
			// SIGHUP on it unchanged: an operator's request, tried again.
			if err := f.app.Reload(); err == nil {
				t.Fatal("the bad file reloaded")
			}
			if n := failures(); n != 3 {
				t.Errorf("failures %v after SIGHUP, want 3", n)
			}
			if a := finixPut(t, f.started, "/a/users/"+finixID, nil); a.Status != 200 {
				t.Errorf("the configuration served: %d %s", a.Status, a.Body)
			}
		})
	}
}

// TestReloadUpstreamFileHeld: a file the upstream block names (here
// profile rules' rule file) changed in place is held for a restart, as
// every upstream change, and said at WARN, by SIGHUP and by the watcher;
// it is not "unchanged", and a second SIGHUP on the same content is.
func TestReloadUpstreamFileHeld(t *testing.T) {
	rules, err := os.ReadFile("../../examples/upstreams/keycloak.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rec := okUpstream(t)
	f := startFile(t, fileSetup{
		yaml:  fmt.Sprintf("listen: 127.0.0.1:0\nupstream: {url: %s, profile: rules, rules: kc.yaml}\n", rec.srv.URL),
		files: map[string]string{"kc.yaml": string(rules)},
	})
	heldLines := func() []map[string]any {
		var out []map[string]any
		for _, l := range strings.Split(f.logs.String(), "\n") {
			if strings.Contains(l, "needs a restart") {
				var m map[string]any
				if err := jsonUnmarshal(l, &m); err != nil {
					t.Fatal(err)
				}
				out = append(out, m)
			}
		}
		return out
	}
	f.write(t, "kc.yaml", string(rules)+"\n# narrowed\n")
	if err := f.app.Reload(); err != nil {
		t.Fatal(err)
	}
	h := heldLines()
	if len(h) != 1 || h[0]["key"] != "upstream.rules" || h[0]["level"] != "WARN" {
		t.Fatalf("held: %v\nlogs: %s", h, f.logs.String())
	}
	if strings.Contains(f.logs.String(), "config unchanged since it was applied") {
		t.Error("the changed file was called unchanged")
	}
	if err := f.app.Reload(); err != nil { // the same content: nothing new to say
		t.Fatal(err)
	}
	if !strings.Contains(f.logs.String(), "config unchanged since it was applied") || len(heldLines()) != 1 {
		t.Errorf("a second SIGHUP on the same content: %s", f.logs.String())
	}
	// The watcher looks at the file too.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.app.Watch(ctx, 20*time.Millisecond)
	f.write(t, "kc.yaml", string(rules)+"\n# narrowed again\n")
	deadline := time.Now().Add(5 * time.Second)
	for len(heldLines()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(heldLines()) != 2 {
		t.Errorf("the watcher did not see the upstream's file change: %s", f.logs.String())
	}
}

// TestReloadAuthFileProblems: a reload refused for a key file with two bad
// lines logs two problems, each under its key and config line, as validate
// prints them, and the old keys keep serving.
func TestReloadAuthFileProblems(t *testing.T) {
	f, put, _ := startBasicAuthFile(t)
	f.write(t, "users", finixUser+":not-a-hash\nno colon here\n")
	if err := f.app.Reload(); err == nil {
		t.Fatal("a bad user file reloaded")
	}
	var refused map[string]any
	for _, l := range strings.Split(f.logs.String(), "\n") {
		if strings.Contains(l, "config reload refused") {
			if err := jsonUnmarshal(l, &refused); err != nil {
				t.Fatal(err)
			}
		}
	}
	ps, _ := refused["problems"].([]any)
	if len(ps) != 2 {
		t.Fatalf("problems %v, want two", refused["problems"])
	}
	for i, p := range ps {
		s := fmt.Sprint(p)
		if !strings.Contains(s, "config.yaml: line 5: dialects.finix.auth.basic.file") || !strings.Contains(s, fmt.Sprintf("users: line %d", i+1)) ||
			strings.Contains(s, "\n") {
			t.Errorf("problem %d: %q", i, s)
		}
	}
	if s := put("old-password"); s != 200 {
		t.Errorf("the old users after the refusal: %d", s)
	}
}

// TestStartAuthProblemsAll: start-up reports every dialect's auth
// problems at once, each under its key and config line, as validate and
// a reload do (the build stopped at the first dialect's).
func TestStartAuthProblemsAll(t *testing.T) {
	rec := okUpstream(t)
	dir := t.TempDir()
	yaml := "listen: 127.0.0.1:0\nupstream: {url: " + rec.srv.URL + "}\ndialects:\n" +
		"  finix:\n    auth: {mode: verify, basic: {file: missing-users}}\n" +
		"  shift:\n    auth: {mode: verify, apiKeys: {file: missing-keys}}\n"
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, src, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = app.New(cfg, src, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("started without its key files")
	}
	for _, want := range []string{"config.yaml: line 5: dialects.finix.auth.basic.file", "config.yaml: line 7: dialects.shift.auth.apiKeys.file"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}
