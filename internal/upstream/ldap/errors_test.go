package ldap

import (
	"crypto/tls"
	"errors"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/userbridge/userbridge/internal/upstream"
)

// TestVerdictOf: what each way an exchange can end counts as for the
// breaker. Against the directory: no bound connection, busy, unavailable.
// Against the call's user: no answer once sent (a timeout on one search or
// Modify, the connection cut), a limit one search reached, the
// directory's own failure for one entry (other, operationsError). Never: a
// result about the update. (slapd cannot be made to answer other or
// operationsError for one entry; breaker_test.go reaches the timeout and
// the cut for real, through a proxy.)
func TestVerdictOf(t *testing.T) {
	result := func(code uint16) error { return goldap.NewError(code, errors.New("diagnostic")) }
	network := goldap.NewError(goldap.ErrorNetwork, errors.New("ldap: connection timed out"))
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"success", nil, nil},

		{"refused", &dialError{"connect", goldap.NewError(goldap.ErrorNetwork, errors.New("connection refused"))}, upstream.ErrUpstreamDown},
		{"dial timeout", &dialError{"connect", network}, upstream.ErrUpstreamDown},
		{"untrusted certificate", &dialError{"connect", goldap.NewError(goldap.ErrorNetwork, &tls.CertificateVerificationError{})}, upstream.ErrUpstreamDown},
		{"StartTLS refused", &dialError{"starttls", result(goldap.LDAPResultProtocolError)}, upstream.ErrUpstreamDown},
		{"StartTLS unanswered", &dialError{"starttls", network}, upstream.ErrUpstreamDown},
		{"bind refused", &dialError{"bind", result(goldap.LDAPResultInvalidCredentials)}, upstream.ErrUpstreamDown},
		{"bind unanswered", &dialError{"bind", network}, upstream.ErrUpstreamDown},
		{"bind busy", &dialError{"bind", result(goldap.LDAPResultBusy)}, upstream.ErrUpstreamDown},
		{"busy", result(goldap.LDAPResultBusy), upstream.ErrUpstreamDown},
		{"unavailable", result(goldap.LDAPResultUnavailable), upstream.ErrUpstreamDown},

		{"timeout once sent", network, upstream.ErrUpstreamFailed},
		{"connection closed once sent", goldap.NewError(goldap.ErrorNetwork, errors.New("ldap: connection closed")), upstream.ErrUpstreamFailed},
		{"no time left for this exchange", errTimeout, upstream.ErrUpstreamFailed},
		{"no time left to dial", &dialError{"connect", errTimeout}, upstream.ErrUpstreamFailed},
		{"timeLimitExceeded", result(goldap.LDAPResultTimeLimitExceeded), upstream.ErrUpstreamFailed},
		{"adminLimitExceeded", result(goldap.LDAPResultAdminLimitExceeded), upstream.ErrUpstreamFailed},
		{"other", result(goldap.LDAPResultOther), upstream.ErrUpstreamFailed},
		{"operationsError", result(goldap.LDAPResultOperationsError), upstream.ErrUpstreamFailed},

		{"pool busy", errPoolBusy, upstream.ErrNotSent},

		{"noSuchObject", result(goldap.LDAPResultNoSuchObject), nil},
		{"constraintViolation", result(goldap.LDAPResultConstraintViolation), nil},
		{"invalidAttributeSyntax", result(goldap.LDAPResultInvalidAttributeSyntax), nil},
		{"objectClassViolation", result(goldap.LDAPResultObjectClassViolation), nil},
		{"insufficientAccessRights", result(goldap.LDAPResultInsufficientAccessRights), nil},
		{"unwillingToPerform", result(goldap.LDAPResultUnwillingToPerform), nil},
		{"entryAlreadyExists", result(goldap.LDAPResultEntryAlreadyExists), nil},
		{"sizeLimitExceeded", result(goldap.LDAPResultSizeLimitExceeded), nil},
		{"attributeOrValueExists", result(goldap.LDAPResultAttributeOrValueExists), nil},
	} {
		if got := verdictOf(tc.err); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
