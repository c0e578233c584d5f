//go:build !unix

package upstream

import "syscall"

// peerClosed cannot look at a connection without consuming from it here:
// pooled connections are not checked (a request on one the upstream closed
// fails as it would without the check).
func peerClosed(syscall.RawConn) bool { return false }
