package app_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/crypto/bcrypt"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/app"
	"github.com/userbridge/userbridge/internal/backend"
	"github.com/userbridge/userbridge/internal/testutil"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// soakDuration is how long TestSoak runs: USERBRIDGE_SOAK (a duration, such
// as 60s) or 10s; 2s with -short.
func soakDuration(t *testing.T) time.Duration {
	if v := os.Getenv("USERBRIDGE_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("USERBRIDGE_SOAK=%q is not a duration such as 60s", v)
		}
		return d
	}
	if testing.Short() {
		return 2 * time.Second
	}
	return 10 * time.Second
}

// soakTally is what one client saw.
type soakTally struct {
	acked, refused []string // keys answered 2xx, and 4xx
	other          []string // anything else: a 5xx, a transport error, a wrong status
}

// TestSoak runs many concurrent clients of all five dialects for a fixed
// time against the reference backend, each sending its own Idempotency-Key,
// one request in ten malformed. It asserts no 5xx, every acknowledged update
// applied exactly once and every refused one never, memory bounded, and no
// goroutine left after shutdown.
func TestSoak(t *testing.T) {
	dur := soakDuration(t)
	leaks := goleak.IgnoreCurrent()

	b := backend.New(backend.Options{Seed: true, PasswordCost: bcrypt.MinCost, MaxKeys: 1 << 24})
	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	upSrv := &http.Server{Handler: b.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = upSrv.Serve(upLn) }()

	cfg, err := config.Parse(config.Source{Name: "soak"}, config.DefaultYAML())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = "127.0.0.1:0"
	cfg.Upstream.URL = "http://" + upLn.Addr().String()
	a, err := app.New(cfg, config.Source{Name: "soak"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	wait, err := a.Start()
	if err != nil {
		t.Fatal(err)
	}
	s := &started{app: a, base: "http://" + a.Server.Addr(cfg.Listen)}

	const perDialect = 4
	tr := &http.Transport{MaxIdleConnsPerHost: perDialect * len(specs), IdleConnTimeout: 30 * time.Second}
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	// Warm up (pools, caches), then measure.
	for _, d := range specs {
		if a, err := s.try(c, d, newKey("warm"), d.body); err != nil || a.Status != d.success {
			t.Fatalf("warm-up %s: %v %d %s", d.name, err, a.Status, a.Body)
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	goroutinesBefore := runtime.NumGoroutine()

	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	tallies := make([]soakTally, perDialect*len(specs))
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range tallies {
		d := specs[i%len(specs)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			tl := &tallies[i]
			for n := 0; ctx.Err() == nil; n++ {
				key := fmt.Sprintf("soak-%s-%d-%d", d.name, i, n)
				body, bad := d.body, n%10 == 9
				if bad {
					body = `[]` // not an object: 400 in every dialect
				}
				ans, err := s.try(c, d, key, body)
				switch {
				case err != nil:
					tl.other = append(tl.other, fmt.Sprintf("%s: %v", key, err))
				case !bad && ans.Status == d.success:
					tl.acked = append(tl.acked, key)
				case bad && ans.Status == statusOf(d, canonical.BadRequest):
					tl.refused = append(tl.refused, key)
				default:
					tl.other = append(tl.other, fmt.Sprintf("%s: %d %s", key, ans.Status, ans.Body))
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	peakGoroutines := runtime.NumGoroutine()

	var acked, refused int
	var other []string
	for _, tl := range tallies {
		acked += len(tl.acked)
		refused += len(tl.refused)
		other = append(other, tl.other...)
	}
	total := acked + refused + len(other)
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("soak: %d clients for %v: %d requests (%.0f/s): %d acknowledged, %d refused (malformed), %d other",
		len(tallies), elapsed.Round(time.Millisecond), total, float64(total)/elapsed.Seconds(), acked, refused, len(other))
	t.Logf("soak: heap %.1f MiB before, %.1f MiB after (%d B per request, the backend remembering every key); "+
		"goroutines %d before, %d after the run", mib(before.HeapAlloc), mib(after.HeapAlloc),
		int64(after.HeapAlloc-min(after.HeapAlloc, before.HeapAlloc))/int64(max(total, 1)), goroutinesBefore, peakGoroutines)

	for i, o := range other {
		if i == 10 {
			t.Errorf("… and %d more", len(other)-10)
			break
		}
		t.Errorf("unexpected answer: %s", o)
	}
	if acked == 0 || refused == 0 {
		t.Fatalf("nothing happened: %d acknowledged, %d refused", acked, refused)
	}
	for _, tl := range tallies {
		for _, k := range tl.acked {
			if n := b.Applied(k); n != 1 {
				t.Fatalf("acknowledged %s applied %d times", k, n)
			}
		}
		for _, k := range tl.refused {
			if n := b.Applied(k); n != 0 {
				t.Fatalf("refused %s applied %d times", k, n)
			}
		}
	}
	st := b.Stats()
	// Every update the backend applied was acknowledged, once: the five
	// warm-up updates aside.
	if st.Applied != int64(acked+len(specs)) || st.Replayed != 0 {
		t.Errorf("backend applied %d updates and replayed %d; %d acknowledged", st.Applied, st.Replayed, acked)
	}
	// Generous: the backend keeps a response per key (about a kilobyte);
	// userbridge itself must keep nothing per request.
	if limit := before.HeapAlloc + 64<<20 + uint64(total)*4<<10; after.HeapAlloc > limit {
		t.Errorf("heap grew from %.1f to %.1f MiB over %d requests (limit %.1f MiB)", mib(before.HeapAlloc),
			mib(after.HeapAlloc), total, mib(limit))
	}

	checked := time.Now()
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := a.Shutdown(sctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if err := wait(); err != nil {
		t.Errorf("serve: %v", err)
	}
	if err := upSrv.Shutdown(sctx); err != nil {
		t.Errorf("backend shutdown: %v", err)
	}
	tr.CloseIdleConnections()
	stopped := time.Now()
	goleak.VerifyNone(t, testutil.LeakOptions(leaks)...)
	t.Logf("soak: checks %v, shutdown %v, goroutines gone after %v", checked.Sub(t0.Add(elapsed)).Round(time.Millisecond),
		stopped.Sub(checked).Round(time.Millisecond), time.Since(stopped).Round(time.Millisecond))
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }
