package rest

import (
	"slices"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/mapping"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// carries is what an update body carries of each canonical field.
type carries struct {
	all, allUnset bool                  // ${update.set}, ${update.unset}: everything
	whole         []string              // fields read whole (${update.set.roles})
	parts         map[string][][]string // fields read only in part: the paths read in them, by segment ("#": each item)
	unsetExt      map[string]bool       // extensions.<dialect>.<name> with an unset filter of their own
}

// segments splits a plain gjson path into its members, unescaped; ok is
// false for a path with a query, wildcard, modifier or item index, of
// which check cannot tell what it carries. The first keys members are
// known to be an object's (an extension's dialect and member name): one
// may begin with a digit (2fa).
func segments(path string, keys int) (segs []string, ok bool) {
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		ch := path[i]
		switch {
		case ch == '\\' && i+1 < len(path):
			i++
			b.WriteByte(path[i])
			continue
		case ch == '.':
			segs = append(segs, b.String())
			b.Reset()
			continue
		case strings.IndexByte("*?|@!=<>%()#:", ch) >= 0:
			if ch != '#' || b.Len() > 0 || i+1 < len(path) && path[i+1] != '.' {
				return nil, false
			}
		}
		b.WriteByte(ch)
	}
	segs = append(segs, b.String())
	for i, s := range segs {
		if s == "" || i >= keys && s[0] >= '0' && s[0] <= '9' {
			return nil, false
		}
	}
	return segs, true
}

// extProblem is what is wrong with ref, a read of extensions whose path
// after "extensions" is segs, or "": it must name a dialect and a member an
// update can hold (docs/canonical.md: a vendor field named otherwise is
// renamed by its dialect), or it never renders, and an unset filter
// renders only on one member's own path as the update's unset names it
// (extensions.baasic.a\.b never matches an unset, nor does a part of a
// member): such a filter would leave a removal uncarried.
func extProblem(ref mapping.Ref, segs []string) string {
	switch {
	case !canonical.ValidDialectName(segs[0]):
		return "names no dialect an update can hold (a dialect matches [a-z][a-z0-9_-]*): it never renders"
	case len(segs) > 1 && segs[1] != "#" && !canonical.ValidMemberName(segs[1]):
		return "names no extension member an update can hold (a member name matches [A-Za-z0-9_-]+; its dialect renames a vendor field named otherwise): it never renders"
	case ref.Unset && (len(segs) != 2 || ref.Path != "set.extensions."+segs[0]+"."+segs[1]):
		return "has an unset: filter that never renders: the filter carries a removal only on a member's own path, written plain (${update.set.extensions.DIALECT.NAME|unset:…})"
	}
	return ""
}

// refuse names what of field's value v the body drops, or "" when it
// carries all of it. An extension member is named in full
// (extensions.shift.ssoId); any other field by its name.
func (c *carries) refuse(field string, v gjson.Result) (name, part string) {
	if c.all || slices.Contains(c.whole, field) {
		return "", ""
	}
	paths := c.parts[field]
	if field != "extensions" {
		if miss := lost(v, paths); miss != nil {
			return field, strings.Join(miss, ".")
		}
		return "", ""
	}
	v.ForEach(func(d, members gjson.Result) bool {
		members.ForEach(func(n, x gjson.Result) bool {
			if miss := lost(x, narrow(narrow(paths, d.Str), n.Str)); miss != nil {
				name, part = "extensions."+d.Str+"."+n.Str, strings.Join(miss, ".")
			}
			return name == ""
		})
		return name == ""
	})
	return name, part
}

// lost is what of v paths do not carry: the part dropped (empty: all of
// v); {cleared} when none of paths renders anything of v (address: {} read
// by member: the update clears the field, and the body would send nothing
// of it); nil when paths carry all of v.
func lost(v gjson.Result, paths [][]string) []string {
	if miss := dropped(v, paths, nil); miss != nil {
		return miss
	}
	if len(paths) == 0 {
		return []string{} // not read at all: {} is dropped whole
	}
	if rendersAny(v, paths) {
		return nil
	}
	return []string{cleared}
}

// rendersAny reports whether any of paths renders a part of v.
func rendersAny(v gjson.Result, paths [][]string) bool {
	for _, p := range paths {
		if renders(v, p) {
			return true
		}
	}
	return false
}

// cleared is lost's answer for a value of which the body sends nothing.
const cleared = "\x00cleared"

// renders reports whether the part of v at path p renders a value: a
// member that is there and not null; an array where p reads each item
// ("#"), which renders an array even when empty.
func renders(v gjson.Result, p []string) bool {
	for _, seg := range p {
		switch {
		case seg == "#":
			return v.IsArray()
		case !v.IsObject():
			return false
		}
		v = v.Get(gjson.Escape(seg))
	}
	return v.Exists() && v.Type != gjson.Null
}

// narrow keeps the paths that go through member k, without it.
func narrow(paths [][]string, k string) [][]string {
	var out [][]string
	for _, p := range paths {
		switch {
		case len(p) == 0: // read whole: it carries every part below
			out = append(out, p)
		case p[0] == k:
			out = append(out, p[1:])
		}
	}
	return out
}

// dropped is the first part of v (at, from the field) that none of paths
// carries, or nil. An empty path carries the value whole; "#" each item of
// an array.
func dropped(v gjson.Result, paths [][]string, at []string) []string {
	for _, p := range paths {
		if len(p) == 0 {
			return nil
		}
	}
	var miss []string
	switch {
	case v.IsArray():
		items := narrow(paths, "#")
		if len(items) == 0 && len(v.Array()) > 0 {
			return at
		}
		v.ForEach(func(_, x gjson.Result) bool {
			miss = dropped(x, items, at)
			return miss == nil
		})
	case v.IsObject():
		v.ForEach(func(k, x gjson.Result) bool {
			if x.Type == gjson.Null {
				return true // no value to carry
			}
			sub, here := narrow(paths, k.Str), append(slices.Clip(at), k.Str)
			if len(sub) == 0 {
				miss = here
			} else if miss = dropped(x, sub, here); miss == nil && !rendersAny(x, sub) {
				miss = here // {} under a member read by its members: nothing of it is sent
			}
			return miss == nil
		})
	default:
		if v.Exists() && v.Type != gjson.Null {
			return append([]string{}, at...)
		}
	}
	return miss
}

// checkCarried refuses a field the request's body reads only in part when
// the update sends more in it or clears it (the body would render nothing
// of it), and an extension member's unset the body has no unset filter
// for: the rest would be dropped.
func (q *request) checkCarried(doc gjson.Result, upstreamName string) *canonical.Error {
	var err *canonical.Error
	c := &q.carries
	doc.Get("set").ForEach(func(k, v gjson.Result) bool {
		if name, part := c.refuse(k.Str, v); name != "" {
			msg := "the " + upstreamName + " upstream cannot store this field"
			if part == cleared {
				msg = "the " + upstreamName + " upstream cannot clear this field"
			} else if part != "" {
				what := "its " + part
				if k.Str == "roles" {
					what = "a role's " + part
				}
				msg = "the " + upstreamName + " upstream cannot store " + what
			}
			err = canonical.FieldError(name, msg)
		}
		return err == nil
	})
	if err != nil || c.allUnset {
		return err
	}
	doc.Get("unset").ForEach(func(_, v gjson.Result) bool {
		if strings.HasPrefix(v.Str, "extensions.") && !c.unsetExt[v.Str] {
			err = canonical.FieldError(v.Str, "the "+upstreamName+" upstream cannot remove this field")
		}
		return err == nil
	})
	return err
}
