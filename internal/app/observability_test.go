package app_test

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/app"
	"github.com/userbridge/userbridge/internal/telemetry"
)

// fileSetup is a userbridge started from a config file in a temporary
// directory, so that a test can rewrite it (and the rule files beside it)
// and reload.
type fileSetup struct {
	yaml  string            // config.yaml
	files map[string]string // other files beside it
	opts  app.Options       // Logger, Level, Load and ConfigFile are filled in
}

// fileStarted is a running userbridge started from a file.
type fileStarted struct {
	*started
	dir, path string
	level     *slog.LevelVar
}

func (f *fileStarted) write(t *testing.T, name, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, name), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func startFile(t *testing.T, fs fileSetup) *fileStarted {
	t.Helper()
	f := &fileStarted{dir: t.TempDir(), level: new(slog.LevelVar)}
	f.path = filepath.Join(f.dir, "config.yaml")
	f.write(t, "config.yaml", fs.yaml)
	for n, d := range fs.files {
		f.write(t, n, d)
	}
	logs := &syncBuffer{}
	o := fs.opts
	o.Logger = telemetry.NewLogger(logs, "json", f.level)
	o.Level = f.level
	o.Load = func() (*config.Config, config.Source, error) { return config.Load(f.path) }
	o.ConfigFile = f.path
	cfg, src, err := o.Load()
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.NewWith(cfg, src, o)
	if err != nil {
		t.Fatal(err)
	}
	f.started = launch(t, a, cfg.Listen, logs)
	return f
}

// sample is one scraped series.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// scrape GETs /metrics at base and returns every sample; a histogram gives
// its _count and _sum.
func scrape(t *testing.T, base string) []sample {
	t.Helper()
	resp, err := client.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics is not the text format: %v", err)
	}
	var out []sample
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out = append(out, sample{name, l, m.GetCounter().GetValue()})
			case dto.MetricType_GAUGE:
				out = append(out, sample{name, l, m.GetGauge().GetValue()})
			case dto.MetricType_HISTOGRAM:
				out = append(out, sample{name + "_count", l, float64(m.GetHistogram().GetSampleCount())})
				out = append(out, sample{name + "_sum", l, m.GetHistogram().GetSampleSum()})
			default:
				out = append(out, sample{name, l, m.GetUntyped().GetValue()})
			}
		}
	}
	return out
}

// value finds the sample of name whose labels include want; ok false when
// there is none.
func value(ss []sample, name string, want map[string]string) (float64, bool) {
	for _, s := range ss {
		if s.name != name {
			continue
		}
		match := true
		for k, v := range want {
			if s.labels[k] != v {
				match = false
				break
			}
		}
		if match {
			return s.value, true
		}
	}
	return 0, false
}

func wantValue(t *testing.T, ss []sample, name string, labels map[string]string, want float64) {
	t.Helper()
	got, ok := value(ss, name, labels)
	if !ok {
		t.Errorf("no series %s%v", name, labels)
		return
	}
	if got != want {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

func wantAtLeast(t *testing.T, ss []sample, name string, labels map[string]string, min float64) {
	t.Helper()
	got, ok := value(ss, name, labels)
	if !ok || got < min {
		t.Errorf("%s%v = %v (present %v), want at least %v", name, labels, got, ok, min)
	}
}

// accessLines returns the access lines ("msg":"request") logged so far.
func accessLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", sc.Text())
		}
		if m["msg"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

func accessLine(t *testing.T, logs, requestID string) map[string]any {
	t.Helper()
	for _, l := range accessLines(t, logs) {
		if l["request_id"] == requestID {
			return l
		}
	}
	t.Fatalf("no access line for request %s in:\n%s", requestID, logs)
	return nil
}

// secretsOf are values that must never appear in a metric label or a log:
// every user id, username, tenant and credential the specs send.
func secretsOf() []string {
	out := []string{janeID, johnID, finixID, "jane.doe", "john.smith", "demo-app", "2a1b3c", "k-123", "s-456",
		"tt-secret-abc", "VVN1c2VyOnBhc3N3b3Jk", "abc123", "tok-1", "jane.doe@x"}
	return out
}

func specHeader(d dialectSpec, extra map[string]string) map[string]string {
	h := map[string]string{"Content-Type": "application/json"}
	for k, v := range d.header {
		h[k] = v
	}
	for k, v := range extra {
		h[k] = v
	}
	return h
}

func specNamed(t *testing.T, name string) dialectSpec {
	t.Helper()
	for _, d := range specs {
		if d.name == name {
			return d
		}
	}
	t.Fatalf("no spec %s", name)
	return dialectSpec{}
}

// TestMetrics sends traffic through every dialect (successes, refused
// fields, an unmatched path, an upstream that needs retries), scrapes
// /metrics and checks the series, their labels and that no label carries
// a user id, a username or a credential.
func TestMetrics(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, e2eConfig)
	ok := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(userFor(r))
	}
	rec.set(ok)
	routes := map[string]string{}
	for _, m := range s.app.Mounts {
		routes[m.Dialect.Name()] = m.Path
	}
	for _, d := range specs {
		if a := s.do(t, d.method, d.path, specHeader(d, nil), d.body); a.Status != d.success {
			t.Fatalf("%s: %d %s", d.name, a.Status, a.Body)
		}
	}
	shift, finix := specNamed(t, "shift"), specNamed(t, "finix")
	refused := []struct {
		d     dialectSpec
		body  string
		field string
	}{
		{shift, `{"email":""}`, "email"},
		{finix, `{"enabled":"no"}`, "enabled"},
		{finix, `{"tags":{"a":1}}`, "tags"},           // tags.a: the rule's name
		{finix, `{"jane.doe@x":"1"}`, "other"},        // a name no rule knows
		{shift, `{"email":"x","email":"y"}`, "email"}, // twice
	}
	for _, r := range refused {
		if a := s.do(t, r.d.method, r.d.path, specHeader(r.d, nil), r.body); a.Status < 400 || a.Status > 499 {
			t.Fatalf("%s %s: %d %s", r.d.name, r.body, a.Status, a.Body)
		}
	}
	if a := s.do(t, "GET", "/nothing/here/jane.doe", nil, ""); a.Status != 404 {
		t.Fatalf("unmatched: %d", a.Status)
	}
	rec.set(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	if a := s.do(t, finix.method, finix.path, specHeader(finix, nil), finix.body); a.Status != 502 {
		t.Fatalf("upstream 502: %d %s", a.Status, a.Body)
	}
	rec.set(ok)

	ss := scrape(t, s.base)
	for _, d := range specs {
		l := map[string]string{"dialect": d.name, "route": routes[d.name], "status": itoa(d.success)}
		wantAtLeast(t, ss, "userbridge_requests_total", l, 1)
		wantAtLeast(t, ss, "userbridge_request_duration_seconds_count", map[string]string{"dialect": d.name, "route": routes[d.name]}, 1)
		wantAtLeast(t, ss, "userbridge_upstream_calls_total", map[string]string{"dialect": d.name, "method": "PATCH", "status": "200"}, 1)
		wantAtLeast(t, ss, "userbridge_upstream_call_duration_seconds_count", map[string]string{"dialect": d.name, "method": "PATCH"}, 1)
		wantAtLeast(t, ss, "userbridge_upstream_attempts_total", map[string]string{"dialect": d.name, "method": "PATCH"}, 1)
	}
	wantValue(t, ss, "userbridge_requests_total", map[string]string{"dialect": "finix", "route": "/users/:user_id", "status": "422"}, 3)
	wantValue(t, ss, "userbridge_requests_total", map[string]string{"dialect": "finix", "route": "/users/:user_id", "status": "502"}, 1)
	wantValue(t, ss, "userbridge_requests_total", map[string]string{"dialect": "none", "route": "unmatched", "status": "404"}, 1)
	// The 502 was tried 3 times (maxAttempts), so 2 retries.
	wantValue(t, ss, "userbridge_upstream_calls_total", map[string]string{"dialect": "finix", "method": "PATCH", "status": "502"}, 1)
	wantValue(t, ss, "userbridge_upstream_attempts_total", map[string]string{"dialect": "finix", "method": "PATCH"}, 4)
	wantValue(t, ss, "userbridge_upstream_retries_total", map[string]string{"dialect": "finix", "method": "PATCH"}, 2)
	wantValue(t, ss, "userbridge_validation_failures_total", map[string]string{"dialect": "shift", "field": "email"}, 2)
	wantValue(t, ss, "userbridge_validation_failures_total", map[string]string{"dialect": "finix", "field": "enabled"}, 1)
	wantValue(t, ss, "userbridge_validation_failures_total", map[string]string{"dialect": "finix", "field": "tags"}, 1)
	wantValue(t, ss, "userbridge_validation_failures_total", map[string]string{"dialect": "finix", "field": "other"}, 1)
	wantValue(t, ss, "userbridge_upstream_breaker_state", map[string]string{"state": "disabled"}, 1) // e2eConfig turns it off
	wantValue(t, ss, "userbridge_upstream_breaker_state", map[string]string{"state": "open"}, 0)
	wantValue(t, ss, "userbridge_config_last_reload_successful", nil, 1)
	wantValue(t, ss, "userbridge_config_reloads_total", map[string]string{"result": "failure"}, 0)
	if _, ok := value(ss, "userbridge_build_info", nil); !ok {
		t.Error("no userbridge_build_info")
	}
	for _, s := range ss {
		if s.name == "userbridge_build_info" {
			if s.value != 1 || s.labels["version"] == "" || s.labels["revision"] == "" || !strings.HasPrefix(s.labels["goversion"], "go") {
				t.Errorf("build info %v = %v", s.labels, s.value)
			}
		}
	}
	if _, ok := value(ss, "go_goroutines", nil); !ok {
		t.Error("no Go runtime metrics")
	}

	// Label names are the documented ones; no value is a user's or a secret.
	allowed := map[string]bool{"dialect": true, "route": true, "status": true, "method": true, "field": true, "state": true,
		"result": true, "version": true, "revision": true, "goversion": true, "kind": true, "outcome": true}
	for _, s := range ss {
		if !strings.HasPrefix(s.name, "userbridge_") {
			continue
		}
		for k, v := range s.labels {
			if !allowed[k] {
				t.Errorf("%s has label %s", s.name, k)
			}
			for _, bad := range secretsOf() {
				if strings.Contains(v, bad) {
					t.Errorf("%s{%s=%q} carries %q", s.name, k, v, bad)
				}
			}
		}
	}
	// The dialect label takes the dialect names and "none", nothing else.
	seen := map[string]bool{}
	for _, s := range ss {
		if d, ok := s.labels["dialect"]; ok {
			seen[d] = true
		}
	}
	var got []string
	for d := range seen {
		got = append(got, d)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != "baasic,crafter,finix,none,shift,trustedtwin" {
		t.Errorf("dialect label values %v", got)
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func readAll(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestAccessLog checks the access line of a success, an upstream failure
// after retries and a refused field: every field present, no secret.
func TestAccessLog(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, e2eConfig)
	finix := specNamed(t, "finix")
	rec.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(userFor(r))
	})
	s.do(t, finix.method, finix.path, specHeader(finix, map[string]string{"X-Request-ID": "log-ok"}), finix.body)
	rec.set(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	s.do(t, finix.method, finix.path, specHeader(finix, map[string]string{"X-Request-ID": "log-502"}), finix.body)
	s.do(t, finix.method, finix.path, specHeader(finix, map[string]string{"X-Request-ID": "log-422"}), `{"enabled":"no"}`)

	logs := s.logs.String()
	cases := []struct {
		id   string
		want map[string]any
	}{
		{"log-ok", map[string]any{"status": 200.0, "upstream_status": 200.0, "attempts": 1.0}},
		{"log-502", map[string]any{"status": 502.0, "upstream_status": 502.0, "attempts": 3.0, "code": "bad_gateway"}},
		{"log-422", map[string]any{"status": 422.0, "upstream_status": 0.0, "attempts": 0.0, "code": "invalid_field"}},
	}
	for _, c := range cases {
		l := accessLine(t, logs, c.id)
		want := map[string]any{"level": "INFO", "dialect": "finix", "method": "PUT", "route": "/users/:user_id"}
		for k, v := range c.want {
			want[k] = v
		}
		if c.id != "log-422" {
			want["target"] = "id"
		}
		for k, v := range want {
			if l[k] != v {
				t.Errorf("%s: %s = %v (%T), want %v", c.id, k, l[k], l[k], v)
			}
		}
		for _, k := range []string{"time", "latency", "upstream_latency", "target"} {
			if _, ok := l[k]; !ok {
				t.Errorf("%s: no %s in %v", c.id, k, l)
			}
		}
		if lat, _ := l["latency"].(float64); lat <= 0 {
			t.Errorf("%s: latency %v", c.id, l["latency"])
		}
		if _, ok := l["trace_id"]; ok {
			t.Errorf("%s: trace_id without tracing", c.id)
		}
	}
	for _, bad := range append(secretsOf(), "produce", "order_number") {
		if bad == "jane.doe@x" {
			continue
		}
		if strings.Contains(logs, bad) {
			t.Errorf("the logs carry %q", bad)
		}
	}
}

// TestLogRedaction checks that an attribute naming a secret is redacted by
// the logger itself, whoever logs it.
func TestLogRedaction(t *testing.T) {
	var b syncBuffer
	log := telemetry.NewLogger(&b, "json", slog.LevelInfo)
	log.Info("x", "password", "hunter2", "Authorization", "Bearer abc", slog.Group("h", "x-secret", "s3"), "user", "ok")
	out := b.String()
	for _, bad := range []string{"hunter2", "Bearer abc", "s3"} {
		if strings.Contains(out, bad) {
			t.Errorf("not redacted: %q in %s", bad, out)
		}
	}
	if !strings.Contains(out, `"user":"ok"`) || strings.Count(out, telemetry.Redacted) != 3 {
		t.Errorf("%s", out)
	}
}

// TestAdminListener moves the probes and the metrics to a listener of their
// own; /readyz says 503 while the upstream is unreachable.
func TestAdminListener(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, func(c *config.Config) { c.Admin.Listen = "localhost:0" })
	admin := &started{app: s.app, base: "http://" + s.app.AdminAddr(), logs: s.logs}
	if admin.base == s.base {
		t.Fatal("admin listener is the main one")
	}
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		if a := admin.do(t, "GET", p, nil, ""); a.Status != 200 {
			t.Errorf("admin %s: %d %s", p, a.Status, a.Body)
		}
		if a := s.do(t, "GET", p, nil, ""); a.Status != 404 {
			t.Errorf("main %s: %d, want 404 with admin.listen set", p, a.Status)
		}
	}
	if a := admin.do(t, "GET", "/metrics", nil, ""); !strings.Contains(string(a.Body), "userbridge_build_info") {
		t.Errorf("metrics: %s", a.Body)
	}
	rec.srv.Close()
	a := admin.do(t, "GET", "/readyz", nil, "")
	if a.Status != 503 || !strings.Contains(string(a.Body), "unreachable") {
		t.Errorf("readyz with the upstream gone: %d %s", a.Status, a.Body)
	}
	if a := admin.do(t, "GET", "/healthz", nil, ""); a.Status != 200 {
		t.Errorf("healthz with the upstream gone: %d", a.Status)
	}
}

// TestProbesOnMainListener: without admin.listen, everything is on the main
// listener.
func TestProbesOnMainListener(t *testing.T) {
	s := start(t, "", "", nil)
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		if a := s.do(t, "GET", p, nil, ""); a.Status != 200 {
			t.Errorf("%s: %d %s", p, a.Status, a.Body)
		}
	}
}
