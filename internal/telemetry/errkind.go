package telemetry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/sony/gobreaker/v2"
)

// ErrorKind names what err is for a log line, in a fixed vocabulary:
// "dial: connection refused", "read: connection reset by peer", "timeout",
// "tls: certificate not trusted", "connection closed (EOF)", … It never
// returns err's own text, which may quote what a peer sent: net/http's
// parse errors quote a malformed request or reply line (and an upstream may echo the request's
// credentials in it), go-retryablehttp's name the URL. What is returned is
// built from the error's type and sentinel identity alone (an errno's text
// is the operating system's fixed table); an error of no kind known here
// is "other" with its Go type. A KindedError (an upstream profile's own,
// such as an LDAP result's "bind: invalid credentials") names itself, in
// words as fixed as these; no other error does. "" for nil.
func ErrorKind(err error) string {
	if err == nil {
		return ""
	}
	kind := errorKind(err)
	var op *net.OpError
	if errors.As(err, &op) && op.Op != "" && isWord(op.Op) {
		return op.Op + ": " + kind // "dial", "read", "write", "remote error"
	}
	return kind
}

// Kind is an error's kind in userbridge's own fixed words, as ErrorKind
// gives it: never anything a peer sent, a URL or a secret.
type Kind string

// KindedError is an error of userbridge's own that names its kind on
// access lines and traces (ErrorKind) rather than being named by its type:
// an upstream profile's (LDAP's result errors, SCIM's discovery errors).
// Its method returns a Kind, a type of this package, so that only
// userbridge's errors are taken at their word: another module's error
// with a Kind method of its own is named as any other error is.
type KindedError interface {
	error
	// ErrorKind is the error's kind for ErrorKind.
	ErrorKind() Kind
}

func errorKind(err error) string {
	var (
		errno  syscall.Errno
		dns    *net.DNSError
		cert   *tls.CertificateVerificationError
		record tls.RecordHeaderError
		alert  tls.AlertError
		ne     net.Error
	)
	var kinded KindedError
	switch {
	case errors.As(err, &kinded):
		return string(kinded.ErrorKind()) // userbridge's own, in a fixed vocabulary
	case errors.Is(err, gobreaker.ErrOpenState):
		return "circuit breaker open"
	case errors.Is(err, gobreaker.ErrTooManyRequests):
		return "circuit breaker half-open: trial calls exhausted"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &cert):
		return "tls: certificate not trusted"
	case errors.As(err, &record):
		return "tls: the peer does not speak TLS"
	case errors.As(err, &alert):
		return "tls: alert"
	case errors.As(err, &dns):
		switch {
		case dns.IsNotFound:
			return "dns: no such host"
		case dns.IsTimeout:
			return "dns: timeout"
		}
		return "dns: lookup failed"
	case errors.As(err, &errno):
		return errno.Error() // the OS's table: "connection refused", "broken pipe", …
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed mid-message (unexpected EOF)"
	case errors.Is(err, io.EOF):
		return "connection closed (EOF)"
	case errors.Is(err, net.ErrClosed):
		return "use of a closed connection"
	}
	for {
		next := errors.Unwrap(err)
		if next == nil {
			break
		}
		err = next
	}
	return fmt.Sprintf("other (%T)", err)
}

// isWord reports a short lower-case word (a net.OpError's Op is one of
// Go's own: "dial", "read", "remote error", …).
func isWord(s string) bool {
	if len(s) > 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && c != ' ' {
			return false
		}
	}
	return true
}
