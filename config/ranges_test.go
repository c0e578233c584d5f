package config

import (
	"errors"
	"strings"
	"testing"
)

// TestRanges: every duration, size and count key refuses a value outside
// its documented range, 0 written in the file included (it used to mean
// the default, silently), naming the key, its line and the range; both
// ends of each range are accepted.
func TestRanges(t *testing.T) {
	src := Source{Name: "r.yaml"}
	cases := []struct {
		section, key, low, zero, min, max, high, text string
	}{
		{"server", "maxBodyBytes", "1023", "0", "1024", "67108864", "67108865", "from 1024 (1 KiB) to 67108864 (64 MiB) bytes"},
		{"server", "maxDepth", "-1", "0", "1", "32", "33", "from 1 to 32 (default 32)"},
		{"server", "readHeaderTimeout", "99ms", "0s", "100ms", "10m", "10m1s", "from 100ms to 10m (default 5s)"},
		{"server", "readTimeout", "1ns", "0s", "100ms", "1h", "2h", "from 100ms to 1h (default 30s)"},
		{"server", "writeTimeout", "-1s", "0s", "100ms", "1h", "61m", "from 100ms to 1h (default 1m)"},
		{"server", "idleTimeout", "50ms", "0s", "100ms", "24h", "25h", "from 100ms to 24h (default 2m)"},
		{"server", "shutdownTimeout", "1ms", "0s", "100ms", "1h", "100000h", "from 100ms to 1h (default 20s)"},
		{"upstream", "timeout", "1ns", "0s", "10ms", "10m", "100000h", "from 10ms to 10m (default 5s)"},
		{"upstream", "idleTimeout", "999ms", "0s", "1s", "1h", "2h", "from 1s to 1h (default 30s)"},
		{"upstream", "maxAttempts", "-1", "0", "1", "10", "11", "from 1 to 10 (default 3)"},
		{"upstream", "maxIdleConns", "-1", "0", "1", "65536", "65537", "from 1 to 65536 (default 256)"},
	}
	for _, c := range cases {
		key := c.section + "." + c.key
		for _, v := range []string{c.low, c.zero, c.high} {
			cfg, err := Parse(src, []byte("listen: 127.0.0.1:1\n"+c.section+":\n  "+c.key+": "+v+"\n"))
			if err != nil {
				t.Fatalf("%s: %s: %v", key, v, err)
			}
			_, err = cfg.Resolve(src)
			want := "r.yaml: line 3: " + key + ": "
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), c.text) ||
				strings.Count(err.Error(), key) != 1 {
				t.Errorf("%s: %s: got %v, want one problem %q…%q", key, v, err, want, c.text)
			}
		}
		for _, v := range []string{c.min, c.max} {
			cfg, err := Parse(src, []byte("listen: 127.0.0.1:1\n"+c.section+":\n  "+c.key+": "+v+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cfg.Resolve(src); err != nil {
				t.Errorf("%s: %s refused: %v", key, v, err)
			}
		}
	}
}

// TestEnvRanges: the variables are held to the ranges of the keys they
// set, in the same words.
func TestEnvRanges(t *testing.T) {
	for name, v := range map[string]string{"USERBRIDGE_UPSTREAM_TIMEOUT": "0s", "USERBRIDGE_MAX_BODY_BYTES": "0"} {
		c, _ := Parse(Source{}, nil)
		err := c.ApplyEnv(func(k string) (string, bool) { return v, k == name })
		if err == nil || !errors.Is(err, ErrOutOfRange) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "must be from ") {
			t.Errorf("%s=%s: %v", name, v, err)
		}
	}
	for name, v := range map[string]string{"USERBRIDGE_UPSTREAM_TIMEOUT": "10m", "USERBRIDGE_MAX_BODY_BYTES": "1024"} {
		c, _ := Parse(Source{}, nil)
		if err := c.ApplyEnv(func(k string) (string, bool) { return v, k == name }); err != nil {
			t.Errorf("%s=%s: %v", name, v, err)
		}
	}
}

// TestCheckLeavesUnsetUpstreamKeysToTheirDefaults: a configuration built in
// code (the upstream client's tests, tools) leaves keys at 0 for their
// defaults; a value set is held to its range.
func TestCheckLeavesUnsetUpstreamKeysToTheirDefaults(t *testing.T) {
	if err := (Upstream{URL: "http://idp"}).Check(false); err != nil {
		t.Errorf("unset keys: %v", err)
	}
	err := (Upstream{URL: "http://idp", Timeout: 1}).Check(false)
	if err == nil || !strings.Contains(err.Error(), "upstream.timeout: 1ns: must be from 10ms to 10m") {
		t.Errorf("1ns: %v", err)
	}
}
