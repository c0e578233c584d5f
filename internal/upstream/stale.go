package upstream

import (
	"errors"
	"net"
	"syscall"
	"time"
)

// A keep-alive connection the upstream closed while it sat in the pool
// (its own idle timeout, a restart) must not fail the next request sent on
// it: that request would meet EOF or a reset and, being an update that may
// have been applied, could not be retried. net/http's Transport resends
// such a request itself; fasthttp's pool cannot tell a reused connection
// from a new one, so userbridge's fast transport checks a connection that
// has been idle before writing on it: a read that does not wait and does
// not consume (recv with MSG_PEEK|MSG_DONTWAIT) says whether the upstream
// has closed it (or sent something unasked, which leaves it unusable too).
// A connection found so is never written on: the request provably did not
// reach the upstream, and the transport sends it on another connection.

// idleCheckAfter is how long a pooled connection must have been idle before
// it is checked. An upstream closes an idle connection after its own
// keep-alive timeout (seconds: 5 s for Node.js, 75 s for nginx), so one
// reused sooner cannot have been closed for idleness; under load every
// connection is reused within milliseconds and none is checked. The check
// is one recv system call (about a microsecond).
const idleCheckAfter = 10 * time.Millisecond

// errStale reports a pooled connection found closed by the upstream before
// a request was written on it.
var errStale = errors.New("upstream: a pooled connection was closed by the upstream while idle")

// pooledConn is a TCP connection of the fast transport's pool (under TLS,
// when the upstream is https: the check reads the TCP stream without
// consuming it, so the TLS records stay whole).
type pooledConn struct {
	net.Conn
	raw       syscall.RawConn // nil: not a connection that can be checked
	lastWrite time.Time       // zero before the first write
}

func newPooledConn(c net.Conn) *pooledConn {
	p := &pooledConn{Conn: c}
	if sc, ok := c.(syscall.Conn); ok {
		p.raw, _ = sc.SyscallConn()
	}
	return p
}

func (c *pooledConn) Write(b []byte) (int, error) {
	now := time.Now()
	if c.raw != nil && !c.lastWrite.IsZero() && now.Sub(c.lastWrite) >= idleCheckAfter && peerClosed(c.raw) {
		return 0, errStale
	}
	c.lastWrite = now
	return c.Conn.Write(b)
}

// stale reports whether err says a request was not written because its
// pooled connection had been closed by the upstream.
func stale(err error) bool { return errors.Is(err, errStale) }
