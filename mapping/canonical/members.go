package canonical

import "math/bits"

// Members locates the top-level members of a user CheckAnswerMembers
// found valid in its one walk, so that what reads the user next (the
// dialect's answer, rendered from it) finds each member without a pass of
// its own. Such a user is a JSON object whose keys are canonical member
// names, each at most once and written without an escape.
type Members struct {
	// Valid: the walk vouched for the user and the spans below are set.
	// False when the user took CheckAnswer's slow path (it is doubtful,
	// or refused): nothing else is set, and a reader scans the user itself.
	Valid bool
	span  [numMembers]struct{ from, to int32 }
	n     int // the length of the user walked
}

// Of reports whether m is Valid and was made for user (by its length: a
// cheap guard against members of another buffer).
func (m *Members) Of(user []byte) bool { return m.Valid && m.n == len(user) }

// numMembers is how many top-level members a canonical user can have
// (userMember's bits).
const numMembers = 21

// MemberIndex is the index of a canonical user's top-level member name
// for Members.Raw, or -1 for a name no canonical user has at its top level.
func MemberIndex(name string) int {
	bit, _, ok := userMember([]byte(name))
	if !ok {
		return -1
	}
	return bits.TrailingZeros32(bit)
}

// Raw is the JSON text of the member of index i (MemberIndex) in user, the
// bytes the walk was given; "" when the user does not have it. m must be
// Valid and i a MemberIndex.
func (m *Members) Raw(user string, i int) string {
	sp := m.span[i]
	return user[sp.from:sp.to]
}

// CheckAnswerMembers is CheckAnswer, and where its walk vouches for the
// user, fills m with where its members are. m is the caller's; it holds
// offsets, not views, of user.
func CheckAnswerMembers(user []byte, want Addressed, m *Members) *AnswerError {
	*m = Members{}
	var s answerScan // walk refuses a text its int32 offsets cannot address
	if !s.walk(user) {
		return checkAnswer(user, want)
	}
	if ae := s.addressed(want); ae != nil {
		return ae
	}
	m.Valid, m.span, m.n = true, s.span, len(user)
	return nil
}
