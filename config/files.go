package config

import (
	"sort"
)

// KeyedFile is a file a configuration names, by the key that names it.
type KeyedFile struct{ Key, Path string }

// DialectFiles lists the files the dialects of c name (each one's rules,
// the files its auth block names, its legacy.tls files), relative names
// resolved as Resolve reads them, in a stable order: what a reload reads
// again, and what the watcher looks at.
func (c *Config) DialectFiles(src Source) []KeyedFile {
	names := make([]string, 0, len(c.Dialects))
	for n := range c.Dialects {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []KeyedFile
	add := func(key, path string) {
		if path != "" {
			out = append(out, KeyedFile{key, path})
		}
	}
	for _, n := range names {
		d, at := c.Dialects[n], "dialects."+n+"."
		add(at+"rules", src.Path(d.Rules))
		a := authOf(src, n, d.Auth)
		if a.APIKeys != nil {
			add(at+"auth.apiKeys.file", a.APIKeys.File)
		}
		if a.Basic != nil {
			add(at+"auth.basic.file", a.Basic.File)
		}
		out = a.Upstream.appendFiles(out, at+"auth.upstream")
		t := d.Legacy.TLS // anchored by Parse
		add(at+"legacy.tls.caFile", t.CAFile)
		add(at+"legacy.tls.certFile", t.CertFile)
		add(at+"legacy.tls.keyFile", t.KeyFile)
	}
	return out
}

// UpstreamFiles lists the files the upstream block of c names, relative
// names resolved as the upstream reads them: the profile's rule file, the
// TLS files, the LDAP bind password's, SCIM discovery's credential files.
// The upstream is built once, at start: a change to one of them, as to any
// upstream.* key, needs a restart.
func (c *Config) UpstreamFiles(src Source) []KeyedFile {
	var out []KeyedFile
	add := func(key, path string) {
		if path != "" {
			out = append(out, KeyedFile{key, path})
		}
	}
	u := &c.Upstream
	add("upstream.rules", c.RulesFile(src))
	add("upstream.tls.caFile", u.TLS.CAFile) // anchored by Parse
	add("upstream.tls.certFile", u.TLS.CertFile)
	add("upstream.tls.keyFile", u.TLS.KeyFile)
	add("upstream.ldap.bindPasswordFile", u.LDAP.BindPasswordFile)
	return u.SCIM.DiscoveryCreds(src).appendFiles(out, "upstream.scim.discoveryCredentials")
}

// appendFiles appends the files u names (nil: none) under the key of its
// block.
func (u *UpstreamCreds) appendFiles(out []KeyedFile, at string) []KeyedFile {
	if u == nil {
		return out
	}
	if u.Bearer != nil && u.Bearer.File != "" {
		out = append(out, KeyedFile{at + ".bearer.file", u.Bearer.File})
	}
	if u.Basic != nil && u.Basic.PasswordFile != "" {
		out = append(out, KeyedFile{at + ".basic.passwordFile", u.Basic.PasswordFile})
	}
	if u.OAuth2 != nil && u.OAuth2.ClientSecretFile != "" {
		out = append(out, KeyedFile{at + ".oauth2.clientSecretFile", u.OAuth2.ClientSecretFile})
	}
	return out
}
