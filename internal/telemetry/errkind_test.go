package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
)

// ErrorKind names errors by what they are, never by their text: the
// secret each error quotes stays out.
func TestErrorKind(t *testing.T) {
	const secret = "Authorization: Basic S3CRET"
	quoted := fmt.Errorf("error when reading response headers: %w: contents: %q", errors.New("bad line "+secret), secret)
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{&net.OpError{Op: "dial", Net: "tcp", Err: &syscallErr{syscall.ECONNREFUSED}}, "dial: connection refused"},
		{&url.Error{Op: "Patch", URL: "http://h/users/" + secret, Err: &net.OpError{Op: "read", Err: syscall.ECONNRESET}},
			"read: connection reset by peer"},
		{fmt.Errorf("upstream: %w", context.DeadlineExceeded), "timeout"},
		{fmt.Errorf("upstream: %w", io.EOF), "connection closed (EOF)"},
		{fmt.Errorf("upstream: %w", io.ErrUnexpectedEOF), "connection closed mid-message (unexpected EOF)"},
		{fmt.Errorf("upstream: %w", gobreaker.ErrOpenState), "circuit breaker open"},
		{&net.DNSError{Name: secret, IsNotFound: true}, "dns: no such host"},
		{timeoutErr{}, "timeout"},
		{quoted, "other (*errors.errorString)"},
		{&net.OpError{Op: "read " + secret, Err: quoted}, "other (*errors.errorString)"},
	} {
		got := ErrorKind(c.err)
		if got != c.want {
			t.Errorf("ErrorKind(%v) = %q, want %q", c.err, got, c.want)
		}
		if strings.Contains(got, "S3CRET") {
			t.Errorf("ErrorKind quotes the error: %q", got)
		}
	}
}

// syscallErr is an *os.SyscallError look-alike: an errno under a wrapper.
type syscallErr struct{ err error }

func (e *syscallErr) Error() string { return "connect: " + e.err.Error() }
func (e *syscallErr) Unwrap() error { return e.err }

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o " + time.Second.String() }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// foreignKind is another module's error that happens to have a Kind
// method: it quotes what a peer sent.
type foreignKind struct{ said string }

func (e *foreignKind) Error() string { return "peer said " + e.said }
func (e *foreignKind) Kind() string  { return "peer said " + e.said }

// ownKind is one of userbridge's own kind-carrying errors.
type ownKind struct{}

func (ownKind) Error() string   { return "ldap: bind: result 49 (Invalid Credentials)" }
func (ownKind) ErrorKind() Kind { return "bind: invalid credentials" }

// TestErrorKindOnlyOwn: only userbridge's own errors (KindedError) name
// themselves; any other with a Kind method is named by its type, as any
// error is (it named itself: a peer's words on the access line).
func TestErrorKindOnlyOwn(t *testing.T) {
	const secret = "Authorization: Basic S3CRET"
	if got := ErrorKind(fmt.Errorf("call: %w", &foreignKind{secret})); got != "other (*telemetry.foreignKind)" {
		t.Errorf("a foreign Kind method: %q", got)
	}
	if got := ErrorKind(fmt.Errorf("call: %w", ownKind{})); got != "bind: invalid credentials" {
		t.Errorf("userbridge's own: %q", got)
	}
}
