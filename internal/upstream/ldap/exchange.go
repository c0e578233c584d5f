package ldap

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/userbridge/userbridge/internal/upstream"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// minAttempt is the least time worth starting another attempt with.
const minAttempt = 50 * time.Millisecond

// outcome is what one exchange came to: nil errors on success; cerr when
// the directory gave no usable answer (unreachable, too slow, the
// connection cut, the breaker open); result when it answered with an LDAP
// error result, for the caller to map (it knows the fields).
type outcome struct {
	attempts int
	cerr     *canonical.Error
	result   error
	cause    error // for logs: the underlying failure
}

// exchange runs f on a pooled connection by the deadline, for user: one
// call through the breaker (upstream.Breaker, the HTTP profiles' own),
// which counts what it came to (verdictOf). A search (idempotent) is
// retried after any failure without a result, and after busy or
// unavailable; an operation that changes the entry only when it provably
// was not sent: no bound connection could be had (refused, unreachable,
// StartTLS or a bind that failed on the way). Once handed to a connection
// it is never sent again.
//
// held is the call's connection: the exchange uses it (or gets one from
// the pool) and leaves it there unless it failed without an answer, so that
// the exchanges of one call, a search then the Modify, go on one connection
// that has just answered.
func (c *Client) exchange(user upstream.UserRef, deadline time.Time, idempotent bool, held **conn, f func(*conn) error) outcome {
	var o outcome
	paused, cause := c.breaker.Run(user, func() error {
		var verdict error
		o, verdict = c.attempts(deadline, idempotent, held, f)
		return verdict
	})
	if paused != nil {
		return outcome{cerr: paused, cause: fmt.Errorf("ldap: %w", cause)}
	}
	return o
}

// attempts makes the attempts of one exchange. verdict is what the
// breaker counts.
func (c *Client) attempts(deadline time.Time, idempotent bool, held **conn, f func(*conn) error) (o outcome, verdict error) {
	for {
		o.attempts++
		retry := false
		cn, err := *held, error(nil)
		if cn != nil && cn.IsClosing() {
			// closed since the last exchange (the directory hung up): nothing
			// goes on it, another one is had
			c.pool.put(cn, false)
			cn, *held = nil, nil
		}
		if cn == nil {
			cn, err = c.pool.get(deadline)
		}
		if err != nil {
			o.cause, o.cerr, verdict = describe(err), dialFailure(err), verdictOf(err)
			if errors.Is(err, errPoolBusy) {
				o.attempts--      // not sent: no attempt
				return o, verdict // userbridge's own cap: the directory did not fail
			}
			if !time.Now().Before(deadline) {
				// a connect, StartTLS or bind the deadline cut short
				// (the library's timeout has its own error text)
				o.cause = describe(fmt.Errorf("%w: %w", errTimeout, err))
				o.cerr = canonical.Errorf(canonical.GatewayTimeout, "the directory did not answer in time")
			}
			var de *dialError
			var cv *tls.CertificateVerificationError
			// nothing of the call was sent: a connection that could not be
			// made or bound for want of an answer may be tried again; a
			// refused bind or certificate will be refused again.
			retry = errors.As(err, &de) && !de.answered() && !errors.As(err, &cv) && !errors.Is(err, errTimeout)
		} else if left := time.Until(deadline); left <= 0 {
			// nothing sent: a request without time left would wait
			// without a timeout (the library's 0)
			*held = cn
			o.attempts-- // not sent: no attempt
			o.result, o.cause = nil, describe(errTimeout)
			o.cerr = canonical.Errorf(canonical.GatewayTimeout, "the directory did not answer in time")
			return o, verdictOf(errTimeout)
		} else {
			cn.SetTimeout(left)
			err = f(cn)
			code := resultCode(err)
			switch {
			case err == nil:
				*held = cn
				return outcome{attempts: o.attempts}, nil
			case code != 0 && code < goldap.ErrorNetwork:
				// The directory answered.
				*held = cn
				o.cerr, o.result, o.cause, verdict = nil, err, describe(err), verdictOf(err)
				retry = idempotent && (code == goldap.LDAPResultBusy || code == goldap.LDAPResultUnavailable)
			default:
				// No answer: the connection's state is unknown.
				c.pool.put(cn, false)
				*held = nil
				o.result, o.cause, verdict = nil, describe(err), verdictOf(err)
				switch {
				case !time.Now().Before(deadline):
					// the library's timeout (its own error text): the deadline's
					o.cause = describe(fmt.Errorf("%w: %w", errTimeout, err))
					o.cerr = canonical.Errorf(canonical.GatewayTimeout, maybeApplied("the directory did not answer in time", idempotent))
				default:
					o.cerr = canonical.Errorf(canonical.BadGateway, maybeApplied("the directory closed the connection without answering", idempotent))
					retry = idempotent
				}
			}
		}
		if !retry || o.attempts >= c.maxAttempts {
			return o, verdict
		}
		wait := jitter(o.attempts)
		if time.Until(deadline) < wait+minAttempt {
			return o, verdict
		}
		time.Sleep(wait)
	}
}

// maybeApplied warns, for an operation that changes the entry, that its
// fate is unknown.
func maybeApplied(msg string, idempotent bool) string {
	if idempotent {
		return msg
	}
	return msg + "; the update may have been applied"
}
