//go:build unix

package upstream

import "syscall"

// peerClosed reports whether the connection has something to read between
// exchanges: end of stream, a reset, or bytes the upstream sent unasked.
// Nothing is consumed and the call never waits.
func peerClosed(rc syscall.RawConn) bool {
	var b [1]byte
	closed := false
	err := rc.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// Open and quiet, as a keep-alive connection is between exchanges:
		// nothing to read yet. Anything else (0 bytes: end of stream; some
		// bytes: sent unasked; an error: a reset) leaves it unusable.
		quiet := err == syscall.EAGAIN || err == syscall.EWOULDBLOCK || err == syscall.EINTR
		closed = !quiet
		return true // done: never wait for readiness
	})
	return closed || err != nil
}
