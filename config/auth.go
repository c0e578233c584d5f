package config

import (
	"slices"
	"time"
)

// The inbound modes, Auth.Mode.
const (
	// ModePassthrough passes the caller's credentials upstream unchanged;
	// the upstream decides. It is the default.
	ModePassthrough = "passthrough"
	// ModeVerify makes userbridge check the caller and call the upstream
	// with its own credentials.
	ModeVerify = "verify"
)

// Auth is one dialect's inbound authentication and authorization, the
// `auth` block of a dialect in the configuration file. Secrets are never
// written here: the blocks below name files or environment variables.
// internal/auth builds the dialect's authenticator from it.
type Auth struct {
	// Mode is "passthrough" (default: the caller's credentials go upstream
	// unchanged and the upstream decides) or "verify" (userbridge checks
	// the caller with apiKeys, basic or jwt, applies the policy, then calls
	// the upstream with its own credentials and X-Userbridge-Principal).
	Mode string `yaml:"mode"`
	// APIKeys accepts callers that send an API key in a header. verify only.
	APIKeys *APIKeys `yaml:"apiKeys"`
	// Basic accepts HTTP Basic credentials checked against bcrypt hashes.
	// verify only.
	Basic *Basic `yaml:"basic"`
	// JWT accepts bearer JWTs signed by a key of a JWKS. verify only.
	JWT *JWT `yaml:"jwt"`
	// Upstream is the credential userbridge itself presents upstream.
	// verify only: in passthrough the caller's own credentials go upstream.
	Upstream *UpstreamCreds `yaml:"upstream"`
	// Policy says which verified callers may update which users. verify
	// only.
	Policy Policy `yaml:"policy"`
}

// APIKeys checks a key sent in a header against a file of hashes.
type APIKeys struct {
	// Header carries the key. Default: the dialect's (Shift "x-secret",
	// Trusted Twin "Authorization", where the whole value, or what follows
	// a "Bearer " of any case, is the key).
	Header string `yaml:"header"`
	// IDHeader, when set, names the key's principal and Header holds its
	// secret (Shift: x-key names the key, x-secret is the secret). Default:
	// the dialect's, only when header is left to the dialect too.
	IDHeader string `yaml:"idHeader"`
	// File holds one key a line: "principal:hash[:roles[:id]]". hash is the
	// SHA-256 of the key in hex (64 characters) or a bcrypt hash ("$2y$...",
	// only with an idHeader); roles are comma-separated; id is the
	// principal's user id for policy.self (default: the principal). Lines
	// starting with "#" are comments. Plain keys are never accepted here.
	File string `yaml:"file"`
}

// Basic checks HTTP Basic credentials against an htpasswd-style file.
type Basic struct {
	// File holds one user a line: "user:bcrypt-hash[:roles[:id]]", as
	// written by `htpasswd -B` (roles comma-separated; id is the user's id
	// for policy.self, default the user name). Lines starting with "#" are
	// comments.
	File string `yaml:"file"`
}

// JWT checks bearer JSON Web Tokens against a JWKS.
type JWT struct {
	// JWKSURL is the identity provider's JWK Set, https (http only on a
	// loopback address). Fetched at start, every refreshInterval, and when
	// a token names an unknown key id (at most once a minute).
	JWKSURL string `yaml:"jwksUrl"`
	// Issuer must equal the token's "iss". Required.
	Issuer string `yaml:"issuer"`
	// Audience: the token's "aud" must hold one of these. Required.
	Audience []string `yaml:"audience"`
	// Algorithms accepted (default RS256, RS384, RS512, PS256, PS384,
	// PS512, ES256, ES384, ES512, EdDSA: JWTAlgorithms). Symmetric (HS*)
	// and "none" are never accepted.
	Algorithms []string `yaml:"algorithms"`
	// RequiredClaims must be present with this value (a string equal to
	// it, a boolean or number printed as it, or an array holding it); an
	// empty value only requires the claim. Dotted names reach into
	// objects ("realm_access.roles").
	RequiredClaims map[string]string `yaml:"requiredClaims"`
	// UsernameClaim names the caller's username (default
	// "preferred_username"), compared with the user a request names by
	// username under policy.self.
	UsernameClaim string `yaml:"usernameClaim"`
	// IDClaim names the caller's user id (default "sub"), compared with the
	// user a request names by id under policy.self.
	IDClaim string `yaml:"idClaim"`
	// RolesClaim names the caller's roles, an array of strings or a
	// space-separated string, dotted for nested claims (Keycloak:
	// "realm_access.roles"). Default: no roles.
	RolesClaim string `yaml:"rolesClaim"`
	// ScopeClaim names the granted scopes (default: "scope", a
	// space-separated string, else "scp", an array or string).
	ScopeClaim string `yaml:"scopeClaim"`
	// ClockSkew tolerated on exp, nbf and iat (default 30s, at most 5m:
	// DefaultClockSkew, MaxClockSkew).
	ClockSkew Duration `yaml:"clockSkew"`
	// RefreshInterval is how often the JWKS is fetched again (default 1h).
	RefreshInterval Duration `yaml:"refreshInterval"`
}

// UpstreamCreds is userbridge's own credential for the upstream: exactly
// one of bearer, basic and oauth2. Without an upstream block, verify mode
// calls the upstream with X-Userbridge-Principal and no credential (for an
// upstream that trusts userbridge by network or mutual TLS).
type UpstreamCreds struct {
	// Bearer sends "Authorization: Bearer <token>".
	Bearer *Bearer `yaml:"bearer"`
	// Basic sends HTTP Basic credentials.
	Basic *UpstreamBasic `yaml:"basic"`
	// OAuth2 gets a token by the client credentials grant, cached until
	// shortly before it expires.
	OAuth2 *OAuth2 `yaml:"oauth2"`
}

// Bearer is a static token, read once at start from exactly one of env and
// file.
type Bearer struct {
	// Env names an environment variable holding the token.
	Env string `yaml:"env"`
	// File holds the token (surrounding white space is ignored).
	File string `yaml:"file"`
}

// UpstreamBasic is a user and a password file.
type UpstreamBasic struct {
	// User is the user name (no colon).
	User string `yaml:"user"`
	// PasswordFile holds the password (a trailing newline is ignored).
	PasswordFile string `yaml:"passwordFile"`
}

// OAuth2 is the client credentials grant (RFC 6749 section 4.4).
type OAuth2 struct {
	// TokenURL is the token endpoint, https (http only on a loopback
	// address).
	TokenURL string `yaml:"tokenUrl"`
	// ClientID is the client's id.
	ClientID string `yaml:"clientId"`
	// ClientSecretFile holds the client secret (a trailing newline is
	// ignored).
	ClientSecretFile string `yaml:"clientSecretFile"`
	// Scopes requested.
	Scopes []string `yaml:"scopes"`
}

// Policy says which verified callers may update which users. An empty
// policy lets every verified caller update every user.
type Policy struct {
	// Roles: a caller holding any one of them may update any user.
	Roles []string `yaml:"roles"`
	// Scopes: the caller must hold all of them, whatever else is true
	// (jwt only: API keys and Basic users hold no scopes).
	Scopes []string `yaml:"scopes"`
	// Self lets a caller update their own user (the user a request names
	// by username must be the caller's username, by id the caller's id).
	// With roles, it is an alternative to them: Crafter's "Admin, self" is
	// roles [admin] and self true. Without roles, callers may update only
	// themselves.
	Self bool `yaml:"self"`
	// SelfCannotChange lists the fields a caller allowed only by self may
	// not set or unset, by their canonical paths: a field ("username"), an
	// extension member ("extensions.shift.ssoId"), a dialect's extensions
	// ("extensions.crafter") or every extension ("extensions"). Left out,
	// it is DefaultSelfCannotChange: every field of every dialect that
	// says who the caller is, what it may do, whether it may sign in, or
	// its tenant. A list written here replaces the default whole; an
	// explicit empty list allows every field, so that a caller can rename
	// itself into another user, or grant itself roles. To allow a few
	// fields of the default, prefer selfMayChange.
	SelfCannotChange []string `yaml:"selfCannotChange"`
	// SelfMayChange names fields of selfCannotChange (or of its default)
	// that a caller allowed only by self may change after all, each
	// exactly as the list spells it (e.g. [email] where e-mail is not a
	// sign-in name). Each one loosens the policy: a caller that may change
	// its username or e-mail may become someone else for the next check
	// or sign-in; one that may change a role, role template, group or
	// status may grant itself rights. userbridge logs at start which
	// protected fields are allowed.
	SelfMayChange []string `yaml:"selfMayChange"`
}

// The defaults of the jwt block, and its limit. internal/auth applies the
// defaults where a key is left out.
const (
	// DefaultClockSkew is jwt.clockSkew's default.
	DefaultClockSkew = 30 * time.Second
	// MaxClockSkew is the largest jwt.clockSkew accepted.
	MaxClockSkew = 5 * time.Minute
	// DefaultRefreshInterval is jwt.refreshInterval's default.
	DefaultRefreshInterval = time.Hour
	// DefaultUsernameClaim is jwt.usernameClaim's default.
	DefaultUsernameClaim = "preferred_username"
	// DefaultIDClaim is jwt.idClaim's default.
	DefaultIDClaim = "sub"
)

// jwtAlgorithms are the asymmetric JWS algorithms accepted by default;
// they are also the only ones that may be configured.
var jwtAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// JWTAlgorithms returns jwt.algorithms' default: the asymmetric JWS
// algorithms, which are also the only ones that may be configured.
func JWTAlgorithms() []string { return slices.Clone(jwtAlgorithms) }

// defaultSelfCannotChange is policy.selfCannotChange's default, by what
// each field would let a caller allowed only by self do to itself.
// docs/security.md lists them per dialect by the dialect's own names.
var defaultSelfCannotChange = []string{
	// Who the caller is: its sign-in names and ids, and whatever decides
	// which external identity signs in as it.
	"id",                                    // read-only in the contract; listed should a rule ever write it
	"username",                              // Baasic, Shift userName; Crafter's names the user
	"email",                                 // a sign-in name at many identity providers, and where resets go
	"extensions.shift.sso",                  // Shift: sign in through SSO
	"extensions.shift.ssoId",                // Shift: the SSO identity that signs in as this user
	"extensions.crafter.externally_managed", // Crafter: the directory that manages the user
	"extensions.finix.email",                // Finix: the user's e-mail (kept, not writable in Finix)
	// What the caller may do.
	"roles",                                  // Baasic roles, Trusted Twin role
	"extensions.shift.defaultRoleTemplateId", // Shift: the user's default role template
	"extensions.baasic.allowDashboardAccess", // Baasic: dashboard access
	"extensions.finix.role",                  // Finix: role (kept, not writable in Finix)
	"extensions.crafter.groups",              // Crafter: Studio groups (kept, not writable by this call)
	// Whether the caller may sign in: no unlocking or reactivating itself.
	"active",                     // Baasic isApproved, Finix enabled, Shift status
	"locked",                     // Baasic isLockedOut, Shift status
	"deleted",                    // Shift status
	"extensions.crafter.enabled", // Crafter: enabled (kept, not writable by this call)
	// Where the caller is.
	"tenant", // read-only in the contract; listed should a rule ever write it
}

// DefaultSelfCannotChange returns policy.selfCannotChange's default: every
// field of every dialect that would let a caller allowed only by self
// change who it is (username, e-mail, SSO identity, the directory that
// manages it), raise its own privileges (roles, role templates, dashboard
// access, groups), undo its own lock-out or deactivation, or move to
// another tenant.
func DefaultSelfCannotChange() []string { return slices.Clone(defaultSelfCannotChange) }

// SelfProtected returns the fields a caller allowed only by self may not
// set or unset under p: selfCannotChange (its default when left out)
// without selfMayChange.
func (p *Policy) SelfProtected() []string {
	deny := p.SelfCannotChange
	if deny == nil {
		deny = defaultSelfCannotChange
	}
	out := make([]string, 0, len(deny))
	for _, f := range deny {
		if !slices.Contains(p.SelfMayChange, f) {
			out = append(out, f)
		}
	}
	return out
}

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
func authOf(src Source, name string, a Auth) Auth {
	rel := func(f *string) { *f = src.Path(*f) }
	if a.APIKeys != nil {
		k := clone(a.APIKeys)
		if d, ok := APIKeyDefaults[name]; ok && k.Header == "" {
			k.Header = d.Header
			if k.IDHeader == "" {
				k.IDHeader = d.IDHeader
			}
		}
		rel(&k.File)
		a.APIKeys = k
	}
	if a.Basic != nil {
		a.Basic = clone(a.Basic)
		rel(&a.Basic.File)
	}
	a.Upstream = credsOf(src, a.Upstream)
	return a
}

// credsOf is u (nil for nil) with its relative file names made relative
// to the config file's directory; u itself is left as written.
func credsOf(src Source, u *UpstreamCreds) *UpstreamCreds {
	if u == nil {
		return nil
	}
	rel := func(f *string) { *f = src.Path(*f) }
	u = clone(u)
	if u.Bearer != nil {
		u.Bearer = clone(u.Bearer)
		rel(&u.Bearer.File)
	}
	if u.Basic != nil {
		u.Basic = clone(u.Basic)
		rel(&u.Basic.PasswordFile)
	}
	if u.OAuth2 != nil {
		u.OAuth2 = clone(u.OAuth2)
		rel(&u.OAuth2.ClientSecretFile)
	}
	return u
}

// DiscoveryCreds is upstream.scim.discoveryCredentials with its
// relative file names made relative to the config file's directory, as a
// dialect's auth files are; nil when unset. The configuration itself is
// left as written.
func (s SCIM) DiscoveryCreds(src Source) *UpstreamCreds { return credsOf(src, s.DiscoveryCredentials) }

// clone is a shallow copy of *p, changed without changing the block as
// written.
func clone[T any](p *T) *T {
	c := *p
	return &c
}
