package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/userbridge/userbridge/internal/testutil"
	"gopkg.in/yaml.v3"
)

func TestHealth(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			w.WriteHeader(404)
			return
		}
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	if code, out, errs := runCmd("", "health", "--url", srv.URL+"/healthz"); code != 0 || !strings.Contains(out, "200") {
		t.Errorf("healthy: %d %q %q", code, out, errs)
	}
	status.Store(http.StatusServiceUnavailable)
	if code, _, errs := runCmd("", "health", "--url", srv.URL+"/healthz"); code != 1 || !strings.Contains(errs, "503") {
		t.Errorf("unhealthy: %d %q", code, errs)
	}
	t.Setenv("USERBRIDGE_HEALTH_URL", srv.URL+"/nope")
	if code, _, errs := runCmd("", "health"); code != 1 || !strings.Contains(errs, "404") {
		t.Errorf("USERBRIDGE_HEALTH_URL not used: %d %q", code, errs)
	}
	srv.Close()
	if code, _, errs := runCmd("", "health", "--url", srv.URL+"/healthz"); code != 1 || !strings.Contains(errs, "health:") {
		t.Errorf("nobody listening: %d %q", code, errs)
	}
}

func TestRoutes(t *testing.T) {
	code, out, errs := runCmd("", "routes")
	if code != 0 {
		t.Fatalf("%d %q", code, errs)
	}
	for _, want := range []string{
		"PUT     /v1/:apiKey/users/:username", "baasic", "PATCH   /users/:user", "trustedtwin", "/v3/users/:userId",
		"/users/:user_id", "finix", "/studio/api/1/services/api/1/user/update.json", "crafter",
		"127.0.0.1:8080", "demo backend (in-process) (canonical)",
		"GET     /healthz", "(liveness)", "/readyz", "(readiness)", "/metrics", "(metrics)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("routes lacks %q:\n%s", want, out)
		}
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("listen: 0.0.0.0:8080\nadmin: {listen: 0.0.0.0:9090}\nupstream: {url: http://idp:9000}\ndialects:\n  shift: {listen: 0.0.0.0:8081}\n"), 0o600)
	code, out, errs = runCmd("", "routes", "--config", cfg)
	if code != 0 {
		t.Fatalf("%d %q", code, errs)
	}
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.Contains(line, "/healthz"), strings.Contains(line, "/metrics"):
			if !strings.Contains(line, "0.0.0.0:9090") {
				t.Errorf("probe not on the admin listener: %s", line)
			}
		case strings.Contains(line, "shift"):
			if !strings.Contains(line, "0.0.0.0:8081") || !strings.Contains(line, "http://idp:9000 (canonical)") {
				t.Errorf("shift row: %s", line)
			}
		}
	}
}

// syncBuffer is a buffer safe for the server's goroutines.
type syncBuffer = testutil.LogBuffer

// TestServeReloadsOnSIGHUP runs serve in-process, rewrites its config file,
// sends the process SIGHUP and finds the new route served; SIGTERM then
// stops it cleanly.
func TestServeReloadsOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	cfg := "listen: 127.0.0.1:0\nlog: {format: json}\ndialects:\n  finix: {prefix: %s}\n"
	if err := os.WriteFile(path, []byte(strings.Replace(cfg, "%s", "/a", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	testutil.KeepRuntime(t)
	t.Setenv("GOMAXPROCS", "") // restored after the test
	os.Unsetenv("GOMAXPROCS")
	var stderr syncBuffer
	done, finixURL := startServe(t, path, &stderr)
	base := strings.TrimSuffix(finixURL, "/a/users/:user_id")
	if !strings.Contains(stderr.String(), `"msg":"runtime: one processor, serve's default`) || !strings.Contains(stderr.String(), `"gomaxprocs":1`) || runtime.GOMAXPROCS(0) != 1 {
		t.Errorf("serve without GOMAXPROCS: GOMAXPROCS %d, want 1 and said so:\n%s", runtime.GOMAXPROCS(0), stderr.String())
	}
	put := func(path string) int {
		req, _ := http.NewRequest("PUT", base+path, strings.NewReader(`{"enabled":true}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := put("/a/users/USsRhsHYZGBPnQw8CFHjD7Un"); s != 200 {
		t.Fatalf("before: %d", s)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(cfg, "%s", "/b", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for put("/b/users/USsRhsHYZGBPnQw8CFHjD7Un") != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("not reloaded:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(stderr.String(), "SIGHUP: reloading") {
		t.Errorf("SIGHUP not logged:\n%s", stderr.String())
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited %d:\n%s", code, stderr.String())
		}
		if !strings.Contains(stderr.String(), `"msg":"shutdown complete"`) {
			t.Errorf("a complete drain not logged:\n%s", stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
}

// TestServeDrainCutOff: a drain that server.shutdownTimeout cuts short (a
// client stalled mid-body holds its connection) is said in the JSON log and
// ends serve with status 1, with no unstructured line.
func TestServeDrainCutOff(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte("listen: 127.0.0.1:0\nlog: {format: json}\nserver: {shutdownTimeout: 300ms}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	testutil.KeepRuntime(t)
	var stderr syncBuffer
	done, finixURL := startServe(t, path, &stderr)
	addr := strings.TrimPrefix(strings.TrimSuffix(finixURL, "/users/:user_id"), "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT /users/USsRhsHYZGBPnQw8CFHjD7Un HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
	time.Sleep(100 * time.Millisecond) // the request is being read
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		log := stderr.String()
		if code != 1 || !strings.Contains(log, `"msg":"shutdown: requests or connections still open after server.shutdownTimeout were cut off"`) {
			t.Errorf("serve exited %d:\n%s", code, log)
		}
		for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
			if !json.Valid([]byte(l)) {
				t.Errorf("a line not in the JSON log: %q", l)
			}
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
}

// TestKubernetesExample validates the ConfigMap of the sidecar example as
// userbridge would, and checks the probes hit the admin listener.
func TestKubernetesExample(t *testing.T) {
	data, err := os.ReadFile("../../examples/kubernetes/sidecar.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	kinds := map[string]map[string]any{}
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			break
		}
		kinds[doc["kind"].(string)] = doc
	}
	cm, dep := kinds["ConfigMap"], kinds["Deployment"]
	if cm == nil || dep == nil || kinds["Service"] == nil {
		t.Fatalf("kinds %v", kinds)
	}
	conf := cm["data"].(map[string]any)["config.yaml"].(string)
	path := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(path, []byte(conf), 0o600)
	if code, out, errs := runCmd("", "validate", "--config", path); code != 0 {
		t.Fatalf("the example's config does not validate: %q %q", out, errs)
	}
	if !strings.Contains(conf, "listen: 0.0.0.0:9090") {
		t.Fatal("the example's admin listener moved; update the probes")
	}
	spec := dep["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	if sc := spec["securityContext"].(map[string]any); sc["runAsNonRoot"] != true {
		t.Error("pod not non-root")
	}
	var found bool
	for _, c := range spec["containers"].([]any) {
		c := c.(map[string]any)
		if c["name"] != "userbridge" {
			continue
		}
		found = true
		ports := map[string]int{}
		for _, p := range c["ports"].([]any) {
			p := p.(map[string]any)
			ports[p["name"].(string)] = p["containerPort"].(int)
		}
		if ports["admin"] != 9090 || ports["http"] != 8080 {
			t.Errorf("ports %v", ports)
		}
		for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
			g := c[probe].(map[string]any)["httpGet"].(map[string]any)
			if g["path"] != path || g["port"] != "admin" {
				t.Errorf("%s: %v", probe, g)
			}
		}
		if c["resources"] == nil || c["securityContext"].(map[string]any)["readOnlyRootFilesystem"] != true {
			t.Error("userbridge container without resources or a read-only root")
		}
		checkShutdownBudget(t, spec, c, conf)
		checkMemoryLimit(t, c)
	}
	if !found {
		t.Error("no userbridge container")
	}
}

// startServe runs serve in-process with the config at path, its log to
// stderr, and waits until it serves Finix: done receives its exit status,
// finixURL is the URL the log gives for Finix's route.
func startServe(t *testing.T, path string, stderr *syncBuffer) (done chan int, finixURL string) {
	t.Helper()
	done = make(chan int, 1)
	go func() {
		done <- run([]string{"serve", "--config", path}, strings.NewReader(""), &bytes.Buffer{}, stderr)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, l := range strings.Split(stderr.String(), "\n") {
			var m map[string]string
			if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "serving dialect" && m["dialect"] == "finix" {
				return done, m["url"]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkShutdownBudget: a preStop pause (the kubelet's sleep: the image has
// no shell) lets the pod leave the endpoints before SIGTERM closes the
// listeners, and the grace period holds the pause and the drain.
func checkShutdownBudget(t *testing.T, spec, c map[string]any, conf string) {
	t.Helper()
	var pause int
	if lc, ok := c["lifecycle"].(map[string]any); ok {
		if ps, ok := lc["preStop"].(map[string]any); ok {
			if sl, ok := ps["sleep"].(map[string]any); ok {
				pause, _ = sl["seconds"].(int)
			}
		}
	}
	if pause < 3 {
		t.Fatalf("no preStop sleep of a few seconds: %v", c["lifecycle"])
	}
	var cfg struct {
		Server struct {
			ShutdownTimeout string `yaml:"shutdownTimeout"`
		} `yaml:"server"`
	}
	if err := yaml.Unmarshal([]byte(conf), &cfg); err != nil {
		t.Fatal(err)
	}
	drain, err := time.ParseDuration(cfg.Server.ShutdownTimeout)
	if err != nil {
		t.Fatalf("server.shutdownTimeout: %v", err)
	}
	grace, _ := spec["terminationGracePeriodSeconds"].(int)
	// Past the drain: up to 2 s for the access lines of requests it cut
	// off (internal/server's cutOffGrace), then minFlush for the last
	// spans (tracing on).
	after := 2*time.Second + minFlush
	if time.Duration(pause)*time.Second+drain+after >= time.Duration(grace)*time.Second {
		t.Errorf("preStop %ds + shutdownTimeout %s + %s after it do not fit in terminationGracePeriodSeconds %d", pause, drain, after, grace)
	}
}

// checkMemoryLimit: GOMEMLIMIT is set below the container's memory limit,
// leaving room for what the Go runtime does not count.
func checkMemoryLimit(t *testing.T, c map[string]any) {
	t.Helper()
	limit := kubeQuantity(t, c["resources"].(map[string]any)["limits"].(map[string]any)["memory"].(string))
	var goLimit int64
	for _, e := range c["env"].([]any) {
		e := e.(map[string]any)
		if e["name"] == "GOMEMLIMIT" {
			v, ok := e["value"].(string)
			if !ok {
				t.Fatalf("GOMEMLIMIT is not a value of its own: %v", e)
			}
			goLimit = kubeQuantity(t, strings.TrimSuffix(v, "B"))
		}
	}
	if goLimit == 0 || goLimit > limit*95/100 || goLimit < limit*70/100 {
		t.Errorf("GOMEMLIMIT %d bytes, want 70%% to 95%% of the container's limit %d", goLimit, limit)
	}
}

// kubeQuantity reads 128Mi (or Go's 115Mi, once its B is cut) in bytes.
func kubeQuantity(t *testing.T, q string) int64 {
	t.Helper()
	for suffix, mult := range map[string]int64{"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30} {
		if n, ok := strings.CutSuffix(q, suffix); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			if err != nil {
				t.Fatalf("quantity %q: %v", q, err)
			}
			return v * mult
		}
	}
	t.Fatalf("quantity %q: not in Ki, Mi or Gi", q)
	return 0
}

// TestServeTracingErrorsLogged: with tracing on and the collector down, the
// OpenTelemetry SDK's export error is a WARN line of the JSON log, not a
// plain line of the standard logger on stderr amid the JSON lines.
func TestServeTracingErrorsLogged(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	collector := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there: every export fails
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "10") // ms: the batch goes at once
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte("listen: 127.0.0.1:0\nlog: {format: json}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	testutil.KeepRuntime(t)
	var stderr syncBuffer
	done, finixURL := startServe(t, path, &stderr)
	req, _ := http.NewRequest("PUT", strings.Replace(finixURL, ":user_id", "USsRhsHYZGBPnQw8CFHjD7Un", 1), strings.NewReader(`{"enabled":true}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), `"level":"WARN","msg":"tracing: the OpenTelemetry SDK failed"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the failed export is not in the log:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if !json.Valid([]byte(l)) {
			t.Errorf("a line not in the JSON log: %q", l)
		}
	}
}

// TestServeTracingFlushWithinTheDrain: on SIGTERM, with a collector that
// takes the connection and never answers, the last spans are given what is
// left of server.shutdownTimeout, at least 1 s (here 300ms is left, so
// 1 s), not a fixed 5 s on top of the drain that a Kubernetes grace period
// sized for the preStop pause and the drain does not hold.
func TestServeTracingFlushWithinTheDrain(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // read nothing, answer nothing
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			_ = c.Close()
		}
	})
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+ln.Addr().String())
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte("listen: 127.0.0.1:0\nlog: {format: json}\nserver: {shutdownTimeout: 300ms}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	testutil.KeepRuntime(t)
	var stderr syncBuffer
	done, finixURL := startServe(t, path, &stderr)
	req, _ := http.NewRequest("PUT", strings.Replace(finixURL, ":user_id", "USsRhsHYZGBPnQw8CFHjD7Un", 1), strings.NewReader(`{"enabled":true}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
	var warned bool
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "tracing: the last spans were not exported" {
			warned = true
			if m["within"] != "1s" {
				t.Errorf("the last spans were given %v, want 1s (300ms left of the drain, at least 1s): %s", m["within"], l)
			}
		}
	}
	if !warned {
		t.Errorf("the spans the collector never took are not said:\n%s", stderr.String())
	}
}

// TestServeStartFailureLogged: with log.format json, a configuration that
// loads but cannot be served (a dialect that is not built in, a listener
// already taken) ends serve with status 1 and says why in one ERROR line
// of the JSON log, each problem an item of "problems": no plain line.
func TestServeStartFailureLogged(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	for name, conf := range map[string]string{
		"not built in":   "listen: 127.0.0.1:0\nlog: {format: json}\ndialects:\n  acme: {}\n  shift: {prefix: nope}\n",
		"listener taken": "listen: " + busy.Addr().String() + "\nlog: {format: json}\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, "config.yaml")
			if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
				t.Fatal(err)
			}
			testutil.KeepRuntime(t)
			var stderr syncBuffer
			code := run([]string{"serve", "--config", path}, strings.NewReader(""), &bytes.Buffer{}, &stderr)
			var failed map[string]any
			for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Errorf("a line not in the JSON log: %q", l)
					continue
				}
				if m["msg"] == "serve: cannot start" {
					failed = m
				}
			}
			if code != 1 || failed == nil || failed["level"] != "ERROR" {
				t.Fatalf("exit %d, no ERROR line saying why:\n%s", code, stderr.String())
			}
			problems, _ := failed["problems"].([]any)
			want := map[string]int{"not built in": 2, "listener taken": 1}[name]
			if len(problems) != want {
				t.Errorf("%d problems, want %d: %v", len(problems), want, problems)
			}
		})
	}
}
