package config

import (
	"strings"
	"testing"
	"time"
)

func TestLegacy(t *testing.T) {
	c, err := Parse(Source{Name: "t.yaml"}, []byte(`
migration: {log: /tmp/m.log}
dialects:
  finix:
    prefix: /finix
    legacy: {url: "https://vendor.example/api", mode: shadow, ignore: [_links, "a.*.b"]}
`))
	if err != nil {
		t.Fatal(err)
	}
	mounts, err := c.Resolve(Source{Name: "t.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		l := m.Legacy
		switch m.Dialect.Name() {
		case "finix":
			if !l.Active() || l.Mode != LegacyShadow || l.Timeout.D() != DefaultLegacyTimeout || m.Prefix != "/finix" || len(l.Ignore) != 2 {
				t.Errorf("finix: %+v prefix %q", l, m.Prefix)
			}
		default:
			if l.Active() || l.Mode != LegacyOff {
				t.Errorf("%s: %+v", m.Dialect.Name(), l)
			}
		}
	}
	if c.Migration.Log != "/tmp/m.log" {
		t.Errorf("migration.log %q", c.Migration.Log)
	}
}

// Every problem of a legacy block at once, each with its key and line.
func TestLegacyProblems(t *testing.T) {
	c, err := Parse(Source{Name: "t.yaml"}, []byte(`
dialects:
  finix:
    legacy: {mode: mirror}
  shift:
    legacy: {mode: primary, timeout: 2h}
  baasic:
    legacy: {url: "ftp://x", ignore: ["", a..b]}
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Resolve(Source{Name: "t.yaml"})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		`dialects.finix.legacy.mode`, `"mirror" is not shadow, primary or off`,
		`dialects.shift.legacy.url`, `mode primary needs one`,
		`dialects.shift.legacy.timeout`, (2 * time.Hour).String(),
		`dialects.baasic.legacy.url`, `"ftp://x"`,
		`dialects.baasic.legacy.ignore.0`, `dialects.baasic.legacy.ignore.1`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no %q in\n%v", want, err)
		}
	}
}

// A legacy.timeout the server would cut off first is refused, naming the
// three keys and the lines they are on; within server.writeTimeout, or
// with mode off, it is accepted.
func TestLegacyTimeoutWithinWriteTimeout(t *testing.T) {
	resolve := func(yaml string) error {
		t.Helper()
		c, err := Parse(Source{Name: "t.yaml"}, []byte(yaml))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Resolve(Source{Name: "t.yaml"})
		return err
	}
	err := resolve(`server:
  writeTimeout: 8s
upstream:
  url: http://idp.example
  timeout: 3s
dialects:
  finix:
    legacy:
      url: http://vendor.example
      mode: shadow
      timeout: 5s
`)
	if err == nil {
		t.Fatal("legacy.timeout 5s + upstream.timeout 3s accepted under server.writeTimeout 8s")
	}
	for _, want := range []string{"line 11: dialects.finix.legacy.timeout: 5s plus upstream.timeout 3s (line 5: upstream.timeout)",
		"server.writeTimeout 8s (line 2: server.writeTimeout)", "in mode shadow"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no %q in\n%v", want, err)
		}
	}
	// The defaults: writeTimeout 60s not written, the vendor's timeout
	// not written either (5s default), the upstream's 5s.
	err = resolve("server: {writeTimeout: 10s}\ndialects:\n  shift:\n    legacy: {url: http://vendor.example, mode: primary}\n")
	if err == nil || !strings.Contains(err.Error(), "line 4: dialects.shift.legacy.timeout: 5s plus upstream.timeout 5s (upstream.timeout) is not below server.writeTimeout 10s (line 1: server.writeTimeout)") {
		t.Errorf("defaults: %v", err)
	}
	for _, ok := range []string{
		"server: {writeTimeout: 11s}\ndialects:\n  shift:\n    legacy: {url: http://vendor.example, mode: primary}\n",
		"server: {writeTimeout: 1s}\ndialects:\n  shift:\n    legacy: {url: http://vendor.example, mode: off, timeout: 5s}\n",
	} {
		if err := resolve(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

// legacy.breaker takes upstream.breaker's keys, checked the same way and
// named under the legacy block.
func TestLegacyBreaker(t *testing.T) {
	c, err := Parse(Source{Name: "t.yaml"}, []byte(`
dialects:
  finix:
    legacy: {url: http://vendor.example, mode: shadow, breaker: {failureRatio: 2, targets: 500}}
  shift:
    legacy: {url: http://vendor.example, mode: primary, breaker: {enabled: false}}
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Resolve(Source{Name: "t.yaml"})
	for _, want := range []string{"line 4: dialects.finix.legacy.breaker.failureRatio", "line 4: dialects.finix.legacy.breaker.targets: 500"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("no %q in\n%v", want, err)
		}
	}
	c.Dialects["finix"] = Dialect{}
	mounts, err := c.Resolve(Source{Name: "t.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		if b := m.Legacy.Breaker; m.Dialect.Name() == "shift" && (b.IsEnabled() || b.Failures != DefaultBreakerFailures || b.OpenFor.D() != DefaultBreakerOpenFor) {
			t.Errorf("shift's vendor breaker: %+v", b)
		}
	}
}
