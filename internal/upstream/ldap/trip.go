package ldap

import (
	"context"
	"hash/maphash"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/userbridge/userbridge/internal/upstream"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// trip is one call's exchanges with the directory under one deadline.
type trip struct {
	c        *Client
	deadline time.Time
	user     upstream.UserRef // whom the breaker counts a failure that may be one entry's against
	attempts int
	cause    error
	asked    string // the id the call named the user by, "" by username
	status   int    // the HTTP status of the directory's last answer, for metrics and logs
	partly   bool   // some of the update's operations succeeded, not yet all
	conn     *conn  // the connection the call's exchanges go on, nil before the first
}

// done gives the call's connection back to the pool.
func (t *trip) done() {
	if t.conn != nil {
		t.c.pool.put(t.conn, true)
		t.conn = nil
	}
}

// result is the call's Result: the exchanges' attempts, and the status the
// directory's last answer maps to (0 when it gave none, with the cause).
func (t *trip) result() *upstream.Result {
	return &upstream.Result{Attempts: t.attempts, Status: t.status, Cause: t.cause}
}

// do runs one exchange and counts it.
func (t *trip) do(idempotent bool, f func(*conn) error) outcome {
	o := t.c.exchange(t.user, t.deadline, idempotent, &t.conn, f)
	t.attempts += o.attempts
	switch {
	case o.cerr != nil: // no answer
		t.status, t.cause = 0, o.cause
	case o.result != nil: // an LDAP result: an answer, as an HTTP upstream's 4xx
		e, _ := opError(o.result, fieldOf{})
		t.status, t.cause = e.HTTPStatus(), nil
	default:
		t.status, t.cause = 200, nil
	}
	return o
}

// search runs a search, retried as a search may be.
func (t *trip) search(req *goldap.SearchRequest) (*goldap.SearchResult, outcome) {
	var res *goldap.SearchResult
	o := t.do(true, func(cn *conn) error {
		var err error
		res, err = cn.Search(req)
		return err
	})
	return res, o
}

// failed maps a failed exchange: its own error, or the LDAP result mapped
// with fields; after some of the update was applied, it says so.
func (t *trip) failed(o outcome, fields fieldOf) *canonical.Error {
	e := o.cerr
	if e == nil {
		e, _ = opError(o.result, fields)
	}
	if t.partly {
		e.Message += "; the update was partly applied"
	}
	return e
}

// failedUnder maps a failed search under base, the DN the configuration
// key names: base itself gone (noSuchObject) is the directory's fault, not
// a user's.
func (t *trip) failedUnder(o outcome, base, key string) *canonical.Error {
	if resultCode(o.result) == goldap.LDAPResultNoSuchObject {
		return canonical.Errorf(canonical.BadGateway, "the directory has no "+base+" ("+key+")")
	}
	return t.failed(o, fieldOf{})
}

// find searches the user the call names, under the base DN.
func (t *trip) find(call *upstream.Call) (*goldap.Entry, *canonical.Error) {
	if cerr := upstream.CheckValue(call.Target.String(), call.Value); cerr != nil {
		return nil, cerr
	}
	attr := t.c.cfg.IDAttribute
	switch call.Target {
	case canonical.ByID:
		t.asked = call.Value
	case canonical.ByUsername:
		attr = t.c.cfg.UsernameAttribute
	default:
		return nil, canonical.Errorf(canonical.Internal, "the update names its user neither by id nor by username")
	}
	return t.findBy(attr, call.Value)
}

// lockEntry finds the user the call names and takes its entry's lock,
// held until unlock: the updates of one entry are applied one after the
// other, each planned from what the one before left. Side by side, two
// updates of the roles would each add and delete group members by the
// memberships they read before the other wrote, and could leave the user
// in none of the groups either named. The lock is the entry's id's
// (entryKey), which a rename leaves as it is: an update that finds the
// entry under its new DN while the renaming one still moves its
// memberships waits for it. An update that must wait gives its connection
// back meanwhile, and finds the entry again once it holds the lock: the
// one before may have changed or renamed it (or the username asked for
// names another entry now, whose lock is then taken). So does one that
// took the lock at once but after another update of its stripe ended
// since its find (Stripes.FreedSince): its find may have read the entry
// before that one's writes.
//
// It waits until half the call's time is left at most (lockWaitShare), so
// that the update it then makes has time to finish; past that it answers
// unavailable, nothing sent, as a migrating dialect's user lock does.
func (t *trip) lockEntry(ctx context.Context, call *upstream.Call) (entry *goldap.Entry, unlock func(), cerr *canonical.Error) {
	var held func() // the lock taken, until handed back as unlock
	defer func() {
		if unlock == nil && held != nil {
			held() // an error, or a panic: never left held
		}
	}()
	mark := t.c.entries.Mark()
	if entry, cerr = t.find(call); cerr != nil {
		return nil, nil, cerr
	}
	if t.c.afterFind != nil {
		t.c.afterFind()
	}
	for {
		key := t.c.entryKey(entry)
		l, ok := t.c.entries.TryLock(key)
		if ok && !t.c.entries.FreedSince(key, mark) {
			// No update of the entry ended since the find: what it read
			// is current.
			return entry, l, nil
		}
		if !ok {
			t.done() // no connection held while waiting
			var err error
			if l, err = t.waitEntry(ctx, key); err != nil {
				e := canonical.Errorf(canonical.Unavailable, "another update of this user (or of one that shares its lock) "+
					"is still being applied; nothing was sent; retry later")
				e.RetryAfter = "1"
				return nil, nil, e
			}
		}
		// An update may have ended between the find and the lock: the
		// entry is found again under the lock, as the update before
		// left it (or renamed it).
		held = l
		mark = t.c.entries.Mark()
		again, cerr := t.find(call)
		if cerr != nil {
			return nil, nil, cerr
		}
		if t.c.entryKey(again) == key {
			return again, held, nil
		}
		held() // the name now names another entry: its lock
		held, entry = nil, again
	}
}

// waitEntry waits for the lock of key until half the call's time is left
// at most (lockWaitShare).
func (t *trip) waitEntry(ctx context.Context, key uint64) (unlock func(), err error) {
	now := time.Now()
	ctx, cancel := context.WithDeadline(ctx, now.Add(t.deadline.Sub(now)/lockWaitShare))
	defer cancel()
	return t.c.entries.Lock(ctx, key)
}

// lockWaitShare: an update waits for its entry's lock until 1/lockWaitShare
// of its call's time is left, no longer.
const lockWaitShare = 2

// entryKey is the stripe key of an entry: its id (upstream.ldap
// idAttribute), which a rename does not change; its DN only when it has
// none.
func (c *Client) entryKey(e *goldap.Entry) uint64 {
	if id := e.GetEqualFoldAttributeValue(c.cfg.IDAttribute); id != "" {
		return maphash.String(c.seed, "id:"+strings.ToLower(id))
	}
	return maphash.String(c.seed, "dn:"+strings.ToLower(e.DN))
}

// findBy finds the one user entry whose attr is value.
func (t *trip) findBy(attr, value string) (*goldap.Entry, *canonical.Error) {
	filter := "(&" + t.c.cfg.UserFilter + "(" + attr + "=" + goldap.EscapeFilter(value) + "))"
	res, o := t.search(goldap.NewSearchRequest(t.c.cfg.BaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		2, 0, false, filter, t.c.attrs, nil))
	switch {
	case o.cerr != nil || o.result != nil:
		return nil, t.failedUnder(o, t.c.cfg.BaseDN, "upstream.ldap.baseDN")
	case len(res.Entries) == 0:
		return nil, canonical.Errorf(canonical.NotFound, "no such user")
	case len(res.Entries) > 1:
		return nil, canonical.Errorf(canonical.Conflict, "several directory entries match this user")
	}
	return res.Entries[0], nil
}

// apply sends the plan: the Modify, the ModifyDN, the group Modifies
// (with a rename, the groups left before it: planGroups). It returns the
// entry's DN after them.
func (t *trip) apply(p *plan) (string, *canonical.Error) {
	dn := p.dn
	if len(p.modify.Changes) > 0 {
		o := t.do(false, func(cn *conn) error { return cn.Modify(p.modify) })
		if o.cerr != nil || o.result != nil {
			return "", t.failed(o, p.fields)
		}
		t.partly = true
	}
	if p.rename != nil {
		if cerr := t.changeGroups(p.leave); cerr != nil {
			return "", cerr
		}
		o := t.do(false, func(cn *conn) error { return cn.ModifyDN(p.rename) })
		if o.cerr != nil || o.result != nil {
			return "", t.failed(o, fieldOf{rename: "username"})
		}
		t.partly = true
		dn = p.newDN
	}
	if cerr := t.changeGroups(p.groups); cerr != nil {
		return "", cerr
	}
	if p.rename == nil {
		if cerr := t.changeGroups(p.leave); cerr != nil {
			return "", cerr
		}
	}
	t.partly = false // whole: a failure after it is the read back's (Patch marks it Applied)
	return dn, nil
}

// changeGroups sends each group's change in turn.
func (t *trip) changeGroups(list []groupChange) *canonical.Error {
	for _, g := range list {
		if cerr := t.changeGroup(g); cerr != nil {
			return cerr
		}
		t.partly = true
	}
	return nil
}

// changeGroup sends one group's change. A member already there (add) or
// already gone (delete) is as wanted: a repeated update. A move whose old
// value is already gone, or whose new one is already there (a refint
// overlay moved it with the entry), is made as its other half alone.
func (t *trip) changeGroup(g groupChange) *canonical.Error {
	attr := t.c.cfg.Groups.MemberAttribute
	req := goldap.NewModifyRequest(g.dn, nil)
	if g.old != "" {
		req.Delete(attr, []string{g.old})
	}
	if g.add {
		req.Add(attr, []string{g.member})
	} else {
		req.Delete(attr, []string{g.member})
	}
	o := t.do(false, func(cn *conn) error { return cn.Modify(req) })
	code := resultCode(o.result)
	switch {
	case o.cerr == nil && o.result == nil:
		return nil
	case g.old != "" && code == goldap.LDAPResultNoSuchAttribute:
		return t.changeGroup(groupChange{dn: g.dn, member: g.member, add: true})
	case g.old != "" && code == goldap.LDAPResultAttributeOrValueExists:
		return t.changeGroup(groupChange{dn: g.dn, member: g.old})
	case g.add && code == goldap.LDAPResultAttributeOrValueExists, !g.add && code == goldap.LDAPResultNoSuchAttribute:
		return nil // already as wanted (a repeated update): the set is what counts
	}
	return t.failed(o, fieldOf{byAttr: map[string]string{strings.ToLower(attr): "roles"}})
}

// readBack reads the entry at dn and its groups as the canonical user.
func (t *trip) readBack(dn string) ([]byte, *canonical.Error) {
	res, o := t.search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases,
		1, 0, false, "(objectClass=*)", t.c.attrs, nil))
	if o.cerr != nil || o.result != nil {
		return nil, t.failed(o, fieldOf{})
	}
	if len(res.Entries) != 1 {
		return nil, canonical.Errorf(canonical.BadGateway, "the directory's entry could not be read back")
	}
	roles, cerr := t.roles(dn)
	if cerr != nil {
		return nil, cerr
	}
	return t.c.user(res.Entries[0], roles, t.asked), nil
}

// group is one group entry.
type group struct{ dn, id, name string }

// roles lists the groups dn is a member of; none without groups.baseDN.
func (t *trip) roles(dn string) ([]group, *canonical.Error) {
	g := t.c.cfg.Groups
	if g.BaseDN == "" {
		return nil, nil
	}
	return t.groups("(" + g.MemberAttribute + "=" + goldap.EscapeFilter(dn) + ")")
}

// groups searches the groups matching filter (and groups.filter).
func (t *trip) groups(filter string) ([]group, *canonical.Error) {
	g := t.c.cfg.Groups
	res, o := t.search(goldap.NewSearchRequest(g.BaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		0, 0, false, "(&"+g.Filter+filter+")", []string{g.NameAttribute, g.IDAttribute}, nil))
	if o.cerr != nil || o.result != nil {
		return nil, t.failedUnder(o, g.BaseDN, "upstream.ldap.groups.baseDN")
	}
	out := make([]group, 0, len(res.Entries))
	for _, e := range res.Entries {
		out = append(out, group{dn: e.DN, id: e.GetAttributeValue(g.IDAttribute), name: e.GetAttributeValue(g.NameAttribute)})
	}
	return out, nil
}
