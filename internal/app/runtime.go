package app

import (
	"runtime"
	"runtime/debug"
)

// DefaultGCPercent is the GC target `userbridge serve` (and bench/profiled)
// runs with unless GOGC is set: a proxy allocates per request and keeps
// little, so collecting a quarter as often buys about 12% throughput for
// some 10 MB (measured with bench/run).
const DefaultGCPercent = 400

// DefaultProcs is the number of processors (GOMAXPROCS) serve runs with
// unless GOMAXPROCS is set: one, as a sidecar proxy's single worker. A
// proxied request is tens of microseconds of CPU in short bursts between
// writes; on one processor they run back to back like an nginx worker's
// events, where with more Go hands them between threads that the kernel
// preempts while others wait queued behind them. On the bench machine (two
// cores shared with the client and the upstream) one processor took less CPU
// a request and half the p99 at the same throughput; docs/configuration.md
// (Runtime) has the figures and when to set GOMAXPROCS=0 (every core).
const DefaultProcs = 1

// RuntimeDefaults applies serve's GC target and processor count where the
// environment (lookup: os.LookupEnv) does not set GOGC or GOMAXPROCS, and
// returns the processor count in effect and whether it is serve's default.
func RuntimeDefaults(lookup func(string) (string, bool)) (procs int, byDefault bool) {
	if _, set := lookup("GOGC"); !set {
		debug.SetGCPercent(DefaultGCPercent)
	}
	if _, set := lookup("GOMAXPROCS"); !set {
		runtime.GOMAXPROCS(DefaultProcs)
		return DefaultProcs, true
	}
	return runtime.GOMAXPROCS(0), false
}
