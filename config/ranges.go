package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// keyRange is the values a duration, size or count key accepts. A value
// outside it is refused wherever it is given (file, environment, flag),
// with the same words: "must be from MIN to MAX (default D)". 0 is never
// a value of its own: written in a file, or given by a variable or a flag,
// it is refused too rather than silently read as the default (leave the
// key out for that).
type keyRange struct {
	key      string
	min, max int64 // nanoseconds for a duration
	dur      bool
	text     string // "from 10ms to 10m (default 5s)"
	get      func(c *Config) int64
}

func durRange(key string, min, max, def time.Duration, get func(c *Config) Duration) keyRange {
	return keyRange{key: key, min: int64(min), max: int64(max), dur: true,
		text: "from " + fmtDur(min) + " to " + fmtDur(max) + " (default " + fmtDur(def) + ")",
		get:  func(c *Config) int64 { return int64(get(c)) }}
}

func intRange(key string, min, max int64, text string, get func(c *Config) int64) keyRange {
	return keyRange{key: key, min: min, max: max, text: text, get: get}
}

// ranges are the keys with a range; docs/configuration.md lists them.
var ranges = []keyRange{
	intRange("server.maxBodyBytes", 1<<10, 64<<20, "from 1024 (1 KiB) to 67108864 (64 MiB) bytes (default 1048576, 1 MiB)",
		func(c *Config) int64 { return c.Server.MaxBodyBytes }),
	intRange("server.maxDepth", 1, 32, "from 1 to 32 (default 32)", func(c *Config) int64 { return int64(c.Server.MaxDepth) }),
	durRange("server.readHeaderTimeout", 100*time.Millisecond, 10*time.Minute, 5*time.Second, func(c *Config) Duration { return c.Server.ReadHeaderTimeout }),
	durRange("server.readTimeout", 100*time.Millisecond, time.Hour, 30*time.Second, func(c *Config) Duration { return c.Server.ReadTimeout }),
	durRange("server.writeTimeout", 100*time.Millisecond, time.Hour, time.Minute, func(c *Config) Duration { return c.Server.WriteTimeout }),
	durRange("server.idleTimeout", 100*time.Millisecond, 24*time.Hour, 2*time.Minute, func(c *Config) Duration { return c.Server.IdleTimeout }),
	durRange("server.shutdownTimeout", 100*time.Millisecond, time.Hour, 20*time.Second, func(c *Config) Duration { return c.Server.ShutdownTimeout }),
	durRange("upstream.timeout", 10*time.Millisecond, 10*time.Minute, DefaultTimeout, func(c *Config) Duration { return c.Upstream.Timeout }),
	intRange("upstream.maxIdleConns", 1, 65536, "from 1 to 65536 (default 256)", func(c *Config) int64 { return int64(c.Upstream.MaxIdleConns) }),
	durRange("upstream.idleTimeout", time.Second, time.Hour, DefaultIdleTimeout, func(c *Config) Duration { return c.Upstream.IdleTimeout }),
	intRange("upstream.maxAttempts", 1, maxAttemptsLimit, "from 1 to "+strconv.Itoa(maxAttemptsLimit)+" (default "+strconv.Itoa(DefaultMaxAttempts)+")",
		func(c *Config) int64 { return int64(c.Upstream.MaxAttempts) }),
}

// rangeOf returns the range of key; it panics for a key without one (a
// programming error).
func rangeOf(key string) keyRange {
	for _, r := range ranges {
		if r.key == key {
			return r
		}
	}
	panic("config: no range for " + key)
}

// ErrOutOfRange is wrapped by every value refused for its range.
var ErrOutOfRange = errors.New("out of range")

// rangeError is a value outside its key's range: "0s: must be from 10ms
// to 10m (default 5s)", without the value where the message shows it
// already.
type rangeError struct {
	value string
	r     keyRange
}

func (e *rangeError) Error() string {
	if e.value == "" {
		return "must be " + e.r.text
	}
	return e.value + ": must be " + e.r.text
}

func (e *rangeError) Unwrap() error { return ErrOutOfRange }

// check refuses v outside the range (0 included), naming v.
func (r keyRange) check(v int64) error {
	if err := r.bare(v); err != nil {
		s := strconv.FormatInt(v, 10)
		if r.dur {
			s = fmtDur(time.Duration(v))
		}
		return &rangeError{value: s, r: r}
	}
	return nil
}

// bare refuses v outside the range (0 included) without naming v.
func (r keyRange) bare(v int64) error {
	if v >= r.min && v <= r.max {
		return nil
	}
	return &rangeError{r: r}
}

// CheckDuration refuses d for the duration key (e.g. "upstream.timeout")
// when it is outside the key's documented range, 0 included: what a flag
// that sets the key checks, with the words a file or a variable gets
// ("must be from 10ms to 10m (default 5s)"; the caller names the value).
func CheckDuration(key string, d time.Duration) error { return rangeOf(key).bare(int64(d)) }

// checkRanges reports every ranged key the file set to 0, and every server
// key of c outside its range (Parse has given each unset one its default).
// The upstream keys are Upstream.Check's, where 0 is a key left unset by a
// configuration built in code, which takes its default.
//
// A 0 the file writes is refused on its line even when a variable or a
// flag replaced the value (the file is wrong whatever replaces it).
func (c *Config) checkRanges(src Source, errs *[]error, bad func(where, format string, args ...any)) {
	for _, r := range ranges {
		w, ok := c.written[r.key]
		switch {
		case ok && w.zero:
			*errs = append(*errs, fmt.Errorf("%w: %s: line %d: %s: %v", ErrInvalid, src.Name, w.line, r.key, r.check(0)))
		case strings.HasPrefix(r.key, "upstream."):
		default:
			if err := r.check(r.get(c)); err != nil {
				bad(r.key, "%v", err)
			}
		}
	}
}

// where names key as a problem does: by the variable or flag that set its
// value over the file's ("USERBRIDGE_LOG_LEVEL (log.level)", SetBy); else
// with the line the file wrote it on, else the line of the nearest key
// around it the file wrote (a key left to its default, in a block the file
// has); the key alone when the file writes none of them (the embedded
// default, a configuration built in code).
func (c *Config) where(key string) string {
	if by, ok := c.origins[key]; ok {
		return by + " (" + key + ")"
	}
	for k := key; k != ""; {
		if line, ok := c.lines[k]; ok {
			return "line " + strconv.Itoa(line) + ": " + key
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return key
}

// Where is "line N: KEY", N the line the file wrote the dotted key on (or
// the nearest key around it), as every problem validate prints names its
// key; KEY alone when the file writes none of them. For the problems found
// outside this package (internal/app's CheckAuth).
func (c *Config) Where(key string) string { return c.where(key) }

// at is where a problem of key is, for a message: "FILE: line N: key"
// (where), or "ORIGIN (key)" alone when a variable or a flag set the value
// (the file's name would send the reader to the file for it).
func (c *Config) at(src Source, key string) string {
	if _, ok := c.origins[key]; ok {
		return c.where(key)
	}
	return src.Name + ": " + c.where(key)
}

// Named names key for a problem found outside Resolve (an upstream that
// cannot be reached or discovered): "ORIGIN (key)" when a variable or a
// flag set its value (SetBy), else "FILE: key".
func (c *Config) Named(src Source, key string) string {
	if by, ok := c.origins[key]; ok {
		return by + " (" + key + ")"
	}
	return src.Name + ": " + key
}

// within is where for a key named within a problem's text: the variable or
// flag alone when one set its value ("upstream.timeout 3s
// (USERBRIDGE_UPSTREAM_TIMEOUT)"), else where ("(line 5: upstream.timeout)").
func (c *Config) within(key string) string {
	if by, ok := c.origins[key]; ok {
		return by
	}
	return c.where(key)
}

// lineOf is "line N: " for the first of keys the file writes (exactly),
// "" when it writes none.
func (c *Config) lineOf(keys ...string) string {
	for _, k := range keys {
		if line, ok := c.lines[k]; ok {
			return "line " + strconv.Itoa(line) + ": "
		}
	}
	return ""
}

// keyLines maps every key the file writes, dotted, to its line; data has
// decoded already (a problem here only shortens the map).
func keyLines(data []byte) map[string]int {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return nil
	}
	out := map[string]int{}
	var walk func(prefix string, m *yaml.Node)
	walk = func(prefix string, m *yaml.Node) {
		if m.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			k := prefix + m.Content[i].Value
			out[k] = m.Content[i].Line
			walk(k+".", m.Content[i+1])
		}
	}
	walk("", doc.Content[0])
	return out
}

// written is a ranged key as the file wrote it.
type written struct {
	line int
	zero bool // "0s", 0: Parse gives it its default; Resolve refuses it
}

// writtenKeys finds the ranged keys the file sets, with their lines, and
// which of them it sets to 0 ("0s", 0): Parse then gives those their
// defaults, and Resolve refuses them as it refuses any other value out of
// range. data has decoded already.
func writtenKeys(data []byte) map[string]written {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return nil
	}
	var out map[string]written
	for _, r := range ranges {
		n := lookup(doc.Content[0], r.key)
		if n == nil || n.Kind != yaml.ScalarNode {
			continue
		}
		var zero bool
		if r.dur {
			d, err := time.ParseDuration(n.Value)
			zero = err == nil && d == 0
		} else {
			var v int64
			zero = n.Decode(&v) == nil && v == 0
		}
		if out == nil {
			out = map[string]written{}
		}
		out[r.key] = written{line: n.Line, zero: zero}
	}
	return out
}

// lookup is the value node of the dotted key in mapping node m, or nil.
func lookup(m *yaml.Node, key string) *yaml.Node {
	for _, name := range strings.Split(key, ".") {
		if m == nil || m.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == name {
				next = m.Content[i+1]
			}
		}
		m = next
	}
	return m
}

// fmtDur writes a duration as a person would: 10ms, 10m, 1h, 1m30s.
func fmtDur(d time.Duration) string {
	s := d.String()
	for _, suffix := range []string{"m0s", "h0m"} {
		if len(s) > len(suffix) && s[len(s)-len(suffix):] == suffix {
			s = s[:len(s)-len(suffix)+1]
		}
	}
	return s
}
