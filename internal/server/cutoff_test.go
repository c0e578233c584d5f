package server

import (
	"testing"
	"time"
)

// TestInflightCutOff: after the cut every request counts as cut off and its
// context is cancelled, and the channel cutOff returns is closed once the
// last request has left, at once when none runs.
func TestInflightCutOff(t *testing.T) {
	f := newInflight()
	f.enter()
	f.enter()
	if f.isCut() {
		t.Fatal("cut before cutOff")
	}
	idle := f.cutOff()
	if !f.isCut() || f.base.Err() == nil {
		t.Fatal("cutOff did not mark the requests cut off and cancel their context")
	}
	f.leave()
	select {
	case <-idle:
		t.Fatal("idle with a request still running")
	default:
	}
	f.leave()
	select {
	case <-idle:
	case <-time.After(5 * time.Second):
		t.Fatal("not idle once every request left")
	}

	g := newInflight()
	g.enter()
	g.leave()
	select {
	case <-g.cutOff():
	case <-time.After(5 * time.Second):
		t.Fatal("not idle at a cut with no request running")
	}
}
