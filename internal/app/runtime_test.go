package app

import (
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/userbridge/userbridge/internal/testutil"
)

// TestRuntimeDefaults: serve runs on one processor and GOGC=400 unless the
// environment sets GOMAXPROCS or GOGC, which are then left as the runtime
// read them.
func TestRuntimeDefaults(t *testing.T) {
	testutil.KeepRuntime(t)

	runtime.GOMAXPROCS(3)
	debug.SetGCPercent(100)
	unset := func(string) (string, bool) { return "", false }
	if n, def := RuntimeDefaults(unset); n != 1 || !def || runtime.GOMAXPROCS(0) != 1 {
		t.Errorf("unset: got %d, default %v, GOMAXPROCS now %d; want 1, true, 1", n, def, runtime.GOMAXPROCS(0))
	}
	if was := debug.SetGCPercent(100); was != DefaultGCPercent {
		t.Errorf("unset: GC percent %d, want %d", was, DefaultGCPercent)
	}

	runtime.GOMAXPROCS(3)
	debug.SetGCPercent(100)
	set := func(k string) (string, bool) { return map[string]string{"GOMAXPROCS": "3", "GOGC": "100"}[k], true }
	if n, def := RuntimeDefaults(set); n != 3 || def || runtime.GOMAXPROCS(0) != 3 {
		t.Errorf("set: got %d, default %v, GOMAXPROCS now %d; want 3, false, 3", n, def, runtime.GOMAXPROCS(0))
	}
	if was := debug.SetGCPercent(100); was != 100 {
		t.Errorf("set: GC percent %d, want 100 (left as GOGC set it)", was)
	}
}
