package ldap

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/sony/gobreaker/v2"

	"github.com/userbridge/userbridge/config"
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

// exchange runs f on a pooled connection by the deadline. A search
// (idempotent) is retried after any failure without a result, and after
// busy or unavailable; an operation that changes the entry only when it
// provably was not sent: no bound connection could be had (refused,
// unreachable, StartTLS or a bind that failed on the way). Once handed to
// a connection it is never sent again.
//
// held is the call's connection: the exchange uses it (or gets one from
// the pool) and leaves it there unless it failed without an answer, so that
// the exchanges of one call, a search then the Modify, go on one connection
// that has just answered.
func (c *Client) exchange(deadline time.Time, idempotent bool, held **conn, f func(*conn) error) outcome {
	if c.breaker == nil {
		o, _ := c.attempts(deadline, idempotent, held, f)
		return o
	}
	var o outcome
	_, err := c.breaker.Execute(func() (struct{}, error) {
		var verdict error
		o, verdict = c.attempts(deadline, idempotent, held, f)
		return struct{}{}, verdict
	})
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		e := canonical.Errorf(canonical.Unavailable, "the directory is failing; calls to it are paused, retry later")
		e.RetryAfter = c.pausedFor()
		return outcome{cerr: e, cause: fmt.Errorf("ldap: %w", err)}
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
			o.cause, o.cerr = describe(err), dialFailure(err)
			if errors.Is(err, errPoolBusy) {
				o.attempts--  // not sent: no attempt
				return o, nil // userbridge's own cap: the directory did not fail
			}
			if !time.Now().Before(deadline) {
				o.cerr = canonical.Errorf(canonical.GatewayTimeout, "the directory did not answer in time")
			}
			verdict = errDirectoryFailed
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
			return o, errDirectoryFailed
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
				o.cerr, o.result, o.cause = nil, err, describe(err)
				verdict = nil
				if _, v := opError(err, fieldOf{}); v != nil {
					verdict = v
					retry = idempotent && (code == goldap.LDAPResultBusy || code == goldap.LDAPResultUnavailable)
				}
			default:
				// No answer: the connection's state is unknown.
				c.pool.put(cn, false)
				*held = nil
				o.result, o.cause, verdict = nil, describe(err), errDirectoryFailed
				switch {
				case !time.Now().Before(deadline):
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

func newBreaker(cfg config.Breaker, name string, openedAt *atomic.Int64) *gobreaker.CircuitBreaker[struct{}] {
	failures := cfg.Failures
	if failures == 0 {
		failures = config.DefaultBreakerFailures
	}
	openFor := cfg.OpenFor.D()
	if openFor == 0 {
		openFor = config.DefaultBreakerOpenFor
	}
	return gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: 1,
		Timeout:     openFor,
		ReadyToTrip: func(n gobreaker.Counts) bool { return n.ConsecutiveFailures >= failures },
		OnStateChange: func(_ string, _, to gobreaker.State) {
			if to == gobreaker.StateOpen {
				openedAt.Store(time.Now().UnixNano())
			}
		},
	})
}

// pausedFor is the Retry-After of a call the breaker refused.
func (c *Client) pausedFor() string {
	left := c.openFor - time.Since(time.Unix(0, c.openedAt.Load()))
	if left < time.Second {
		return "1"
	}
	return strconv.FormatInt(int64((left+time.Second-1)/time.Second), 10)
}
