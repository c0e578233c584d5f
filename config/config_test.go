package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	c, err := Parse(Source{Name: "embedded default"}, DefaultYAML())
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || !c.IsDemo() || c.Upstream.Timeout.D() != 5*time.Second || c.Upstream.IdleTimeout.D() != 30*time.Second || c.Server.MaxBodyBytes != 1<<20 {
		t.Fatalf("%+v", c)
	}
	mounts, err := c.Resolve(Source{Name: "embedded default"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range mounts {
		got[m.Dialect.Name()] = m.Method + " " + m.Path
	}
	want := map[string]string{
		"baasic":      "PUT /v1/:apiKey/users/:username",
		"shift":       "PUT /v3/users/:userId",
		"trustedtwin": "PATCH /users/:user",
		"finix":       "PUT /users/:user_id",
		"crafter":     "POST /studio/api/1/services/api/1/user/update.json",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
}

func TestStrict(t *testing.T) {
	_, err := Parse(Source{Name: "f.yaml"}, []byte("listen: :1\nupstream:\n  urll: x\n  timeout: fast\n"))
	if err == nil || !errors.Is(err, ErrInvalid) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"f.yaml", "line 3", "urll", "line 4", "fast"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	if c, err := Parse(Source{Name: "empty"}, nil); err != nil || c.Listen == "" {
		t.Fatalf("an empty file is the defaults: %v", err)
	}
}

func TestEnv(t *testing.T) {
	c, _ := Parse(Source{}, nil)
	env := map[string]string{"USERBRIDGE_LISTEN": ":9", "USERBRIDGE_UPSTREAM_URL": "http://idp", "USERBRIDGE_UPSTREAM_TIMEOUT": "2s",
		"USERBRIDGE_MAX_BODY_BYTES": "2048", "USERBRIDGE_LOG_LEVEL": "debug"}
	if err := c.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":9" || c.Upstream.URL != "http://idp" || c.Upstream.Timeout.D() != 2*time.Second || c.Server.MaxBodyBytes != 2048 || c.Log.Level != "debug" {
		t.Fatalf("%+v", c)
	}
	bad := map[string]string{"USERBRIDGE_UPSTREAM_TIMEOUT": "soon", "USERBRIDGE_MAX_BODY_BYTES": "big"}
	err := c.ApplyEnv(func(k string) (string, bool) { v, ok := bad[k]; return v, ok })
	if err == nil || !strings.Contains(err.Error(), "USERBRIDGE_UPSTREAM_TIMEOUT") || !strings.Contains(err.Error(), "USERBRIDGE_MAX_BODY_BYTES") {
		t.Fatalf("got %v", err)
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	finix, err := os.ReadFile("../adapters/finix/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "finix.yaml"), []byte(strings.Replace(string(finix), "/users/:user_id", "/accounts/:user_id", 1)), 0o600)
	os.WriteFile(filepath.Join(dir, "wrong.yaml"), []byte(strings.Replace(string(finix), "dialect: finix", "dialect: other", 1)), 0o600)
	src := Source{Name: "c.yaml", Dir: dir}
	c, _ := Parse(src, []byte(`
dialects:
  finix: {rules: finix.yaml, prefix: /v2, config: {application: APxyz}}
  shift: {listen: "127.0.0.1:9001"}
  crafter: {host: Studio.Example.com}
  baasic: {enabled: false}
`))
	mounts, err := c.Resolve(src)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]Mount{}
	for _, m := range mounts {
		by[m.Dialect.Name()] = m
	}
	if _, ok := by["baasic"]; ok {
		t.Error("a disabled dialect is mounted")
	}
	if by["finix"].Path != "/v2/accounts/:user_id" {
		t.Errorf("finix rules from file with prefix: %q", by["finix"].Path)
	}
	if v, _ := by["finix"].Dialect.Program().Config("application"); v != "APxyz" {
		t.Errorf("config override: %q", v)
	}
	if by["shift"].Listen != "127.0.0.1:9001" || by["crafter"].Host != "studio.example.com" {
		t.Errorf("listen/host: %+v %+v", by["shift"], by["crafter"])
	}

	c, _ = Parse(src, []byte(`
listen: nope
upstream: {profile: soap, url: "ftp://x", maxAttempts: 11, maxConns: -1, idleTimeout: -1s, tls: {certFile: /nonexistent}}
log: {format: xml}
dialects:
  finix: {rules: wrong.yaml}
  crafter: {config: {nosuch: x}}
  shift: {prefix: "v3/"}
  newone: {}
  trustedtwin: {rules: missing.yaml}
`))
	_, err = c.Resolve(src)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"listen", "upstream.profile", "upstream.url", "upstream.tls: set, but URL is not https",
		"upstream.maxAttempts", "upstream: maxConns", "upstream.idleTimeout: -1s: must be from 1s to 1h (default 30s)", "line 7: dialects.crafter.config.nosuch: the rule file crafter/rules.yaml (embedded) declares no config constant", "log.format", `cannot replace "finix"`, "dialects.shift.prefix",
		`"newone" is not a built-in dialect`, "dialects.trustedtwin.rules"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestConflicts(t *testing.T) {
	cases := []struct{ a, b, why string }{
		{"/users/:id", "/users/:id", "would answer the same requests"},
		{"/users/:id", "/users/:user", "name different parameters at the same place"},
		{"/users/:id/x", "/users/:user/y", "name different parameters at the same place"},
		{"/users/:id", "/users/me", ""},
		{"/users/:id", "/accounts/:id", ""},
		{"/a/:id", "/a/:id/b", ""},
	}
	for _, c := range cases {
		if got := routeClash(c.a, c.b); got != c.why {
			t.Errorf("%s vs %s: %q, want %q", c.a, c.b, got, c.why)
		}
	}
}

// TestLoadRefusesEmptyFile: a named file with no configuration in it (a
// write caught halfway) is refused, on start and on reload alike, rather
// than read as the defaults.
func TestLoadRefusesEmptyFile(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"empty": "", "blank": "\n  \n", "comments": "# nothing yet\n", "null": "~\n"} {
		path := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Load(path); err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "holds no configuration") {
			t.Errorf("%s: %v", name, err)
		}
	}
	path := filepath.Join(dir, "one.yaml")
	if err := os.WriteFile(path, []byte("listen: 127.0.0.1:9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, _, err := Load(path); err != nil || c.Listen != "127.0.0.1:9" {
		t.Errorf("one key: %v", err)
	}
	// A file that cannot be read is named as the source (a reload logs
	// it), not the embedded default.
	gone := filepath.Join(dir, "gone.yaml")
	if _, src, err := Load(gone); err == nil || src.Name != gone {
		t.Errorf("a missing file: source %q, %v", src.Name, err)
	}
}

// TestUpstreamURLChecks: validate refuses what serve refuses (a URL with
// credentials), and no message quotes the URL, which may carry a secret.
func TestUpstreamURLChecks(t *testing.T) {
	src := Source{Name: "t.yaml", Dir: "."}
	for raw, want := range map[string]string{
		"ftp://svc:UPW-SECRET@users.internal":  "scheme must be http or https",
		"http://svc:UPW-SECRET@users.internal": "must not carry credentials",
		"http://users.internal/?k=UPW-SECRET":  "must not have a query",
	} {
		c, err := Parse(src, []byte("upstream: {url: \""+raw+"\"}\n"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Resolve(src)
		if err == nil || !strings.Contains(err.Error(), "upstream.url: "+want) {
			t.Errorf("%s: %v, want %q", raw, err, want)
		} else if strings.Contains(err.Error(), "UPW-SECRET") {
			t.Errorf("the message quotes the secret: %v", err)
		}
	}
}

// TestTenantPathNeedsTenant: {tenant} in a path template is refused where a
// mounted dialect that names users that way carries no tenant.
func TestTenantPathNeedsTenant(t *testing.T) {
	src := Source{Name: "t.yaml", Dir: "."}
	c, err := Parse(src, []byte("upstream: {url: \"http://users.internal\", byIdPath: \"/t/{tenant}/u/{id}\"}\ndialects: {finix: {}, baasic: {}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Resolve(src)
	if err == nil || !strings.Contains(err.Error(), "upstream.byIdPath: uses {tenant}, but dialect finix carries no tenant") {
		t.Fatalf("finix: %v", err)
	}
	if strings.Contains(err.Error(), "dialect baasic") {
		t.Errorf("baasic carries its apiKey as tenant: %v", err)
	}
	c, _ = Parse(src, []byte("upstream: {url: \"http://users.internal\", byIdPath: \"/t/{tenant}/u/{id}\", byUsernamePath: \"/t/{tenant}/n/{username}\"}\n"+
		"dialects: {baasic: {}, finix: {enabled: false}, shift: {enabled: false}, trustedtwin: {enabled: false}, crafter: {enabled: false}}\n"))
	if _, err := c.Resolve(src); err != nil {
		t.Errorf("baasic alone: %v", err)
	}
}

// TestUpstreamTLSCheckedAsAtStart: validate and a reload refuse the TLS
// settings the upstream client refuses at start: TLS for an http URL, a CA
// file with no certificate, a certificate without its key.
func TestUpstreamTLSCheckedAsAtStart(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(empty, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for yaml, want := range map[string]string{
		"upstream: {url: 'http://u', tls: {caFile: " + empty + "}}":    "upstream.tls: set, but URL is not https",
		"upstream: {url: 'https://u', tls: {caFile: " + empty + "}}":   "upstream.tls.caFile: " + empty + " holds no PEM certificate",
		"upstream: {url: 'https://u', tls: {certFile: " + empty + "}}": "upstream.tls.certFile: CertFile and KeyFile go together",
	} {
		c, err := Parse(Source{Name: "c.yaml", Dir: dir}, []byte(yaml+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Resolve(Source{Name: "c.yaml", Dir: dir}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", yaml, err, want)
		}
	}
}

// TestRemovedKeys: a configuration that still sets a key userbridge no
// longer reads is refused, naming the key, its file and line, and why;
// the other problems of the file are reported with it. So is the
// environment variable that set it.
func TestRemovedKeys(t *testing.T) {
	src := Source{Name: "old.yaml"}
	_, err := Parse(src, []byte("listen: 127.0.0.1:8080\nserver:\n  transport: fast\n  maxDepth: deep\nupstream:\n  url: http://idp\n  transport: standard\n"))
	if err == nil || !errors.Is(err, ErrInvalid) {
		t.Fatalf("accepted: %v", err)
	}
	for _, want := range []string{
		"old.yaml: line 3: server.transport: removed: userbridge serves with the standard library's net/http only",
		"old.yaml: line 7: upstream.transport: removed: userbridge calls the upstream with the standard library's net/http only",
		"old.yaml: line 4:", // maxDepth: still reported
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}

	c, err := Parse(src, []byte("listen: 127.0.0.1:8080\n"))
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]string{"USERBRIDGE_SERVER_TRANSPORT": "server.transport", "USERBRIDGE_UPSTREAM_TRANSPORT": "upstream.transport"} {
		err := c.ApplyEnv(func(n string) (string, bool) { return "fast", n == name })
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), name+" ("+key+")") || !strings.Contains(err.Error(), ": removed: ") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestRelativeFilesBesideConfig: every relative file name a config file
// holds is read from the config file's directory, whatever the working
// directory: upstream.tls, a dialect's legacy.tls and the LDAP bind
// password file as the rule and credential files. An absolute name, and
// a name in the embedded configuration (no directory), stay as written.
func TestRelativeFilesBesideConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("certs/ca.pem", "not a certificate\n")
	write("bind.pw", "\n")
	abs := filepath.Join(t.TempDir(), "client.pem")
	write("c.yaml", "upstream:\n  url: https://users.internal\n  tls: {caFile: certs/ca.pem, certFile: "+abs+", keyFile: certs/key.pem}\n"+
		"  ldap: {bindPasswordFile: bind.pw}\n"+
		"dialects:\n  finix:\n    legacy: {url: 'https://vendor.example', tls: {caFile: certs/vendor.pem}}\n")
	t.Chdir(t.TempDir()) // the working directory holds none of them

	c, src, err := LoadAll(filepath.Join(dir, "c.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for key, got := range map[string]string{
		"upstream.tls.caFile":                    c.Upstream.TLS.CAFile,
		"upstream.tls.keyFile":                   c.Upstream.TLS.KeyFile,
		"upstream.ldap.bindPasswordFile":         c.Upstream.LDAP.BindPasswordFile,
		"dialects.finix.legacy.tls.caFile":       c.Dialects["finix"].Legacy.TLS.CAFile,
		"upstream.tls.certFile (absolute, kept)": c.Upstream.TLS.CertFile,
	} {
		want := map[string]string{
			"upstream.tls.caFile":                    filepath.Join(dir, "certs/ca.pem"),
			"upstream.tls.keyFile":                   filepath.Join(dir, "certs/key.pem"),
			"upstream.ldap.bindPasswordFile":         filepath.Join(dir, "bind.pw"),
			"dialects.finix.legacy.tls.caFile":       filepath.Join(dir, "certs/vendor.pem"),
			"upstream.tls.certFile (absolute, kept)": abs,
		}[key]
		if got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	// Read from there: the CA file's content is what is refused, not its absence.
	if _, err := c.Resolve(src); err == nil || !strings.Contains(err.Error(), "upstream.tls.caFile: "+filepath.Join(dir, "certs/ca.pem")+" holds no PEM certificate") {
		t.Errorf("resolve: %v, want the CA file beside the config read and refused", err)
	}
	if _, err := c.Upstream.LDAP.BindPassword(); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "bind.pw")+" is empty") {
		t.Errorf("bind password: %v, want the file beside the config read", err)
	}

	def, err := Parse(Source{Name: "embedded default"}, []byte("upstream: {url: 'https://u', tls: {caFile: ca.pem}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if def.Upstream.TLS.CAFile != "ca.pem" {
		t.Errorf("no directory: caFile = %q, want it as written", def.Upstream.TLS.CAFile)
	}
}
