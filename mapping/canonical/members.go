package canonical

import "github.com/userbridge/userbridge/internal/lex"

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

// The indexes of a canonical user's top-level members (MemberIndex,
// Members.Raw), and numMembers, how many there are.
const (
	memberID = iota
	memberUsername
	memberTenant
	memberEmail
	memberGivenName
	memberFamilyName
	memberDisplayName
	memberPhone
	memberMobile
	memberOrganization
	memberActive
	memberLocked
	memberDeleted
	memberAddress
	memberAttributes
	memberRoles
	memberExtensions
	memberCreatedBy
	memberCreatedAt
	memberUpdatedAt
	memberLastLoginAt
	numMembers
)

// memberKind is the kind of each top-level member (answer.go).
var memberKind = [numMembers]uint8{
	memberID: kindReadOnly, memberUsername: kindString, memberTenant: kindReadOnly,
	memberEmail: kindString, memberGivenName: kindString, memberFamilyName: kindString,
	memberDisplayName: kindString, memberPhone: kindString, memberMobile: kindString,
	memberOrganization: kindString, memberActive: kindBool, memberLocked: kindBool,
	memberDeleted: kindBool, memberAddress: kindObject, memberAttributes: kindObject,
	memberRoles: kindRoles, memberExtensions: kindExt, memberCreatedBy: kindReadOnly,
	memberCreatedAt: kindTime, memberUpdatedAt: kindTime, memberLastLoginAt: kindTime,
}

// memberAt is the index of the top-level member whose key's contents start
// at doc[i], and the length of its name; -1 for a key the answer walk
// refuses (password, a name the contract does not have, one written with
// an escape). It reads no byte twice: the first byte picks the candidates,
// and each is compared with its closing quote as one constant, which the
// compiler turns into a word or two of loads (a constant of at most 16
// bytes, written out: through a helper it calls memequal), where finding
// the quote first and then looking the name up read the key twice.
func memberAt(doc []byte, i int) (idx, n int) {
	if i >= len(doc) {
		return -1, 0
	}
	k := doc[i:]
	switch k[0] {
	case 'i':
		if len(k) >= 3 && string(k[:3]) == `id"` {
			return memberID, 2
		}
	case 'u':
		if len(k) >= 9 && string(k[:9]) == `username"` {
			return memberUsername, 8
		}
		if len(k) >= 10 && string(k[:10]) == `updatedAt"` {
			return memberUpdatedAt, 9
		}
	case 't':
		if len(k) >= 7 && string(k[:7]) == `tenant"` {
			return memberTenant, 6
		}
	case 'e':
		if len(k) >= 6 && string(k[:6]) == `email"` {
			return memberEmail, 5
		}
		if len(k) >= 11 && string(k[:11]) == `extensions"` {
			return memberExtensions, 10
		}
	case 'g':
		if len(k) >= 10 && string(k[:10]) == `givenName"` {
			return memberGivenName, 9
		}
	case 'f':
		if len(k) >= 11 && string(k[:11]) == `familyName"` {
			return memberFamilyName, 10
		}
	case 'd':
		if len(k) >= 12 && string(k[:12]) == `displayName"` {
			return memberDisplayName, 11
		}
		if len(k) >= 8 && string(k[:8]) == `deleted"` {
			return memberDeleted, 7
		}
	case 'p':
		if len(k) >= 6 && string(k[:6]) == `phone"` {
			return memberPhone, 5
		}
	case 'm':
		if len(k) >= 7 && string(k[:7]) == `mobile"` {
			return memberMobile, 6
		}
	case 'o':
		if len(k) >= 13 && string(k[:13]) == `organization"` {
			return memberOrganization, 12
		}
	case 'a':
		if len(k) >= 7 && string(k[:7]) == `active"` {
			return memberActive, 6
		}
		if len(k) >= 8 && string(k[:8]) == `address"` {
			return memberAddress, 7
		}
		if len(k) >= 11 && string(k[:11]) == `attributes"` {
			return memberAttributes, 10
		}
	case 'l':
		if len(k) >= 7 && string(k[:7]) == `locked"` {
			return memberLocked, 6
		}
		if len(k) >= 12 && string(k[:12]) == `lastLoginAt"` {
			return memberLastLoginAt, 11
		}
	case 'r':
		if len(k) >= 6 && string(k[:6]) == `roles"` {
			return memberRoles, 5
		}
	case 'c':
		if len(k) >= 10 && string(k[:10]) == `createdBy"` {
			return memberCreatedBy, 9
		}
		if len(k) >= 10 && string(k[:10]) == `createdAt"` {
			return memberCreatedAt, 9
		}
	}
	return -1, 0
}

// userValue walks the value at doc[i] of the top-level member of index
// idx, and returns the index past it, or -1.
func (s *answerScan) userValue(i, idx int) int {
	doc, c := s.doc, s.doc[i]
	switch memberKind[idx] {
	case kindString:
		if c != '"' {
			return -1
		}
		end, plain, ok := scanString(doc, i+1, false)
		switch {
		case !ok:
			return -1
		case idx == memberUsername:
			if !plain {
				return -1
			}
			s.username = doc[i+1 : end-1]
		}
		return end
	case kindBool:
		if c == 't' {
			return literal(doc, i, "true")
		}
		return literal(doc, i, "false")
	case kindObject:
		if c != '{' {
			return -1
		}
		return s.value(i, 2, false)
	case kindRoles:
		return s.roles(i)
	case kindExt:
		return s.extensions(i)
	}
	// A read-only member: a string or null.
	if c == 'n' {
		return literal(doc, i, "null")
	}
	if c != '"' {
		return -1
	}
	if memberKind[idx] == kindTime {
		// Read in place: what rfc3339 accepts holds no quote, backslash
		// or control character, so its end is the string's.
		if n := rfc3339Len(doc[i+1:]); n >= 0 && i+1+n < len(doc) && doc[i+1+n] == '"' {
			return i + n + 2
		}
		return -1
	}
	end, plain, ok := scanString(doc, i+1, false)
	switch {
	case !ok || !plain:
		return -1
	case idx == memberID:
		s.id = doc[i+1 : end-1]
	case idx == memberTenant:
		s.tenant = doc[i+1 : end-1]
	}
	return end
}

// roles walks, from i, an array of {id?, name?, description?} with string
// values and a non-empty id or name (checkRoles), and returns the index
// past it, or -1.
func (s *answerScan) roles(i int) int {
	doc := s.doc
	if doc[i] != '[' {
		return -1
	}
	if i = lex.SkipSpace(doc, i+1); i < len(doc) && doc[i] == ']' {
		return i + 1
	}
	for {
		if i >= len(doc) || doc[i] != '{' {
			return -1
		}
		// A role has at least one member, an id or a name: no {}.
		i = lex.SkipSpace(doc, i+1)
		var seen uint8 // 1 id, 2 name, 4 description
		for {
			if i >= len(doc) || doc[i] != '"' {
				return -1
			}
			// Each name with its closing quote, as memberAt reads them.
			var bit uint8
			var n int
			switch k := doc[i+1:]; {
			case len(k) >= 3 && string(k[:3]) == `id"`:
				bit, n = 1, len("id")
			case len(k) >= 5 && string(k[:5]) == `name"`:
				bit, n = 2, len("name")
			case len(k) >= 12 && string(k[:12]) == `description"`:
				bit, n = 4, len("description")
			}
			if bit == 0 || seen&bit != 0 {
				return -1
			}
			seen |= bit
			if i = lex.SkipSpace(doc, i+n+2); i >= len(doc) || doc[i] != ':' {
				return -1
			}
			if i = lex.SkipSpace(doc, i+1); i >= len(doc) || doc[i] != '"' {
				return -1
			}
			end, plain, ok := scanString(doc, i+1, false)
			// id and name: plain and not empty (end past more than the quotes).
			if !ok || bit != 4 && (!plain || end-i == 2) {
				return -1
			}
			if i = lex.SkipSpace(doc, end); i >= len(doc) {
				return -1
			}
			if doc[i] == '}' {
				break
			}
			if doc[i] != ',' {
				return -1
			}
			i = lex.SkipSpace(doc, i+1)
		}
		if seen&3 == 0 {
			return -1
		}
		if i = lex.SkipSpace(doc, i+1); i >= len(doc) {
			return -1
		}
		if doc[i] == ']' {
			return i + 1
		}
		if doc[i] != ',' {
			return -1
		}
		i = lex.SkipSpace(doc, i+1)
	}
}

// MemberIndex is the index of a canonical user's top-level member name
// for Members.Raw, or -1 for a name no canonical user has at its top level.
func MemberIndex(name string) int {
	if idx, n := memberAt([]byte(name+`"`), 0); idx >= 0 && n == len(name) {
		return idx
	}
	return -1
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
