package ldap

import (
	"crypto/tls"
	"errors"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/userbridge/userbridge/internal/upstream"
	"github.com/userbridge/userbridge/mapping/canonical"
)

const maxDiagnostic = 512

// What a call reports to the breaker: errDirectoryFailed counts, the others
// do not.
var (
	errDirectoryFailed = errors.New("ldap: the directory failed")
	errNotSent         = errors.New("ldap: not sent")
)

// resultCode is the LDAP result code of err, 0 when it has none.
func resultCode(err error) uint16 {
	var le *goldap.Error
	if errors.As(err, &le) {
		return le.ResultCode
	}
	return 0
}

// diagnostic is the directory's own words in err (its diagnosticMessage),
// cut short; "" when there are none.
func diagnostic(err error) string {
	var le *goldap.Error
	if !errors.As(err, &le) || le.Err == nil || le.ResultCode >= goldap.ErrorNetwork {
		return ""
	}
	return upstream.Clip(le.Err.Error(), maxDiagnostic)
}

// opError maps the LDAP result of an operation the directory answered.
// fields are the canonical fields the operation wrote, attrs the LDAP
// attribute each was written to (for naming the field of a refusal).
// update says whether the operation changes the entry.
func opError(err error, fields fieldOf) (*canonical.Error, error) {
	code := resultCode(err)
	msg := diagnostic(err)
	e := &canonical.Error{Message: msg}
	switch code {
	case goldap.LDAPResultNoSuchObject:
		e.Code = canonical.NotFound
		e.Message = "no such user"
	case goldap.LDAPResultConstraintViolation, goldap.LDAPResultInvalidAttributeSyntax,
		goldap.LDAPResultObjectClassViolation, goldap.LDAPResultUndefinedAttributeType,
		goldap.LDAPResultNotAllowedOnRDN, goldap.LDAPResultNotAllowedOnNonLeaf,
		goldap.LDAPResultAttributeOrValueExists, goldap.LDAPResultNoSuchAttribute,
		goldap.LDAPResultInappropriateMatching, goldap.LDAPResultNamingViolation:
		e.Code = canonical.InvalidField
		e.Field = fields.named(msg)
		if e.Message == "" {
			e.Message = "the directory refused the value"
		}
	case goldap.LDAPResultEntryAlreadyExists:
		e.Code, e.Field = canonical.Conflict, fields.rename
		e.Message = "another entry already has this name"
	case goldap.LDAPResultInsufficientAccessRights:
		e.Code = canonical.Forbidden
		if e.Message == "" {
			e.Message = "the directory does not allow this change"
		}
	case goldap.LDAPResultUnwillingToPerform:
		e.Code = canonical.Forbidden
		if e.Message == "" {
			e.Message = "the directory is unwilling to make this change"
		}
	case goldap.LDAPResultBusy, goldap.LDAPResultUnavailable:
		e.Code, e.Message = canonical.Unavailable, upstream.GenericMessage(canonical.Unavailable)
		return e, errDirectoryFailed
	case goldap.LDAPResultSizeLimitExceeded:
		e.Code, e.Message = canonical.Conflict, "several directory entries match this user"
	case goldap.LDAPResultTimeLimitExceeded, goldap.LDAPResultAdminLimitExceeded:
		e.Code, e.Message = canonical.GatewayTimeout, "the directory did not answer in time"
		return e, errDirectoryFailed
	default:
		// the directory's own failure (other, operationsError, ...): its
		// words are for the logs, not the caller.
		e.Code, e.Message = canonical.Internal, "the directory failed"
		return e, errDirectoryFailed
	}
	if e.Message == "" {
		e.Message = upstream.GenericMessage(e.Code)
	}
	return e, nil
}

// fieldOf names the canonical field a directory refusal is about.
type fieldOf struct {
	// byAttr maps each LDAP attribute the operation wrote (lower case) to
	// its canonical field.
	byAttr map[string]string
	// rename is the field a ModifyDN changes (username), "" for a Modify.
	rename string
}

// named is the field the refusal names: the only one written, or the one
// whose attribute the directory's diagnostic begins with (OpenLDAP writes
// "<attribute>: ..."). "" when it cannot tell.
func (f fieldOf) named(diag string) string {
	if f.rename != "" {
		return f.rename
	}
	one := ""
	for _, field := range f.byAttr {
		if one != "" && one != field {
			one = ""
			break
		}
		one = field
	}
	if one != "" {
		return one
	}
	if i := strings.IndexAny(diag, ": "); i > 0 {
		if field, ok := f.byAttr[strings.ToLower(diag[:i])]; ok {
			return field
		}
	}
	return ""
}

// dialFailure maps a failure to get a bound connection.
func dialFailure(err error) *canonical.Error {
	var de *dialError
	errors.As(err, &de)
	var cv *tls.CertificateVerificationError
	switch {
	case errors.Is(err, errPoolBusy):
		return canonical.Errorf(canonical.Unavailable, "every connection to the directory (upstream.ldap.poolSize) stayed busy until the deadline; the request was not sent, retry later")
	case errors.Is(err, errTimeout):
		return canonical.Errorf(canonical.GatewayTimeout, "the directory did not answer in time")
	case errors.As(err, &cv):
		return canonical.Errorf(canonical.BadGateway, "the directory's TLS certificate is not trusted")
	case de != nil && de.answered():
		if code := resultCode(err); code == goldap.LDAPResultBusy || code == goldap.LDAPResultUnavailable {
			return canonical.Errorf(canonical.Unavailable, upstream.GenericMessage(canonical.Unavailable))
		}
		if de.stage == "starttls" {
			return canonical.Errorf(canonical.BadGateway, "the directory refused StartTLS")
		}
		return canonical.Errorf(canonical.BadGateway, "the directory refused userbridge's bind (upstream.ldap.bindDN)")
	case de != nil && de.stage == "starttls":
		return canonical.Errorf(canonical.BadGateway, "StartTLS with the directory failed")
	}
	return canonical.Errorf(canonical.BadGateway, "the directory is unreachable")
}
