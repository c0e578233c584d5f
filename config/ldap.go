package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// ProfileLDAP sends each update to an LDAP directory (upstream.ldap).
const ProfileLDAP = "ldap"

// LDAP configures profile ldap: upstream.url is the directory's
// ldap://host[:port] or ldaps://host[:port] (docs/upstreams.md, "Profile
// ldap"). upstream.timeout, maxAttempts, idleTimeout, tls and breaker apply
// as to every profile; the TLS settings serve ldaps and StartTLS.
type LDAP struct {
	// BindDN is the service account userbridge binds as (e.g.
	// cn=userbridge,ou=system,dc=example,dc=org). Required.
	BindDN string `yaml:"bindDN"`
	// BindPasswordFile holds its password (a trailing newline is ignored);
	// BindPasswordEnv names an environment variable holding it. Exactly one.
	// The password is never logged.
	BindPasswordFile string `yaml:"bindPasswordFile"`
	BindPasswordEnv  string `yaml:"bindPasswordEnv"`
	// StartTLS upgrades an ldap:// connection before binding (RFC 4511
	// §4.14), with upstream.tls. Not with ldaps://, which is TLS from the start.
	StartTLS bool `yaml:"startTLS"`
	// AllowPlainPassword lets an update set password over ldap:// without
	// StartTLS, where the password would cross the network in clear text.
	// Default false: such an update is refused (invalid_field password).
	AllowPlainPassword bool `yaml:"allowPlainPassword"`
	// BaseDN is where users are searched, the whole subtree (e.g.
	// ou=people,dc=example,dc=org). Required; start-up checks it exists.
	BaseDN string `yaml:"baseDN"`
	// UserFilter is the filter every user entry matches (default
	// (objectClass=inetOrgPerson)). A user is the entry that matches it and
	// (IDAttribute=<id>) or (UsernameAttribute=<username>), the value
	// escaped (RFC 4515).
	UserFilter string `yaml:"userFilter"`
	// IDAttribute is the attribute a user's id is (default entryUUID; e.g.
	// employeeNumber). It is read back as the canonical id.
	IDAttribute string `yaml:"idAttribute"`
	// UsernameAttribute is the attribute a username is (default uid; AD:
	// sAMAccountName). When it is also the entry's RDN attribute, a new
	// username renames the entry (ModifyDN); otherwise it is replaced.
	UsernameAttribute string `yaml:"usernameAttribute"`
	// Attributes maps canonical fields to LDAP attributes, laid over the
	// inetOrgPerson defaults (DefaultLDAPAttributes): a field to one
	// attribute or a list (each written, the first read back), or to []
	// to refuse it. Keys: password, email, givenName, familyName,
	// displayName, phone, mobile, organization, address (postalAddress
	// syntax, RFC 4517), deleted, attributes (the object as JSON text) and
	// extensions.<dialect>.<name> (the value as JSON text). A field with no
	// attribute is refused with invalid_field, never dropped.
	Attributes map[string]AttrList `yaml:"attributes"`
	// Active and Locked map the canonical booleans to an attribute (default
	// Locked: ppolicy's pwdAccountLockedTime; Active: none). An empty block
	// ({}) maps none: an update that sets or unsets the field is refused,
	// and the user is answered without it. Both may name one attribute, by
	// values (OpenLDAP: active true "", false 000001010000Z): an update that
	// asks it for two values is refused.
	Active *LDAPFlag `yaml:"active"`
	Locked *LDAPFlag `yaml:"locked"`
	// Groups makes roles group membership; without Groups.BaseDN, roles
	// are refused.
	Groups LDAPGroups `yaml:"groups"`
	// PoolSize is the most connections open to the directory (default 4).
	// A call that finds them all busy waits for one within its timeout.
	PoolSize int `yaml:"poolSize"`
}

// AttrList is one LDAP attribute or several; YAML takes a name or a list.
type AttrList []string

// UnmarshalYAML accepts a scalar or a sequence of names.
func (a *AttrList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*a = AttrList{n.Value}
		if n.Value == "" {
			*a = AttrList{}
		}
		return nil
	}
	var list []string
	if err := n.Decode(&list); err != nil {
		return err
	}
	*a = list
	return nil
}

// LDAPFlag maps a canonical boolean to an attribute: either two values
// (True, False; "" removes the attribute, so that its absence reads as
// that value and any other value as the other), or Bit of an integer
// attribute (AD's userAccountControl).
type LDAPFlag struct {
	// Attribute holds the flag.
	Attribute string `yaml:"attribute"`
	// True and False are the values written for true and false; "" removes
	// the attribute.
	True  string `yaml:"true"`
	False string `yaml:"false"`
	// Bit, when set, is a mask of the integer Attribute whose bit is the
	// flag (e.g. 2, ACCOUNTDISABLE); the other bits are kept. Set means
	// true unless Inverted (AD's active: bit 2 set means not active).
	Bit      int64 `yaml:"bit"`
	Inverted bool  `yaml:"inverted"`
}

// LDAPGroups makes roles the groups a user is a member of.
type LDAPGroups struct {
	// BaseDN is where the groups are (e.g. ou=groups,dc=example,dc=org).
	BaseDN string `yaml:"baseDN"`
	// Filter is what every group matches (default
	// (|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))).
	Filter string `yaml:"filter"`
	// MemberAttribute holds the members' DNs (default member; or
	// uniqueMember).
	MemberAttribute string `yaml:"memberAttribute"`
	// NameAttribute is a role's name (default cn); IDAttribute a role's id
	// (default entryUUID).
	NameAttribute string `yaml:"nameAttribute"`
	IDAttribute   string `yaml:"idAttribute"`
}

// Profile ldap's defaults.
const (
	DefaultLDAPUserFilter        = "(objectClass=inetOrgPerson)"
	DefaultLDAPIDAttribute       = "entryUUID"
	DefaultLDAPUsernameAttribute = "uid"
	DefaultLDAPGroupFilter       = "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))"
	DefaultLDAPPoolSize          = 4
	// LDAPLockedForever is ppolicy's pwdAccountLockedTime that locks until
	// an administrator unlocks.
	LDAPLockedForever = "000001010000Z"
)

// DefaultLDAPAttributes is inetOrgPerson's (RFC 2798) mapping.
func DefaultLDAPAttributes() map[string]AttrList {
	return map[string]AttrList{
		"password": {"userPassword"}, "email": {"mail"}, "givenName": {"givenName"}, "familyName": {"sn"},
		"displayName": {"displayName", "cn"}, "phone": {"telephoneNumber"}, "mobile": {"mobile"},
		"organization": {"o"}, "address": {"postalAddress"},
	}
}

// WithDefaults returns l with every unset key at its default and the
// attribute map laid over DefaultLDAPAttributes.
func (l LDAP) WithDefaults() LDAP {
	setDefault(&l.UserFilter, DefaultLDAPUserFilter)
	setDefault(&l.IDAttribute, DefaultLDAPIDAttribute)
	setDefault(&l.UsernameAttribute, DefaultLDAPUsernameAttribute)
	setDefault(&l.PoolSize, DefaultLDAPPoolSize)
	attrs := DefaultLDAPAttributes()
	for k, v := range l.Attributes {
		attrs[k] = v
	}
	l.Attributes = attrs
	if l.Locked == nil {
		l.Locked = &LDAPFlag{Attribute: "pwdAccountLockedTime", True: LDAPLockedForever}
	}
	g := &l.Groups
	setDefault(&g.Filter, DefaultLDAPGroupFilter)
	setDefault(&g.MemberAttribute, "member")
	setDefault(&g.NameAttribute, "cn")
	setDefault(&g.IDAttribute, "entryUUID")
	return l
}

// Maps reports whether the flag names an attribute.
func (f *LDAPFlag) Maps() bool { return f != nil && f.Attribute != "" }

// IsZero reports an ldap block left out.
func (l LDAP) IsZero() bool {
	return l.BindDN == "" && l.BindPasswordFile == "" && l.BindPasswordEnv == "" && !l.StartTLS &&
		!l.AllowPlainPassword && l.BaseDN == "" && l.UserFilter == "" && l.IDAttribute == "" &&
		l.UsernameAttribute == "" && l.Attributes == nil && l.Active == nil && l.Locked == nil &&
		l.Groups == (LDAPGroups{}) && l.PoolSize == 0
}

var (
	attrName     = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)$`)
	mappedFields = map[string]bool{"password": true, "email": true, "givenName": true, "familyName": true,
		"displayName": true, "phone": true, "mobile": true, "organization": true, "address": true,
		"deleted": true, "attributes": true}
)

// Check reports every problem of the ldap keys, each a *KeyError, joined;
// nil when there is none. Unset keys take their defaults. url is
// upstream.url, checked by LDAPURL.
func (l LDAP) Check(rawURL string) error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &KeyError{Key: "upstream.ldap." + key, Problem: fmt.Sprintf(format, args...)})
	}
	u, err := LDAPURL(rawURL)
	if err != nil {
		errs = append(errs, err)
	}
	if l.BindDN == "" {
		bad("bindDN", "required: the DN userbridge binds as")
	}
	if (l.BindPasswordFile == "") == (l.BindPasswordEnv == "") {
		bad("bindPasswordFile", "exactly one of bindPasswordFile and bindPasswordEnv")
	} else if _, err := l.BindPassword(); err != nil {
		errs = append(errs, err)
	}
	if u != nil && u.Scheme == "ldaps" && l.StartTLS {
		bad("startTLS", "an ldaps:// URL is TLS from the start; StartTLS is for ldap://")
	}
	if l.BaseDN == "" {
		bad("baseDN", "required: where the users are")
	}
	for key, f := range map[string]string{"userFilter": l.UserFilter, "groups.filter": l.Groups.Filter} {
		if f != "" && (!strings.HasPrefix(f, "(") || !strings.HasSuffix(f, ")")) {
			bad(key, "%q is not a filter in parentheses, such as %s", f, DefaultLDAPUserFilter)
		}
	}
	for key, a := range map[string]string{"idAttribute": l.IDAttribute, "usernameAttribute": l.UsernameAttribute,
		"groups.memberAttribute": l.Groups.MemberAttribute, "groups.nameAttribute": l.Groups.NameAttribute,
		"groups.idAttribute": l.Groups.IDAttribute} {
		if a != "" && !attrName.MatchString(a) {
			bad(key, "%q is not an attribute name", a)
		}
	}
	for field, list := range l.Attributes {
		if !mappedFields[field] && !isExtensionKey(field) {
			bad("attributes."+field, "not a field this map takes: password, email, givenName, familyName, displayName, phone, mobile, organization, address, deleted, attributes or extensions.<dialect>.<name> (username, active, locked and roles have keys of their own)")
		}
		for _, a := range list {
			if !attrName.MatchString(a) {
				bad("attributes."+field, "%q is not an attribute name", a)
			}
		}
	}
	for key, f := range map[string]*LDAPFlag{"active": l.Active, "locked": l.Locked} {
		switch {
		case f == nil || *f == (LDAPFlag{}):
		case !attrName.MatchString(f.Attribute):
			bad(key+".attribute", "%q is not an attribute name", f.Attribute)
		case f.Bit < 0:
			bad(key+".bit", "must be a positive mask")
		case f.Bit > 0 && (f.True != "" || f.False != ""):
			bad(key, "bit, or true and false, not both")
		case f.Bit == 0 && f.True == f.False:
			bad(key, "true and false must differ (\"\" removes the attribute)")
		}
	}
	if a, k := l.Active, l.Locked; a.Maps() && k.Maps() && strings.EqualFold(a.Attribute, k.Attribute) && (a.Bit > 0 || k.Bit > 0) {
		bad("active", "shares its attribute %s with locked: only as values (true, false), not as a bit", a.Attribute)
	}
	if l.PoolSize < 0 || l.PoolSize > 64 {
		bad("poolSize", "%d: from 1 to 64", l.PoolSize)
	}
	return errors.Join(errs...)
}

// isExtensionKey is extensions.<dialect>.<name>.
func isExtensionKey(s string) bool {
	parts := strings.Split(s, ".")
	return len(parts) == 3 && parts[0] == "extensions" && parts[1] != "" && parts[2] != ""
}

// BindPassword reads the bind password from its file or environment
// variable. Its error names the key, never the password.
func (l LDAP) BindPassword() (string, error) {
	if l.BindPasswordEnv != "" {
		v, ok := os.LookupEnv(l.BindPasswordEnv)
		if !ok || v == "" {
			return "", &KeyError{Key: "upstream.ldap.bindPasswordEnv", Problem: l.BindPasswordEnv + " is not set"}
		}
		return v, nil
	}
	b, err := os.ReadFile(l.BindPasswordFile)
	if err != nil {
		return "", &KeyError{Key: "upstream.ldap.bindPasswordFile", Problem: err.Error()}
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if pw == "" {
		return "", &KeyError{Key: "upstream.ldap.bindPasswordFile", Problem: l.BindPasswordFile + " is empty"}
	}
	return pw, nil
}

// LDAPURL parses and checks profile ldap's upstream.url: ldap or ldaps, a
// host, nothing else (no credentials, base DN, query or fragment: the
// base DN is upstream.ldap.baseDN).
func LDAPURL(raw string) (*url.URL, error) {
	bad := func(problem string) (*url.URL, error) {
		return nil, &KeyError{Key: "upstream.url", Problem: problem}
	}
	if raw == "" {
		return bad("required: the directory's ldap:// or ldaps:// URL")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return bad("not a valid URL")
	case u.Scheme != "ldap" && u.Scheme != "ldaps":
		return bad("profile ldap needs an ldap:// or ldaps:// URL")
	case u.Hostname() == "":
		return bad("has no host")
	case u.User != nil:
		return bad("must not carry credentials; use upstream.ldap.bindDN and its password")
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return bad("must be ldap[s]://host[:port] alone; the base DN is upstream.ldap.baseDN")
	}
	return u, nil
}

// ldapTLS reports whether an ldap upstream at u talks TLS (ldaps, or
// StartTLS), so that upstream.tls applies.
func (u Upstream) ldapTLS(base *url.URL) bool {
	return u.Profile == ProfileLDAP && (base.Scheme == "ldaps" || u.LDAP.StartTLS)
}

// ClearText is what an ldap upstream sends over the network in clear text,
// for start-up, validate and reload to warn of (docs/upstreams.md,
// "Connections"), each a *KeyError naming the key that would end it: over
// ldap:// without StartTLS, the bind password (upstream.ldap.startTLS) and,
// with AllowPlainPassword, the passwords clients set
// (upstream.ldap.allowPlainPassword). Nothing over TLS, to a loopback host
// (an address of 127.0.0.0/8 or ::1, or localhost: nothing leaves the
// machine), or for another profile. u is as written (the URL checked by
// LDAPURL); a URL LDAPURL refuses gives nothing: it is a problem already.
func (u Upstream) ClearText() []*KeyError {
	if u.Profile != ProfileLDAP || u.LDAP.StartTLS {
		return nil
	}
	base, err := LDAPURL(u.URL)
	if err != nil || base.Scheme != "ldap" || isLoopback(base.Hostname()) {
		return nil
	}
	out := []*KeyError{{Key: "upstream.ldap.startTLS", Problem: "the directory at " + base.Host +
		" is reached over ldap:// without StartTLS: the bind password crosses the network in clear text (set startTLS: true, or use ldaps://)"}}
	if u.LDAP.AllowPlainPassword {
		out = append(out, &KeyError{Key: "upstream.ldap.allowPlainPassword", Problem: "true: a password a client sets crosses the network to the directory at " +
			base.Host + " in clear text"})
	}
	return out
}

// isLoopback reports a host that names this machine's loopback interface.
// A name other than localhost is not resolved: it may name another host
// tomorrow.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
