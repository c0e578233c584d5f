package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/userbridge/userbridge/mapping/canonical"
)

// Validate reports every problem of the block at once, each prefixed by
// where it is (e.g. "dialects.crafter.auth"). It checks the data only and
// reads no file: internal/auth does when it builds the authenticator.
func (c *Auth) Validate(where string) []error {
	v := &authProblems{}
	at := func(s string) string { return where + "." + s }
	switch c.Mode {
	case "", ModePassthrough:
		if c.APIKeys != nil || c.Basic != nil || c.JWT != nil {
			v.addf(at("mode"), "apiKeys, basic and jwt check callers only in mode verify; with mode passthrough the upstream checks them")
		}
		if c.Upstream != nil {
			v.addf(at("upstream"), "userbridge's own upstream credentials need mode verify: in passthrough they would be lent to any caller unchecked")
		}
		if !c.Policy.isZero() {
			v.addf(at("policy"), "a policy needs mode verify: in passthrough userbridge does not know the caller")
		}
	case ModeVerify:
		if c.APIKeys == nil && c.Basic == nil && c.JWT == nil {
			v.addf(at("mode"), "mode verify needs at least one of apiKeys, basic and jwt")
		}
	default:
		v.addf(at("mode"), "%q is not a mode: use passthrough or verify", c.Mode)
	}
	if k := c.APIKeys; k != nil {
		v.header(at("apiKeys.header"), k.Header)
		v.header(at("apiKeys.idHeader"), k.IDHeader)
		if k.Header != "" && strings.EqualFold(k.Header, k.IDHeader) {
			v.addf(at("apiKeys.idHeader"), "must differ from header")
		}
		v.required(at("apiKeys.file"), k.File)
	}
	if b := c.Basic; b != nil {
		v.required(at("basic.file"), b.File)
	}
	if j := c.JWT; j != nil {
		v.validateJWT(at("jwt"), j)
	}
	if u := c.Upstream; u != nil {
		v.validateUpstream(at("upstream"), u)
	}
	v.validatePolicy(at("policy"), &c.Policy, c.JWT != nil)
	return v.errs
}

// validateAuth reports every problem of a dialect's auth block (with its
// defaults applied), each under dialects.<name>.auth, with its line
// (lineOf: Config.where). It reads no file: the server does when it
// starts the dialect.
func validateAuth(src Source, name string, a Auth, lineOf func(key string) string) []error {
	where := "dialects." + name + ".auth"
	var errs []error
	for _, err := range a.Validate(where) {
		var p *authProblem
		if errors.As(err, &p) {
			errs = append(errs, fmt.Errorf("%w: %s: %s: %s", ErrInvalid, src.Name, lineOf(p.key), p.text))
			continue
		}
		errs = append(errs, fmt.Errorf("%w: %s: %w", ErrInvalid, src.Name, err))
	}
	if a.Mode == ModeVerify && a.APIKeys != nil && a.APIKeys.Header == "" {
		errs = append(errs, fmt.Errorf("%w: %s: %s: required: dialect %s has no default API key header", ErrInvalid, src.Name, lineOf(where+".apiKeys.header"), name))
	}
	return errs
}

// authProblem is one problem of an auth block: the dotted key and what is
// wrong with it.
type authProblem struct{ key, text string }

// Error is "KEY: PROBLEM".
func (p *authProblem) Error() string { return p.key + ": " + p.text }

// authProblems collects the problems of one auth block, each with where
// it is.
type authProblems struct{ errs []error }

func (v *authProblems) addf(where, format string, args ...any) {
	v.errs = append(v.errs, &authProblem{key: where, text: fmt.Sprintf(format, args...)})
}

func (v *authProblems) required(where, val string) {
	if strings.TrimSpace(val) == "" {
		v.addf(where, "required")
	}
}

// header checks an optional header name.
func (v *authProblems) header(where, name string) {
	if name != "" && !httpguts.ValidHeaderFieldName(name) {
		v.addf(where, "%q is not a header name", name)
	}
}

func (v *authProblems) validateJWT(where string, j *JWT) {
	at := func(s string) string { return where + "." + s }
	v.endpoint(at("jwksUrl"), j.JWKSURL)
	v.required(at("issuer"), j.Issuer)
	if len(j.Audience) == 0 {
		v.addf(at("audience"), "required: without it a token the provider issued for any other application would be accepted")
	}
	for i, a := range j.Audience {
		v.required(fmt.Sprintf("%s[%d]", at("audience"), i), a)
	}
	for i, alg := range j.Algorithms {
		if !slices.Contains(jwtAlgorithms, alg) {
			v.addf(fmt.Sprintf("%s[%d]", at("algorithms"), i), "%q is not accepted: use one of %s", alg, strings.Join(jwtAlgorithms, ", "))
		}
	}
	for name := range j.RequiredClaims {
		switch name {
		case "":
			v.addf(at("requiredClaims"), "empty claim name")
		case "iss", "aud", "exp", "nbf", "iat":
			v.addf(at("requiredClaims."+name), "is checked by issuer, audience and the token's validity times, not here")
		}
	}
	if j.ClockSkew < 0 || j.ClockSkew.D() > MaxClockSkew {
		v.addf(at("clockSkew"), "must be between 0s and %s", MaxClockSkew)
	}
	if j.RefreshInterval < 0 {
		v.addf(at("refreshInterval"), "must not be negative")
	}
}

// Validate reports every problem of a credential block at once, each
// prefixed by where it is (e.g. "upstream.scim.discoveryCredentials"). It
// checks the data only and reads no file: internal/auth does when it
// builds the credential.
func (u *UpstreamCreds) Validate(where string) []error {
	v := &authProblems{}
	v.validateUpstream(where, u)
	return v.errs
}

func (v *authProblems) validateUpstream(where string, u *UpstreamCreds) {
	at := func(s string) string { return where + "." + s }
	n := 0
	if b := u.Bearer; b != nil {
		n++
		if (b.Env == "") == (b.File == "") {
			v.addf(at("bearer"), "needs exactly one of env and file")
		}
	}
	if b := u.Basic; b != nil {
		n++
		v.required(at("basic.user"), b.User)
		if strings.ContainsAny(b.User, ":\r\n") {
			v.addf(at("basic.user"), "must not hold a colon or a line break")
		}
		v.required(at("basic.passwordFile"), b.PasswordFile)
	}
	if o := u.OAuth2; o != nil {
		n++
		v.endpoint(at("oauth2.tokenUrl"), o.TokenURL)
		v.required(at("oauth2.clientId"), o.ClientID)
		v.required(at("oauth2.clientSecretFile"), o.ClientSecretFile)
		for i, s := range o.Scopes {
			if s == "" || strings.ContainsAny(s, " \t\r\n") {
				v.addf(fmt.Sprintf("%s[%d]", at("oauth2.scopes"), i), "%q is not a scope", s)
			}
		}
	}
	if n != 1 {
		v.addf(where, "needs exactly one of bearer, basic and oauth2")
	}
}

// isZero reports whether the policy imposes nothing.
func (p *Policy) isZero() bool {
	return len(p.Roles) == 0 && len(p.Scopes) == 0 && !p.Self && p.SelfCannotChange == nil && p.SelfMayChange == nil
}

func (v *authProblems) validatePolicy(where string, p *Policy, hasJWT bool) {
	at := func(s string) string { return where + "." + s }
	for i, r := range p.Roles {
		v.required(fmt.Sprintf("%s[%d]", at("roles"), i), r)
	}
	for i, s := range p.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n") {
			v.addf(fmt.Sprintf("%s[%d]", at("scopes"), i), "%q is not a scope", s)
		}
	}
	if len(p.Scopes) > 0 && !hasJWT {
		v.addf(at("scopes"), "only jwt callers hold scopes: with apiKeys or basic alone no caller could pass")
	}
	if p.SelfCannotChange != nil && !p.Self {
		v.addf(at("selfCannotChange"), "applies only with self: true")
	}
	for i, f := range p.SelfCannotChange {
		if !isCanonicalPath(f) {
			v.addf(fmt.Sprintf("%s[%d]", at("selfCannotChange"), i), "%q is not a canonical field, \"extensions\" or \"extensions.<dialect>[.<name>]\"", f)
		}
	}
	if p.SelfMayChange != nil && !p.Self {
		v.addf(at("selfMayChange"), "applies only with self: true")
	}
	deny := p.SelfCannotChange
	if deny == nil {
		deny = defaultSelfCannotChange
	}
	for i, f := range p.SelfMayChange {
		if !slices.Contains(deny, f) {
			// A typo here would silently leave the field protected, or
			// the operator believing it is allowed.
			v.addf(fmt.Sprintf("%s[%d]", at("selfMayChange"), i), "%q is not in selfCannotChange (or its default): nothing to allow", f)
		}
	}
}

// endpoint checks a URL userbridge fetches keys or tokens from.
func (v *authProblems) endpoint(where, raw string) {
	if raw == "" {
		v.addf(where, "required")
		return
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		v.addf(where, "%q is not an absolute http(s) URL", raw)
		return
	}
	if u.User != nil {
		v.addf(where, "must not hold credentials")
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		v.addf(where, "must be https (http only on a loopback address)")
	}
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isCanonicalPath reports whether f names a canonical field (writable or
// read-only), every extension, a dialect's extensions or one member.
func isCanonicalPath(f string) bool {
	if canonical.FieldIndex(f) >= 0 || slices.Contains(canonical.ReadOnly[:], f) {
		return true
	}
	rest, ok := strings.CutPrefix(f, "extensions")
	if !ok {
		return false
	}
	if rest == "" {
		return true
	}
	rest, ok = strings.CutPrefix(rest, ".")
	if !ok || rest == "" {
		return false
	}
	for _, seg := range strings.SplitN(rest, ".", 2) {
		if seg == "" {
			return false
		}
	}
	return true
}
