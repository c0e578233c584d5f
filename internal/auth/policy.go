package auth

import (
	"slices"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// policy is a config.Policy with its defaults applied.
type policy struct {
	roles  []string
	scopes []string
	self   bool
	deny   []string // the fields a caller allowed only by self may not change
}

func compilePolicy(p *config.Policy) policy {
	out := policy{roles: p.Roles, scopes: p.Scopes, self: p.Self}
	if out.self {
		out.deny = p.SelfProtected()
	}
	return out
}

// loosened returns the fields of config.DefaultSelfCannotChange that a
// caller allowed only by self may change under the policy: each lets it
// change who it is or what it may do, which New logs.
func (p *policy) loosened() []string {
	if !p.self {
		return nil
	}
	var out []string
	for _, f := range config.DefaultSelfCannotChange() {
		if !slices.ContainsFunc(p.deny, func(d string) bool { return covers(d, f) }) {
			out = append(out, f)
		}
	}
	return out
}

// covers reports whether the protected entry d covers the field path: the
// field itself or one inside it ("extensions.crafter" covers
// "extensions.crafter.enabled").
func covers(d, path string) bool {
	return path == d || strings.HasPrefix(path, d+".")
}

// The 403 messages.
var (
	errScope    = canonical.Errorf(canonical.Forbidden, "the caller lacks a required scope")
	errRole     = canonical.Errorf(canonical.Forbidden, "the caller lacks a required role")
	errNotSelf  = canonical.Errorf(canonical.Forbidden, "the caller may update only their own user")
	errBadWrite = canonical.Errorf(canonical.Forbidden, "the update could not be checked against the policy")
)

// Authorize applies the policy to a verified caller updating the user a
// request names (target and value, as the dialect translated them) with
// update, the canonical update document. In passthrough it allows
// everything: the upstream decides. In verify mode:
//
//   - the caller must hold every policy scope;
//   - with neither roles nor self, that is all;
//   - a caller holding any policy role may update any user;
//   - with self, a caller may update their own user (ByUsername: value ==
//     p.Username; ByID: value == p.ID; compared exactly), but not set or
//     unset a protected field (config.Policy.SelfProtected: by default
//     every field that says who the caller is, what it may do, whether it
//     may sign in, or its tenant), whatever the value: renaming itself
//     would make it another user for the next check.
//
// Refusals are Forbidden errors; a nil p in verify mode is Unauthorized.
func (a *Authenticator) Authorize(p *Principal, target canonical.Target, value string, update []byte) *canonical.Error {
	if a == nil || !a.verify {
		return nil
	}
	if p == nil {
		return errMissing
	}
	pol := &a.policy
	for _, s := range pol.scopes {
		if !slices.Contains(p.Scopes, s) {
			return errScope
		}
	}
	if len(pol.roles) == 0 && !pol.self {
		return nil
	}
	for _, r := range pol.roles {
		if slices.Contains(p.Roles, r) {
			return nil
		}
	}
	if !pol.self {
		return errRole
	}
	if !isSelf(p, target, value) {
		return errNotSelf
	}
	if len(pol.deny) == 0 {
		return nil
	}
	if len(update) > 0 && !gjson.ValidBytes(update) {
		return errBadWrite
	}
	if f := deniedField(update, pol.deny); f != "" {
		name := a.name(f)
		return &canonical.Error{Code: canonical.Forbidden, Field: name, Message: "a caller updating their own user may not change " + name}
	}
	return nil
}

// isSelf reports whether the request names the caller's own user.
func isSelf(p *Principal, target canonical.Target, value string) bool {
	if value == "" {
		return false
	}
	switch target {
	case canonical.ByUsername:
		return p.Username != "" && value == p.Username
	case canonical.ByID:
		return p.ID != "" && value == p.ID
	}
	return false
}

// deniedField returns the first field the update sets or unsets that deny
// covers, or "".
func deniedField(update []byte, deny []string) string {
	if len(update) == 0 {
		return ""
	}
	var hit string
	check := func(path string) bool {
		for _, d := range deny {
			// The field itself, one inside it, or one holding it.
			if covers(d, path) || covers(path, d) {
				hit = path
				return false
			}
		}
		return true
	}
	root := gjson.ParseBytes(update)
	root.Get("set").ForEach(func(k, v gjson.Result) bool {
		if k.Str != "extensions" {
			return check(k.Str)
		}
		if !v.IsObject() {
			return check(k.Str)
		}
		ok := true
		v.ForEach(func(d, names gjson.Result) bool {
			if !names.IsObject() {
				ok = check("extensions." + d.Str)
				return ok
			}
			names.ForEach(func(n, _ gjson.Result) bool {
				ok = check("extensions." + d.Str + "." + n.Str)
				return ok
			})
			return ok
		})
		return ok
	})
	if hit != "" {
		return hit
	}
	root.Get("unset").ForEach(func(_, v gjson.Result) bool {
		return check(v.String())
	})
	return hit
}
