package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/userbridge/userbridge/adapters"
	"github.com/userbridge/userbridge/adapters/registry"
	"github.com/userbridge/userbridge/mapping"
	"gopkg.in/yaml.v3"
)

// Mount is one dialect served on one route.
type Mount struct {
	Dialect adapters.Dialect
	Method  string
	// Path is the full route, prefix included, in gin syntax.
	Path string
	// Listen is the listener's address.
	Listen string
	// Host, when set, restricts the route to that Host header.
	Host string
	// Fields are the request field names the dialect's rules know (field
	// sources, the target and tenant, read-only fields, route parameters):
	// the only values the validation metric's field label takes.
	Fields []string
	// Auth is the dialect's auth block with the dialect's defaults applied
	// (APIKeyDefaults): data only; the server builds the authenticator.
	Auth Auth
	// Prefix is the dialect's prefix, left out of the path sent to its
	// legacy vendor.
	Prefix string
	// Legacy is the dialect's legacy vendor, defaults applied.
	Legacy Legacy
}

// Resolve validates the configuration and compiles every enabled dialect.
// It reports every problem at once, each with where it is.
func (c *Config) Resolve(src Source) ([]Mount, error) {
	var errs []error
	// where is a dotted key: the message gives its line in the file, or
	// the variable or flag that set its value (at).
	bad := func(where, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalid, c.at(src, where), fmt.Sprintf(format, args...)))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "%q is not host:port", c.Listen)
	}
	c.checkProfile(src, bad, &errs)
	// The upstream's HTTP settings, as the upstream client is built from
	// them: the URL (never quoted: it may carry a credential), the TLS
	// files read and parsed, the timeouts and pool sizes.
	for _, ke := range keyErrors(c.Upstream.Check(c.IsDemo())) {
		bad(ke.Key, "%s", ke.Problem)
	}
	c.checkRanges(src, &errs, bad)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q: debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		bad("log.format", "%q: json or text", c.Log.Format)
	}
	mounts := c.dialects(src, bad, &errs)
	errs = append(errs, c.conflicts(src, mounts)...)
	c.checkTenantPaths(mounts, bad)
	if a := c.Admin.Listen; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			bad("admin.listen", "%q is not host:port", a)
		}
		for _, l := range append([]string{c.Listen}, listens(mounts)...) {
			if a == l {
				bad("admin.listen", "%q is also a dialect listener (%s); give the probes and metrics an address of their own, or leave admin.listen empty to serve them there", a, c.listenerOf(a))
				break
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return mounts, nil
}

// dialects compiles the built-in dialects (configured or not) and the
// configured new ones.
func (c *Config) dialects(src Source, bad func(string, string, ...any), errs *[]error) []Mount {
	names := map[string]bool{}
	for _, b := range registry.Builtins() {
		names[b.Name] = true
	}
	for n := range c.Dialects {
		names[n] = true
	}
	order := make([]string, 0, len(names))
	for n := range names {
		order = append(order, n)
	}
	sort.Strings(order)
	var mounts []Mount
	for _, name := range order {
		dc := c.Dialects[name]
		where := "dialects." + name
		// Checked even when disabled: enabling it must not reveal problems.
		*errs = append(*errs, validateAuth(src, name, authOf(src, name, dc.Auth), c.where)...)
		if !dc.IsEnabled() {
			continue
		}
		opts := mapping.Options{Config: dc.Config, MaxDepth: c.Server.MaxDepth}
		var rules []byte
		var file string
		if dc.Rules != "" {
			file = src.Path(dc.Rules)
			b, err := os.ReadFile(file)
			if err != nil {
				bad(where+".rules", "%v", err)
				continue
			}
			rules = b
		}
		var d adapters.Dialect
		var err error
		if b, ok := registry.Lookup(name); ok {
			d, err = b.Load(file, rules, opts)
		} else if rules == nil {
			bad(where, "%q is not a built-in dialect; give its rules", name)
			continue
		} else {
			d, err = adapters.FromRules(file, rules, opts)
			if err == nil && d.Name() != name {
				err = fmt.Errorf("%s defines dialect %q, configured as %q", file, d.Name(), name)
			}
		}
		if err != nil {
			// One problem a line, each saying whose it is.
			at := where
			if dc.Rules != "" {
				at = where + ".rules"
			}
			for _, e := range RuleProblems(err, mapping.ErrRules) {
				// A value for a constant the file does not declare is
				// this file's mistake, on its dialects.<d>.config line.
				var u *mapping.UndeclaredConstant
				if errors.As(e, &u) {
					*errs = append(*errs, fmt.Errorf("%w: %s: %s", ErrInvalid, c.at(src, where+".config."+u.Key), u.Problem()))
					continue
				}
				*errs = append(*errs, fmt.Errorf("%w: %s: %w", ErrInvalid, c.at(src, at), e))
			}
			continue
		}
		if dc.Prefix != "" && (!strings.HasPrefix(dc.Prefix, "/") || strings.HasSuffix(dc.Prefix, "/")) {
			bad(where+".prefix", "%q must start with '/' and not end with one", dc.Prefix)
		}
		if dc.Host != "" {
			if err := checkHost(dc.Host); err != nil {
				bad(where+".host", "%q: %v", dc.Host, err)
			}
		}
		listen := c.Listen
		if dc.Listen != "" {
			if _, _, err := net.SplitHostPort(dc.Listen); err != nil {
				bad(where+".listen", "%q is not host:port", dc.Listen)
			}
			listen = dc.Listen
		}
		legacy := dc.Legacy.withDefaults()
		legacy.problems(bad, where+".legacy")
		c.checkLegacyBudget(bad, where+".legacy", legacy)
		r := d.Program().Route()
		if rules == nil {
			if b, ok := registry.Lookup(name); ok {
				rules = b.Rules
			}
		}
		mounts = append(mounts, Mount{Dialect: d, Method: r.Method, Path: dc.Prefix + r.Path, Listen: listen,
			Host: strings.ToLower(dc.Host), Fields: fieldNames(rules), Auth: authOf(src, name, dc.Auth),
			Prefix: dc.Prefix, Legacy: legacy})
	}
	return mounts
}

// checkLegacyBudget refuses a legacy.timeout the server would cut off
// first. In shadow and primary mode the client's answer is written after
// both calls, the vendor's (up to legacy.timeout) and the upstream's (up
// to upstream.timeout): if the two together reach server.writeTimeout, a
// slow vendor and a slow upstream leave the answer unwritten (in shadow
// mode, an update the vendor applied whose answer the client never gets).
func (c *Config) checkLegacyBudget(bad func(string, string, ...any), where string, l Legacy) {
	if !l.Active() {
		return
	}
	lt, ut, wt := l.Timeout.D(), c.Upstream.Timeout.D(), c.Server.WriteTimeout.D()
	if ut == 0 {
		ut = DefaultTimeout
	}
	if lt+ut < wt {
		return
	}
	bad(where+".timeout", "%s plus upstream.timeout %s (%s) is not below server.writeTimeout %s (%s): in mode %s the answer is written "+
		"after the vendor's call and the upstream's, and the server would cut it off first; lower %s.timeout or upstream.timeout, or raise server.writeTimeout",
		fmtDur(lt), fmtDur(ut), c.within("upstream.timeout"), fmtDur(wt), c.within("server.writeTimeout"), l.Mode, where)
}

// listenerOf names the key that gives a dialect the listener addr, and
// where it is written or who set it (within): listen, else the first
// dialect's listen by name.
func (c *Config) listenerOf(addr string) string {
	if c.Listen == addr {
		return c.within("listen")
	}
	names := make([]string, 0, len(c.Dialects))
	for n, dc := range c.Dialects {
		if dc.Listen == addr {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "listen"
	}
	return c.within("dialects." + names[0] + ".listen")
}

func listens(ms []Mount) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.Listen)
	}
	return out
}

// fieldNames lists the request field names a rule file knows. The file
// compiled already; a decoding problem here only shortens the list.
func fieldNames(rules []byte) []string {
	var f mapping.File
	_ = yaml.Unmarshal(rules, &f)
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	from := func(ref string) {
		if _, n, ok := strings.Cut(ref, "."); ok {
			add(n)
		}
	}
	for _, fr := range f.Request.Fields {
		add(fr.Source)
		if top, _, ok := strings.Cut(fr.Source, "."); ok {
			add(top)
		}
	}
	from(f.Request.Target.From)
	from(f.Request.Tenant)
	for _, n := range f.Request.ReadOnly {
		add(n)
	}
	for _, seg := range strings.Split(f.Route.Path, "/") {
		if strings.HasPrefix(seg, ":") || strings.HasPrefix(seg, "*") {
			add(seg[1:])
		}
	}
	sort.Strings(out)
	return out
}

// conflicts finds two dialects that would answer the same request, or
// whose routes the router cannot hold together (the same position holding
// parameters of different names).
func (c *Config) conflicts(src Source, ms []Mount) []error {
	var errs []error
	for i := range ms {
		for j := i + 1; j < len(ms); j++ {
			a, b := ms[i], ms[j]
			if a.Listen != b.Listen || a.Host != b.Host || a.Method != b.Method {
				continue
			}
			if why := routeClash(a.Path, b.Path); why != "" {
				errs = append(errs, fmt.Errorf("%w: %s: %sdialects %s (%s %s) and %s (%s %s) %s on %s%s",
					ErrInvalid, src.Name, c.lineOf("dialects."+b.Dialect.Name(), "dialects."+a.Dialect.Name()),
					a.Dialect.Name(), a.Method, a.Path, b.Dialect.Name(), b.Method, b.Path, why, a.Listen, hostNote(a.Host)))
			}
		}
	}
	return errs
}

func hostNote(h string) string {
	if h == "" {
		return ""
	}
	return " for host " + h
}

// routeClash says why two gin routes of one method cannot both be served,
// or "" when they can.
func routeClash(a, b string) string {
	as, bs := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, y := as[i], bs[i]
		px, py := strings.HasPrefix(x, ":") || strings.HasPrefix(x, "*"), strings.HasPrefix(y, ":") || strings.HasPrefix(y, "*")
		switch {
		case px && py && x != y:
			return "name different parameters at the same place"
		case px && py, x == y:
			continue
		default:
			return ""
		}
	}
	if len(as) == len(bs) {
		return "would answer the same requests"
	}
	return ""
}

// checkTenantPaths refuses a canonical path template with {tenant} where a
// mounted dialect that uses it carries no tenant: every one of its requests
// would be refused, as if the client had erred.
func (c *Config) checkTenantPaths(mounts []Mount, bad func(string, string, ...any)) {
	if c.Upstream.Profile != "canonical" || c.IsDemo() {
		return
	}
	for _, m := range mounts {
		p := m.Dialect.Program()
		if p.HasTenant() {
			continue
		}
		byID, byUsername := p.Targets()
		if byID && strings.Contains(c.Upstream.ByIDPath, "{tenant}") {
			bad("upstream.byIdPath", "uses {tenant}, but dialect %s carries no tenant (only one whose rules set request.tenant does, as Baasic's apiKey): every one of its requests would be refused", m.Dialect.Name())
		}
		if byUsername && strings.Contains(c.Upstream.ByUsernamePath, "{tenant}") {
			bad("upstream.byUsernamePath", "uses {tenant}, but dialect %s carries no tenant (only one whose rules set request.tenant does, as Baasic's apiKey): every one of its requests would be refused", m.Dialect.Name())
		}
	}
}

// RuleProblems lists the problems of a rule file's error, one each: a rule
// file reports all of its problems joined (errors.Join), each wrapping
// sentinel (the compiler's ErrRules) and its cause with the file's name
// between them; such a one stays whole.
func RuleProblems(err, sentinel error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok && !slices.Contains(j.Unwrap(), sentinel) {
		return j.Unwrap()
	}
	return []error{err}
}
