package auth

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// The inbound modes.
const (
	// ModePassthrough passes the caller's credentials upstream unchanged;
	// the upstream decides. It is the default.
	ModePassthrough = "passthrough"
	// ModeVerify makes userbridge check the caller and call the upstream
	// with its own credentials.
	ModeVerify = "verify"
)

// Config is one dialect's inbound authentication and authorization, the
// `auth` block of a dialect in the configuration file. Secrets are never
// written here: the blocks below name files or environment variables.
type Config struct {
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
	// PS512, ES256, ES384, ES512, EdDSA). Symmetric (HS*) and "none" are
	// never accepted.
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
	// ClockSkew tolerated on exp, nbf and iat (default 30s, at most 5m).
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
	// SelfCannotChange lists the canonical fields a caller allowed only
	// by self may not set or unset (default roles, active, locked,
	// deleted). "extensions" covers every extension, "extensions.<dialect>"
	// one dialect's. An explicit empty list allows every field.
	SelfCannotChange []string `yaml:"selfCannotChange"`
}

// isZero reports whether the policy imposes nothing.
func (p *Policy) isZero() bool {
	return len(p.Roles) == 0 && len(p.Scopes) == 0 && !p.Self && p.SelfCannotChange == nil
}

// Duration is a time.Duration written as "30s" or "1h".
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler (YAML and JSON decoders
// use it).
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 30s or 1h", b)
	}
	*d = Duration(v)
	return nil
}

// UnmarshalYAML implements yaml.Unmarshaler: a bad value is a TypeError
// naming its line, so that the decoder goes on and reports every problem
// of the file.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if err := d.UnmarshalText([]byte(n.Value)); err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Defaults.
const (
	defaultClockSkew       = 30 * time.Second
	maxClockSkew           = 5 * time.Minute
	defaultRefreshInterval = time.Hour
	defaultUsernameClaim   = "preferred_username"
	defaultIDClaim         = "sub"
)

// defaultAlgorithms are the asymmetric JWS algorithms accepted by default;
// they are also the only ones that may be configured.
var defaultAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// defaultSelfCannotChange are the fields that would let a caller raise
// their own privileges or undo their own lock-out.
var defaultSelfCannotChange = []string{"roles", "active", "locked", "deleted"}
