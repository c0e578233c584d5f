package server

import (
	"strings"
	"time"
)

// Observer is told what each request came to: telemetry.Metrics implements
// it. Every value it receives is bounded: dialect names, route templates,
// statuses, methods and field names from the rule files; never a user id, a
// username or a credential. Its methods must be safe for concurrent use and
// fast: they run on the request path.
type Observer interface {
	// Request is called once per answered request. dialect is "none" and
	// route "unmatched" when no dialect serves it, route "unreadable" when
	// net/http's server refused it before any handler ran (front.go);
	// route is "unmatched" under a dialect that answered a request no route
	// matched in its envelope, "relayed" under a dialect in shadow mode
	// whose vendor answered it (relay.go).
	Request(dialect, route string, status int, elapsed time.Duration)
	// Upstream is called once per upstream call (a GET or a PATCH, each
	// possibly several attempts); status is the upstream's last status, 0
	// when it never answered.
	Upstream(dialect, method string, status, attempts int, elapsed time.Duration)
	// Invalid is called when a request is refused for one of its fields;
	// field is a name the dialect's rules know, or "other".
	Invalid(dialect, field string)
	// InvalidAnswer is called when an upstream's answer is refused for not
	// being the canonical user the call addressed; fault is one of
	// canonical.AnswerFaults.
	InvalidAnswer(dialect, fault string)
}

type noObserver struct{}

func (noObserver) Request(string, string, int, time.Duration)       {}
func (noObserver) Upstream(string, string, int, int, time.Duration) {}
func (noObserver) Invalid(string, string)                           {}
func (noObserver) InvalidAnswer(string, string)                     {}

// Label values of requests no dialect serves, and of unknown fields.
const (
	noDialect  = "none"
	unmatched  = "unmatched"
	unreadable = "unreadable"
	otherField = "other"
)

// fieldLabel bounds a refused field's name to the names the rules know: the
// name itself, else its longest known dotted prefix ("tags.<key>" → "tags"),
// else "other". The label is known's own string, never field's: a label
// value is kept for good, and field may be a view of the request's body.
func fieldLabel(known map[string]string, field string) string {
	for f := field; f != ""; {
		if name, ok := known[f]; ok {
			return name
		}
		i := strings.LastIndexByte(f, '.')
		if i < 0 {
			break
		}
		f = f[:i]
	}
	return otherField
}

var _ Observer = noObserver{}
