package upstream

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// clock is a time the test moves.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// testWindow is a window of 10s (ten steps of 1s) under a clock the test
// moves; failures 5, ratio 0.5 and targets 3 unless cfg says otherwise.
func testWindow(mods ...func(*config.Breaker)) (*window, *clock) {
	cfg := config.Breaker{Failures: 5, FailureRatio: 0.5, Targets: 3, Window: config.Duration(10 * time.Second)}
	for _, m := range mods {
		m(&cfg)
	}
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	return newWindow(cfg, c.now), c
}

func user(id string) UserRef { return UserRef{Target: canonical.ByID, Value: id} }

// fail records a failure for u (ErrUpstreamFailed) n times.
func (w *window) fail(u UserRef, n int) {
	for range n {
		w.record(w.generation(), u, ErrUpstreamFailed)
	}
}

func (w *window) succeed(n int) {
	for i := range n {
		w.record(w.generation(), user("ok-"+strconv.Itoa(i)), nil)
	}
}

func wantTripped(t *testing.T, w *window, want bool, what string) {
	t.Helper()
	if got := w.tripped(); got != want {
		t.Fatalf("%s: tripped %v, want %v", what, got, want)
	}
}

// TestTripNeedsDistinctUsers: any number of failures for one or two users
// never trips; the third distinct user does.
func TestTripNeedsDistinctUsers(t *testing.T) {
	w, _ := testWindow()
	w.fail(user("poison"), 1000)
	wantTripped(t, w, false, "1000 failures for one user")
	w.fail(UserRef{Target: canonical.ByUsername, Value: "poison", Tenant: "t"}, 10)
	wantTripped(t, w, false, "failures for two users")
	w.fail(user("third"), 1)
	wantTripped(t, w, true, "failures for three users")
}

// TestTripNeedsFailures: three users' failures open it only once there
// are Failures of them.
func TestTripNeedsFailures(t *testing.T) {
	w, _ := testWindow()
	for _, id := range []string{"a", "b", "c"} {
		w.fail(user(id), 1)
	}
	wantTripped(t, w, false, "3 failures of 5")
	w.fail(user("a"), 1)
	wantTripped(t, w, false, "4 failures of 5")
	w.fail(user("b"), 1)
	wantTripped(t, w, true, "5 failures")
}

// TestTripNeedsRatio: failures among many successes do not open it until
// they are FailureRatio of the calls.
func TestTripNeedsRatio(t *testing.T) {
	w, _ := testWindow()
	w.succeed(20)
	for _, id := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s"} {
		w.fail(user(id), 1)
	}
	wantTripped(t, w, false, "19 failures in 39 calls")
	w.fail(user("t"), 1)
	wantTripped(t, w, true, "20 failures in 40 calls")
}

// TestDownCountsAsDistinct: a failure whatever the user (no connection,
// 502, 503), or of a request for no user, is one more distinct piece of
// evidence each.
func TestDownCountsAsDistinct(t *testing.T) {
	w, _ := testWindow()
	for range 4 {
		w.record(w.generation(), user("one"), ErrUpstreamDown)
	}
	wantTripped(t, w, false, "4 failures")
	w.record(w.generation(), UserRef{}, ErrUpstreamFailed)
	wantTripped(t, w, true, "5 failures whatever the user")

	w, _ = testWindow()
	w.fail(user("one"), 3)
	w.record(w.generation(), user("one"), ErrUpstreamDown)
	wantTripped(t, w, false, "one user's failures and one refused connection")
	w.record(w.generation(), user("one"), ErrUpstreamDown)
	wantTripped(t, w, true, "one user's failures and two refused connections")
}

// TestNotCounted: a caller gone or a call not sent counts for nothing, not
// even as a call.
func TestNotCounted(t *testing.T) {
	w, _ := testWindow(func(b *config.Breaker) { b.Failures, b.Targets = 1, 1 })
	for _, v := range []error{ErrCallerGone, ErrNotSent} {
		w.record(w.generation(), user("a"), v)
	}
	wantTripped(t, w, false, "excluded verdicts")
	w.fail(user("a"), 1)
	wantTripped(t, w, true, "one failure, one call")
}

// TestWindowForgets: failures older than the window are forgotten, a
// tenth at a time.
func TestWindowForgets(t *testing.T) {
	w, c := testWindow()
	w.fail(user("a"), 2)
	w.fail(user("b"), 2)
	c.t = c.t.Add(9 * time.Second) // still within the 10s
	w.fail(user("c"), 1)
	wantTripped(t, w, true, "three users within the window")

	w, c = testWindow()
	w.fail(user("a"), 2)
	w.fail(user("b"), 2)
	c.t = c.t.Add(10 * time.Second) // a and b's step has left
	w.fail(user("c"), 1)
	wantTripped(t, w, false, "a and b failed a window ago")
	w.fail(user("d"), 2)
	w.fail(user("e"), 2)
	wantTripped(t, w, true, "three users in the new window")

	// Successes leave too: the ratio is the window's.
	w, c = testWindow()
	w.succeed(100)
	c.t = c.t.Add(10 * time.Second)
	for _, id := range []string{"a", "b", "c", "a", "b"} {
		w.fail(user(id), 1)
	}
	wantTripped(t, w, true, "the successes were a window ago")
}

// TestRepeatedUserMovesForward: a user who fails again is kept with its
// latest failure, so that it does not leave the window with its first.
func TestRepeatedUserMovesForward(t *testing.T) {
	w, c := testWindow()
	w.fail(user("a"), 3)
	w.fail(user("b"), 1)
	c.t = c.t.Add(9 * time.Second)
	w.fail(user("a"), 1)
	c.t = c.t.Add(time.Second) // the first step leaves: b with it, a stays
	w.fail(user("c"), 4)
	wantTripped(t, w, false, "5 failures from a and c")
	w.fail(user("d"), 1)
	wantTripped(t, w, true, "a, c and d")
}

// TestUsersAreKeys: kind, value and tenant all tell users apart, however
// the strings split.
func TestUsersAreKeys(t *testing.T) {
	w, _ := testWindow()
	same := []UserRef{{canonical.ByID, "x", ""}, {canonical.ByID, "x", ""}}
	if w.hash(same[0]) != w.hash(same[1]) {
		t.Fatal("one user, two keys")
	}
	distinct := []UserRef{{canonical.ByID, "x", ""}, {canonical.ByUsername, "x", ""}, {canonical.ByID, "x", "t"},
		{canonical.ByID, "bc", "a"}, {canonical.ByID, "c", "ab"}, {canonical.ByID, "", "x"}}
	seen := map[uint64]UserRef{}
	for _, u := range distinct {
		h := w.hash(u)
		if prev, ok := seen[h]; ok {
			t.Errorf("%+v and %+v share a key", prev, u)
		}
		seen[h] = u
	}
}

// TestWindowBounded: however many users fail, a step keeps at most
// Targets of them, and the window no user id at all (hashes only).
func TestWindowBounded(t *testing.T) {
	w, c := testWindow()
	for i := range 20_000 {
		if i%1000 == 0 {
			c.t = c.t.Add(700 * time.Millisecond)
		}
		w.fail(user("u-"+strconv.Itoa(i)), 1)
	}
	wantTripped(t, w, true, "20000 users failing")
	for i, s := range w.steps {
		if len(s.users) > 3 || cap(s.users) > 4 {
			t.Errorf("step %d keeps %d users (capacity %d)", i, len(s.users), cap(s.users))
		}
	}
}

// TestResetVoidsCallsInFlight: a call begun before a reset (the breaker
// changed state) records nothing.
func TestResetVoidsCallsInFlight(t *testing.T) {
	w, _ := testWindow(func(b *config.Breaker) { b.Failures, b.Targets = 1, 1 })
	gen := w.generation()
	w.reset()
	w.record(gen, user("a"), ErrUpstreamFailed)
	wantTripped(t, w, false, "a failure of the previous state")
	w.fail(user("a"), 1)
	wantTripped(t, w, true, "a failure of this state")
	w.reset()
	wantTripped(t, w, false, "after a reset")
}

// TestStatusVerdict: 502 and 503 are about the upstream; 500, 504 and the
// rest may be one record's.
func TestStatusVerdict(t *testing.T) {
	for status, want := range map[int]error{500: ErrUpstreamFailed, 501: ErrUpstreamFailed, 502: ErrUpstreamDown,
		503: ErrUpstreamDown, 504: ErrUpstreamFailed, 599: ErrUpstreamFailed} {
		if got := statusVerdict(status); !errors.Is(got, want) {
			t.Errorf("%d: %v, want %v", status, got, want)
		}
	}
}

// BenchmarkWindowRecord is what the breaker adds to a call: a success, and
// a failure for one of many users.
func BenchmarkWindowRecord(b *testing.B) {
	w := newWindow(config.Breaker{Failures: 5, FailureRatio: 0.5, Targets: 3, Window: config.Duration(30 * time.Second)}, nil)
	u := UserRef{Target: canonical.ByUsername, Value: "jane.doe@example.com", Tenant: "acme"}
	b.Run("success", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w.record(w.generation(), u, nil)
		}
	})
	b.Run("failure", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w.record(w.generation(), u, ErrUpstreamFailed)
			w.tripped()
		}
	})
}
