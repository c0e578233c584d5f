package server

import (
	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/mapping"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// checkAnswer refuses a user the upstream answered with that is not a
// canonical user, or not the one the call addressed (canonical.CheckAnswer):
// it is counted and logged by its fault, never rendered, and the caller
// gets a bad_gateway naming what was wrong in userbridge's words. applied
// says the update was applied (the PATCH's answer, the GET after it), so
// that the caller is told to repeat it with its Idempotency-Key. m, when
// not nil, gets where the user's members are, for the answer rendered from
// it (canonical.CheckAnswerMembers).
func (h *handler) checkAnswer(x *exchange, user []byte, want canonical.Addressed, applied bool, m *canonical.Members) *canonical.Error {
	var ae *canonical.AnswerError
	if m != nil {
		ae = canonical.CheckAnswerMembers(user, want, m)
	} else {
		ae = canonical.CheckAnswer(user, want)
	}
	if ae == nil {
		return nil
	}
	return h.answerRefused(x, ae, applied)
}

// answerRefused records the refusal of an upstream's answer, ae, and
// returns the bad_gateway the caller gets.
func (h *handler) answerRefused(x *exchange, ae *canonical.AnswerError, applied bool) *canonical.Error {
	x.answerFault = ae.Fault
	h.obs.InvalidAnswer(h.name, string(ae.Fault))
	e := canonical.Errorf(canonical.BadGateway, ae.Message())
	e.Applied = applied
	return e
}

// addressed is the user a call for res names before the update.
func addressed(res *mapping.Result) canonical.Addressed {
	return canonical.Addressed{Target: res.Target, Value: res.Value, Tenant: res.Tenant}
}

// updated is the user a call for res names once update is applied: the
// same, but for an update addressed by username that renames the user,
// whose answer carries the new username.
func updated(res *mapping.Result, update []byte) canonical.Addressed {
	a := addressed(res)
	if res.Target == canonical.ByUsername {
		if u := gjson.GetBytes(update, "set.username"); u.Type == gjson.String {
			a.Value = u.Str // GetBytes copies: nothing points into update
		}
	}
	return a
}

// answerKind is the access line's upstream_error for a refused answer.
func answerKind(f canonical.AnswerFault) string { return "invalid answer: " + string(f) }
