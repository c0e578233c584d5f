// Package config is userbridge's configuration: the YAML file (or the
// embedded default), USERBRIDGE_* environment overrides and flags, decoded
// strictly and validated with every problem reported at once.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/userbridge/userbridge/mapping"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the embedded default configuration.
func DefaultYAML() []byte { return append([]byte(nil), defaultYAML...) }

// Config is the whole configuration. Every field is documented for the
// operator; docs/configuration.md is the reference.
type Config struct {
	// Listen is the main listener's address, e.g. "127.0.0.1:8080" or ":8080".
	Listen string `yaml:"listen"`
	// Server tunes the HTTP front end.
	Server Server `yaml:"server"`
	// Upstream is the identity backend userbridge forwards to.
	Upstream Upstream `yaml:"upstream"`
	// Log configures logging.
	Log Log `yaml:"log"`
	// Admin configures the listener of the probes and the metrics.
	Admin Admin `yaml:"admin"`
	// Dialects configures each dialect by name. A built-in dialect that is
	// not listed is served with its defaults; a name that is not built in
	// defines a new dialect and needs rules.
	Dialects map[string]Dialect `yaml:"dialects"`
	// Migration says where the comparisons with legacy vendors are
	// written (dialects.<d>.legacy; docs/migration.md).
	Migration Migration `yaml:"migration"`

	// written are the ranged keys the file sets, with their lines
	// (writtenKeys), for Resolve's messages.
	written map[string]written
	// lines are the line of every key the file writes, dotted
	// ("dialects.finix.prefix"), for where's messages.
	lines map[string]int
	// origins are the keys set over the file by a USERBRIDGE_* variable
	// or a flag, dotted, each with the variable's or the flag's name
	// (SetBy): where names a problem of their value by it, never by a
	// line of the file, which does not hold the value.
	origins map[string]string
}

// SetBy records that the dotted key (e.g. "upstream.url") was given its
// value over the file's by origin: a USERBRIDGE_* variable's name or a
// flag ("--upstream"). Every later problem of the key's value (Resolve,
// a reload) is then reported as origin's, "ORIGIN (key): …", never on a
// line of the file. ApplyEnv calls it for each variable it applies; a
// command that sets a field from a flag after Load calls it too. The last
// call for a key wins, as the last value set does.
func (c *Config) SetBy(key, origin string) {
	if c.origins == nil {
		c.origins = map[string]string{}
	}
	c.origins[key] = origin
}

// Server tunes the HTTP front end.
type Server struct {
	// MaxBodyBytes is the largest request body accepted (default 1 MiB);
	// a larger one is answered 413 in the caller's dialect.
	MaxBodyBytes int64 `yaml:"maxBodyBytes"`
	// MaxDepth is the deepest JSON nesting accepted (default 32).
	MaxDepth int `yaml:"maxDepth"`
	// TrustForwarded builds the links in answers (Finix's _links,
	// Crafter's Location) from X-Forwarded-Proto and X-Forwarded-Host, as
	// set by the TLS-terminating proxy in front. Only when that proxy
	// overwrites them: a client could set them otherwise (default false).
	TrustForwarded bool `yaml:"trustForwarded"`
	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout guard
	// against slow clients (defaults 5s, 30s, 60s, 120s).
	ReadHeaderTimeout Duration `yaml:"readHeaderTimeout"`
	ReadTimeout       Duration `yaml:"readTimeout"`
	WriteTimeout      Duration `yaml:"writeTimeout"`
	IdleTimeout       Duration `yaml:"idleTimeout"`
	// ShutdownTimeout bounds how long in-flight requests may finish after
	// SIGTERM (default 20s).
	ShutdownTimeout Duration `yaml:"shutdownTimeout"`
	// transport was removed: userbridge serves with net/http only.
	removedServerKeys `yaml:",inline"`
}

// Admin configures where /healthz, /readyz and /metrics are served.
type Admin struct {
	// Listen, when set, is a listener of their own (e.g. "0.0.0.0:9090"),
	// and they leave the main listener. Empty: on the main listener.
	// Changing it needs a restart.
	Listen string `yaml:"listen"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error (default info).
	Level string `yaml:"level"`
	// Format is json (default) or text.
	Format string `yaml:"format"`
}

// Dialect configures one dialect.
type Dialect struct {
	// Enabled serves the dialect (default true).
	Enabled *bool `yaml:"enabled"`
	// Rules is a rule file that replaces the built-in rules, or defines
	// the dialect when it is not built in. Relative to the config file.
	Rules string `yaml:"rules"`
	// Prefix is prepended to the dialect's route, e.g. "/legacy".
	Prefix string `yaml:"prefix"`
	// Listen gives the dialect a listener of its own.
	Listen string `yaml:"listen"`
	// Host serves the dialect only for requests with this Host.
	Host string `yaml:"host"`
	// Config overrides the rule file's config constants.
	Config map[string]string `yaml:"config"`
	// Auth says who checks the dialect's callers: the upstream (mode
	// passthrough, the default: the credential headers of the rule file
	// go upstream unchanged) or userbridge (mode verify: API keys, Basic
	// or JWT, a policy, and userbridge's own upstream credentials).
	// docs/configuration.md and docs/security.md describe every key. An
	// apiKeys block without a header takes the dialect's (APIKeyDefaults).
	Auth Auth `yaml:"auth"`
	// Legacy is the vendor the dialect's clients used until now, called
	// in shadow or primary mode during a migration (docs/migration.md).
	Legacy Legacy `yaml:"legacy"`
}

// IsEnabled reports whether the dialect is served.
func (d Dialect) IsEnabled() bool { return d.Enabled == nil || *d.Enabled }

// Duration is a time.Duration written as "5s" or "1h".
type Duration time.Duration

// durationWant is what a Duration's value must be, in words.
const durationWant = "a duration such as 5s or 250ms"

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not %s", b, durationWant)
	}
	*d = Duration(v)
	return nil
}

// UnmarshalYAML implements yaml.Unmarshaler: a bad value (a list or a
// mapping too) is a TypeError naming its line, so that the decoder goes
// on; decodeProblems reports it as mapping.CheckYAML finds it, with its
// key path (YAMLWant).
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: not %s", n.Line, durationWant)}}
	}
	if err := d.UnmarshalText([]byte(n.Value)); err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	return nil
}

// YAMLWant implements mapping.YAMLWanter.
func (*Duration) YAMLWant() string { return durationWant }

// MarshalText implements encoding.TextMarshaler ("30s", as written).
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// removedKeys are the keys userbridge no longer reads, each with why: a
// configuration (or environment variable) that still sets one is refused.
var removedKeys = map[string]string{
	"server.transport":   "userbridge serves with the standard library's net/http only",
	"upstream.transport": "userbridge calls the upstream with the standard library's net/http only",
}

func errRemoved(key string) error { return errors.New("removed: " + removedKeys[key]) }

// removedKey is the decoding of a removed key: a problem on its line,
// which lets the decoder go on and report every other problem too.
func removedKey(n *yaml.Node, key string) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s: %v", n.Line, key, errRemoved(key))}}
}

// removedServerKeys are the server keys userbridge no longer reads.
type removedServerKeys struct {
	Transport removedServerTransport `yaml:"transport"`
}

type removedServerTransport struct{}

// UnmarshalYAML refuses the key, on its line.
func (*removedServerTransport) UnmarshalYAML(n *yaml.Node) error {
	return removedKey(n, "server.transport")
}

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// ErrInvalid is wrapped by every configuration problem.
var ErrInvalid = errors.New("config: invalid")

// Source is where a configuration came from, for messages.
type Source struct {
	// Name is the file name, or "embedded default".
	Name string
	// Dir is the directory relative file names are resolved in (Path).
	Dir string
}

// Path is the file a configuration read from src names: a relative name
// is read from beside the configuration file, whatever the working
// directory; "" and absolute names, and every name of a configuration with
// no directory (the embedded default), are returned as written.
func (s Source) Path(name string) string {
	if name == "" || s.Dir == "" || filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(s.Dir, name)
}

// Parse decodes a configuration strictly (unknown keys are errors naming
// their line), applies defaults and returns it with every problem found.
func Parse(src Source, data []byte) (*Config, error) {
	c, err := ParseAll(src, data)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ParseAll is Parse, but a file whose keys or values do not all fit (an
// unknown key, a value of the wrong kind) still gives the configuration
// decoded from the rest, with those problems: what `userbridge validate`
// checks further, to report every problem of the file in one run. The
// configuration is nil only when data is no YAML at all. Never serve a
// configuration returned with an error.
func ParseAll(src Source, data []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var decodeErr error
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, fmt.Errorf("%w: %s: %s", ErrInvalid, src.Name, mapping.YAMLMessage(mapping.YAMLSyntaxLine(data, err)))
		}
		// yaml.v3 goes on past each of these: c holds the rest.
		decodeErr = decodeProblems(src, data, te)
	}
	c.written = writtenKeys(data)
	c.lines = keyLines(data)
	c.applyDefaults()
	c.anchorFiles(src)
	return &c, decodeErr
}

// yamlWalked matches the yaml.v3 TypeError messages mapping.CheckYAML
// finds too, with the line: an unknown key, a value of the wrong kind.
var yamlWalked = regexp.MustCompile(`^line [0-9]+: (?:field \S+ not found in type|cannot unmarshal |.*not ` + durationWant + `$)`)

// decodeProblems is every problem of te, yaml.v3's decoding of data, said
// as mapping.CheckYAML says it, with the key path it is at and, for an
// unknown key, the key meant ("unknown key rule in dialects.acme; did you
// mean rules?"), a duration's included (mapping.YAMLWanter). The problems
// another type that decodes itself finds (a removed key, which names its
// key), and any CheckYAML finds nothing on the line of, are yaml.v3's, in a
// file's words.
func decodeProblems(src Source, data []byte, te *yaml.TypeError) error {
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root) // it decoded: it is YAML
	type problem struct {
		line int
		msg  string
	}
	var all []problem
	lines := map[int]bool{}
	for _, e := range mapping.CheckYAML(&root, reflect.TypeOf(Config{})) {
		all = append(all, problem{e.Line, e.Error()})
		lines[e.Line] = true
	}
	for _, e := range te.Errors {
		line := 0
		_, _ = fmt.Sscanf(e, "line %d:", &line) // 0 when it names none
		if yamlWalked.MatchString(e) && lines[line] {
			continue // said above, with its key path
		}
		all = append(all, problem{line, mapping.YAMLText(e)})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].line < all[j].line })
	errs := make([]error, len(all))
	for i, p := range all {
		errs[i] = fmt.Errorf("%w: %s: %s", ErrInvalid, src.Name, p.msg)
	}
	return errors.Join(errs...)
}

// anchorFiles makes the relative names of the files upstream.tls,
// upstream.ldap and each dialect's legacy.tls name relative to the config
// file's directory, as the rule and credential files are (Resolve): every
// relative name of a file a configuration has read is read from beside
// it, whatever the working directory. (migration.log, which is written,
// is opened where the process runs.) Names are kept as written in an embedded
// configuration (no directory) and when absolute.
func (c *Config) anchorFiles(src Source) {
	if src.Dir == "" {
		return
	}
	rel := func(f *string) { *f = src.Path(*f) }
	tlsFiles := func(t *TLS) {
		rel(&t.CAFile)
		rel(&t.CertFile)
		rel(&t.KeyFile)
	}
	tlsFiles(&c.Upstream.TLS)
	rel(&c.Upstream.LDAP.BindPasswordFile)
	for name, d := range c.Dialects {
		tlsFiles(&d.Legacy.TLS)
		c.Dialects[name] = d
	}
}

func (c *Config) applyDefaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	s := &c.Server
	if s.MaxBodyBytes == 0 {
		s.MaxBodyBytes = 1 << 20
	}
	if s.MaxDepth == 0 {
		s.MaxDepth = 32
	}
	def := func(d *Duration, v time.Duration) {
		if *d == 0 {
			*d = Duration(v)
		}
	}
	def(&s.ReadHeaderTimeout, 5*time.Second)
	def(&s.ReadTimeout, 30*time.Second)
	def(&s.WriteTimeout, 60*time.Second)
	def(&s.IdleTimeout, 120*time.Second)
	def(&s.ShutdownTimeout, 20*time.Second)
	u := &c.Upstream
	if u.Profile == "" {
		u.Profile = "canonical"
	}
	def(&u.Timeout, DefaultTimeout)
	def(&u.IdleTimeout, DefaultIdleTimeout)
	if u.MaxAttempts == 0 {
		u.MaxAttempts = DefaultMaxAttempts
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "json"
	}
}

// IsDemo reports whether the in-process demo backend is the upstream.
func (c *Config) IsDemo() bool { return c.Upstream.URL == "" || c.Upstream.URL == "demo" }

// Env overrides: each variable sets one field.
var envVars = []struct {
	name, help string
	set        func(c *Config, v string) error
}{
	{"USERBRIDGE_LISTEN", "listen", func(c *Config, v string) error { c.Listen = v; return nil }},
	{"USERBRIDGE_UPSTREAM_URL", "upstream.url", func(c *Config, v string) error { c.Upstream.URL = v; return nil }},
	{"USERBRIDGE_UPSTREAM_PROFILE", "upstream.profile", func(c *Config, v string) error { c.Upstream.Profile = v; return nil }},
	{"USERBRIDGE_UPSTREAM_TIMEOUT", "upstream.timeout", func(c *Config, v string) error {
		var d Duration
		if err := d.UnmarshalText([]byte(v)); err != nil {
			return errors.New("not " + durationWant)
		}
		if err := CheckDuration("upstream.timeout", d.D()); err != nil {
			return err // said once, as the variable's: the value is not taken
		}
		c.Upstream.Timeout = d
		return nil
	}},
	{"USERBRIDGE_SERVER_TRANSPORT", "server.transport", func(*Config, string) error { return errRemoved("server.transport") }},
	{"USERBRIDGE_UPSTREAM_TRANSPORT", "upstream.transport", func(*Config, string) error { return errRemoved("upstream.transport") }},
	{"USERBRIDGE_MAX_BODY_BYTES", "server.maxBodyBytes", func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return errors.New("not a whole number of bytes")
		}
		if err := rangeOf("server.maxBodyBytes").bare(n); err != nil {
			return err
		}
		c.Server.MaxBodyBytes = n
		return nil
	}},
	{"USERBRIDGE_LOG_LEVEL", "log.level", func(c *Config, v string) error { c.Log.Level = v; return nil }},
	{"USERBRIDGE_LOG_FORMAT", "log.format", func(c *Config, v string) error { c.Log.Format = v; return nil }},
	{"USERBRIDGE_ADMIN_LISTEN", "admin.listen", func(c *Config, v string) error { c.Admin.Listen = v; return nil }},
}

// ApplyEnv applies USERBRIDGE_* variables from lookup (os.LookupEnv),
// recording each as the origin of its key's value (SetBy).
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	var errs []error
	for _, e := range envVars {
		if v, ok := lookup(e.name); ok && v != "" {
			if err := e.set(c, v); err != nil {
				errs = append(errs, fmt.Errorf("%w: %s (%s): %q: %w", ErrInvalid, e.name, e.help, v, err))
				continue // not taken: the file's value stays, and its line
			}
			c.SetBy(e.help, e.name)
		}
	}
	return errors.Join(errs...)
}

// Load reads the file at path, or the embedded default when path is "",
// then applies the environment.
func Load(path string) (*Config, Source, error) {
	c, src, err := LoadAll(path)
	if err != nil {
		return nil, src, err
	}
	return c, src, nil
}

// LoadAll is Load, but as ParseAll: a configuration with problems in its
// keys, values or environment variables is still returned with them, for
// `userbridge validate` to check further. It is nil when the file cannot
// be read, holds nothing or is no YAML. Never serve a configuration
// returned with an error.
func LoadAll(path string) (*Config, Source, error) {
	src := Source{Name: "embedded default"}
	data := defaultYAML
	if path != "" {
		src = Source{Name: path, Dir: dirOf(path)} // also when it cannot be read
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, src, fmt.Errorf("config: %w", err)
		}
		data = b
		// A file named but empty is what a write caught halfway looks like
		// (a shell redirect, a copy over the file): read as the defaults,
		// on a reload it would silently undo the deployment's choices,
		// auth: verify included.
		if !hasDocument(data) {
			return nil, src, fmt.Errorf("%w: %s: the file holds no configuration (it is empty, or only comments)", ErrInvalid, path)
		}
	}
	c, err := ParseAll(src, data)
	if c == nil {
		return nil, src, err
	}
	return c, src, errors.Join(err, c.ApplyEnv(os.LookupEnv))
}

// hasDocument reports whether data holds a YAML document that is not null.
func hasDocument(data []byte) bool {
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return true // not empty: Parse reports what is wrong with it
	}
	if len(n.Content) == 0 {
		return false
	}
	d := n.Content[0]
	return d.Kind != yaml.ScalarNode || d.Tag != "!!null"
}

func dirOf(path string) string {
	i := strings.LastIndexAny(path, `/\`)
	if i < 0 {
		return "."
	}
	return path[:i]
}
