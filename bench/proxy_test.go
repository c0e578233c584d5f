package bench

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/app"
	"github.com/userbridge/userbridge/internal/testutil"
)

// These benchmarks run a full round trip in one process: a net/http client,
// the real userbridge (internal/app, embedded default config, logging off)
// and an httptest upstream answering User. The client's and the upstream's
// work are in the figures and in a -cpuprofile; bench/run --profile
// profiles userbridge's process alone under wrk.
//
//	go test ./bench -run '^$' -bench . -benchtime 3s
//	go test ./bench -run '^$' -bench BenchmarkProxyFinix -cpuprofile cpu.out

// parallelism is goroutines per GOMAXPROCS in RunParallel: enough
// concurrent requests to keep the pools busy, like wrk's 32 connections.
const parallelism = 16

// TestRequests keeps requests.tsv honest, quickly: each dialect's request
// gets its status through the real app, and the canonical one from the
// upstream, so bench/run never measures error answers.
func TestRequests(t *testing.T) {
	base := startProxy(t)
	up := httptest.NewServer(http.HandlerFunc(Upstream))
	t.Cleanup(up.Close)
	client := &http.Client{Timeout: 10 * time.Second}
	for _, r := range requests(t) {
		target := base
		if r.Name == "canonical" {
			target = up.URL
		}
		req, err := http.NewRequest(r.Method, target+r.Path, strings.NewReader(r.Body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = r.Header.Clone()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != r.Status {
			t.Errorf("%s: status %d, want %d: %s", r.Name, resp.StatusCode, r.Status, got)
		}
	}
}

func BenchmarkProxyFinix(b *testing.B) {
	base := startProxy(b)
	benchRequest(b, base, request(b, "finix"))
}

// BenchmarkProxy runs every dialect's request of requests.tsv.
func BenchmarkProxy(b *testing.B) {
	base := startProxy(b)
	for _, r := range requests(b) {
		if r.Name == "canonical" {
			continue
		}
		b.Run(r.Name, func(b *testing.B) { benchRequest(b, base, r) })
	}
}

// BenchmarkUpstreamDirect is the direct case: the client straight to the upstream
// with the canonical update userbridge would send.
func BenchmarkUpstreamDirect(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(Upstream))
	b.Cleanup(up.Close)
	benchRequest(b, up.URL, request(b, "canonical"))
}

func requests(tb testing.TB) []Request {
	rs, err := ReadRequests("requests.tsv")
	if err != nil {
		tb.Fatal(err)
	}
	return rs
}

func request(tb testing.TB, name string) Request {
	for _, r := range requests(tb) {
		if r.Name == name {
			return r
		}
	}
	tb.Fatalf("no request %q in requests.tsv", name)
	return Request{}
}

// startProxy starts the upstream and userbridge on loopback ports and
// returns userbridge's base URL.
func startProxy(b testing.TB) string {
	b.Helper()
	up := httptest.NewServer(http.HandlerFunc(Upstream))
	b.Cleanup(up.Close)
	cfg, err := config.Parse(config.Source{Name: "bench"}, config.DefaultYAML())
	if err != nil {
		b.Fatal(err)
	}
	cfg.Listen = "127.0.0.1:0"
	cfg.Upstream.URL = up.URL
	a, err := app.New(cfg, config.Source{Name: "bench"}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	testutil.Serve(b, a)
	return "http://" + a.Server.Addr(cfg.Listen)
}

// benchRequest sends r to base, concurrently, and fails on any other
// status than r.Status.
func benchRequest(b *testing.B, base string, r Request) {
	tr := &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}
	b.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	url := base + r.Path
	body := []byte(r.Body)
	send := func() error {
		req, err := http.NewRequest(r.Method, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header = r.Header.Clone()
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != r.Status {
			return &statusError{r.Name, resp.StatusCode, r.Status, got}
		}
		return nil
	}
	if err := send(); err != nil { // a warm connection, and a check
		b.Fatal(err)
	}
	b.SetParallelism(parallelism)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := send(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

type statusError struct {
	name      string
	got, want int
	body      []byte
}

func (e *statusError) Error() string {
	return "bench: " + e.name + ": status " + itoa(e.got) + ", want " + itoa(e.want) + ": " + strings.TrimSpace(string(e.body))
}

func itoa(n int) string {
	if n < 0 || n > 999 {
		return "?"
	}
	return string([]byte{byte('0' + n/100), byte('0' + n/10%10), byte('0' + n%10)})
}
