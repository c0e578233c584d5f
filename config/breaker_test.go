package config

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestBreakerDefaults(t *testing.T) {
	b := Upstream{}.WithDefaults().Breaker
	if !b.IsEnabled() || b.Failures != 5 || b.FailureRatio != 0.5 || b.Targets != 3 || b.Window.D() != 30*time.Second || b.OpenFor.D() != 10*time.Second {
		t.Fatalf("%+v", b)
	}
	c, err := Parse(Source{Name: "b.yaml"}, []byte("upstream: {url: \"http://idp\", breaker: {failures: 4, failureRatio: 0.25, targets: 2, window: 1m, openFor: 5s}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if b := c.Upstream.WithDefaults().Breaker; b.Failures != 4 || b.FailureRatio != 0.25 || b.Targets != 2 || b.Window.D() != time.Minute || b.OpenFor.D() != 5*time.Second {
		t.Fatalf("%+v", b)
	}
	if _, err := c.Resolve(Source{Name: "b.yaml"}); err != nil {
		t.Fatal(err)
	}
}

// TestBreakerRanges: every breaker key outside its documented range is
// refused, naming the key; the edges of each range are accepted.
func TestBreakerRanges(t *testing.T) {
	for _, ok := range []Breaker{{FailureRatio: 1}, {FailureRatio: 0.01}, {Targets: 1}, {Targets: 100},
		{Window: Duration(time.Second)}, {Window: Duration(time.Hour)}} {
		if errs := ok.check(); len(errs) != 0 {
			t.Errorf("%+v: %v", ok, errs)
		}
	}
	for key, bad := range map[string][]Breaker{
		"failureRatio": {{FailureRatio: 1.5}, {FailureRatio: -0.1}, {FailureRatio: math.NaN()}},
		"targets":      {{Targets: 101}, {Targets: -1}},
		"window":       {{Window: Duration(999 * time.Millisecond)}, {Window: Duration(2 * time.Hour)}, {Window: -1}},
		"openFor":      {{OpenFor: -1}},
	} {
		for _, b := range bad {
			errs := b.check()
			var ke *KeyError
			if len(errs) != 1 || !errors.As(errs[0], &ke) || ke.Key != "upstream.breaker."+key {
				t.Errorf("%+v: %v, want one problem with upstream.breaker.%s", b, errs, key)
			}
		}
	}
	// Through Resolve, every problem at once, with the file's name and line.
	src := Source{Name: "b.yaml"}
	c, err := Parse(src, []byte("upstream: {url: \"http://idp\", breaker: {failureRatio: 2, targets: 0, window: 10ms}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Resolve(src)
	for _, want := range []string{"b.yaml: line 1: upstream.breaker.failureRatio", "b.yaml: line 1: upstream.breaker.window: 10ms: from 1s to 1h0m0s"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	if err != nil && strings.Contains(err.Error(), "targets") {
		t.Errorf("targets 0 is the default, not a problem: %v", err)
	}
}
