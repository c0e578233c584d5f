package config

import (
	"fmt"
	"path/filepath"

	"github.com/userbridge/userbridge/internal/auth"
)

// APIKeyHeaders are the headers a dialect's clients send an API key in.
type APIKeyHeaders struct {
	// Header holds the key (or, with IDHeader, its secret).
	Header string
	// IDHeader, when set, names the key.
	IDHeader string
}

// APIKeyDefaults are the API key headers of the dialects whose clients send
// keys in a known place. A dialect's auth.apiKeys block that names no
// header takes its dialect's: Shift clients send x-key (the key's name) and
// x-secret (its secret); Trusted Twin clients send the key as the whole
// Authorization value, no scheme word. A configured header never takes the
// dialect's idHeader.
var APIKeyDefaults = map[string]APIKeyHeaders{
	"shift":       {Header: "x-secret", IDHeader: "x-key"},
	"trustedtwin": {Header: "Authorization"},
}

// authOf is a dialect's auth block with the dialect's defaults applied and
// relative file names made relative to the config file's directory, as rule
// files are. The configuration itself is left as written.
func authOf(src Source, name string, a auth.Config) auth.Config {
	rel := func(f *string) {
		if *f != "" && !filepath.IsAbs(*f) && src.Dir != "" {
			*f = filepath.Join(src.Dir, *f)
		}
	}
	if a.APIKeys != nil {
		k := *a.APIKeys
		if d, ok := APIKeyDefaults[name]; ok && k.Header == "" {
			k.Header = d.Header
			if k.IDHeader == "" {
				k.IDHeader = d.IDHeader
			}
		}
		rel(&k.File)
		a.APIKeys = &k
	}
	if a.Basic != nil {
		b := *a.Basic
		rel(&b.File)
		a.Basic = &b
	}
	if u := a.Upstream; u != nil {
		c := *u
		if c.Bearer != nil {
			b := *c.Bearer
			rel(&b.File)
			c.Bearer = &b
		}
		if c.Basic != nil {
			b := *c.Basic
			rel(&b.PasswordFile)
			c.Basic = &b
		}
		if c.OAuth2 != nil {
			o := *c.OAuth2
			rel(&o.ClientSecretFile)
			c.OAuth2 = &o
		}
		a.Upstream = &c
	}
	return a
}

// validateAuth reports every problem of a dialect's auth block (with its
// defaults applied), each under dialects.<name>.auth. It reads no file:
// the server does when it starts the dialect.
func validateAuth(src Source, name string, a auth.Config) []error {
	where := "dialects." + name + ".auth"
	var errs []error
	for _, err := range a.Validate(where) {
		errs = append(errs, fmt.Errorf("%w: %s: %w", ErrInvalid, src.Name, err))
	}
	if a.Mode == auth.ModeVerify && a.APIKeys != nil && a.APIKeys.Header == "" {
		errs = append(errs, fmt.Errorf("%w: %s: %s.apiKeys.header: required: dialect %s has no default API key header", ErrInvalid, src.Name, where, name))
	}
	return errs
}
