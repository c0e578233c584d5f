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
