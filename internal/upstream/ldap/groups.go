package ldap

import (
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/mapping/canonical"
)

// planGroups makes the user's groups the roles asked for (set: the groups
// named; unset: none), added and removed as a set: only the groups that
// change are written. After a rename every group the user stays in has
// its member value moved to the new DN, the old value deleted and the new
// added in one Modify: a directory whose matching holds the two DNs as one
// (a new username that differs in case only) would otherwise delete the
// user with the old value. The adds come first, so that a group is never
// left without the member it must have (groupOfNames).
//
// The groups the user leaves are left by the DN before a rename, and
// before it (apply): a refint overlay moves the member values to the new
// DN on its own once the entry is renamed, where a delete of the old value
// would find none (noSuchAttribute, as if already gone) and leave the user
// in the group; a directory without one never moves them. Either way the
// old value is there before the rename.
func (t *trip) planGroups(p *plan, roles gjson.Result, unset bool) *canonical.Error {
	renamed := p.rename != nil
	if !roles.Exists() && !unset && !renamed {
		return nil
	}
	if t.c.cfg.Groups.BaseDN == "" {
		return nil // roles were refused already; a rename has no groups to follow
	}
	current, cerr := t.roles(p.dn)
	if cerr != nil {
		return cerr
	}
	target := current
	switch {
	case unset:
		target = nil
	case roles.Exists():
		if target, cerr = t.resolveRoles(roles); cerr != nil {
			return cerr
		}
	}
	member := p.dn
	if renamed {
		member = p.newDN
	}
	for _, g := range target {
		switch stays := hasGroup(current, g.dn); {
		case renamed && stays:
			p.groups = append(p.groups, groupChange{dn: g.dn, member: member, add: true, old: p.dn})
		case !stays:
			p.groups = append(p.groups, groupChange{dn: g.dn, member: member, add: true})
		}
	}
	for _, g := range current {
		if !hasGroup(target, g.dn) {
			p.leave = append(p.leave, groupChange{dn: g.dn, member: p.dn})
		}
	}
	return nil
}

func hasGroup(list []group, dn string) bool {
	for _, g := range list {
		if strings.EqualFold(g.dn, dn) {
			return true
		}
	}
	return false
}

// resolveRoles finds the group of each role: by its id (groups.idAttribute)
// when it has one, else by its name (groups.nameAttribute). A role with
// no group is refused, naming roles.
func (t *trip) resolveRoles(roles gjson.Result) ([]group, *canonical.Error) {
	g := t.c.cfg.Groups
	var filter strings.Builder
	filter.WriteString("(|")
	n := 0
	roles.ForEach(func(_, r gjson.Result) bool {
		n++
		if id := r.Get("id"); id.Exists() {
			filter.WriteString("(" + g.IDAttribute + "=" + goldap.EscapeFilter(id.Str) + ")")
		} else {
			filter.WriteString("(" + g.NameAttribute + "=" + goldap.EscapeFilter(r.Get("name").Str) + ")")
		}
		return true
	})
	if n == 0 {
		return nil, nil
	}
	filter.WriteString(")")
	found, cerr := t.groups(filter.String())
	if cerr != nil {
		return nil, cerr
	}
	var out []group
	cerr = nil
	roles.ForEach(func(_, r gjson.Result) bool {
		id, name := r.Get("id"), r.Get("name").Str
		var hit *group
		for i := range found {
			if (id.Exists() && strings.EqualFold(found[i].id, id.Str)) || (!id.Exists() && strings.EqualFold(found[i].name, name)) {
				hit = &found[i]
				break
			}
		}
		if hit == nil {
			what := name
			if id.Exists() {
				what = id.Str
			}
			cerr = canonical.FieldError("roles", "no group "+what+" in the directory (upstream.ldap.groups.baseDN)")
			return false
		}
		if !hasGroup(out, hit.dn) {
			out = append(out, *hit)
		}
		return true
	})
	return out, cerr
}
