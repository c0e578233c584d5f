package scimtest

import (
	"maps"
	"strings"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	scimfilter "github.com/elimity-com/scim/filter"
	"github.com/elimity-com/scim/schema"
	filter "github.com/scim2/filter-parser/v2"
)

// apply applies one operation to u.
func (h *handler) apply(u *user, op scim.PatchOperation) error {
	if op.Path == nil {
		value, _ := op.Value.(map[string]any)
		for p, v := range value {
			path, err := filter.ParsePath([]byte(p))
			if err != nil {
				return scimerrors.ScimErrorInvalidPath
			}
			if err := h.apply(u, scim.PatchOperation{Op: op.Op, Path: &path, Value: v}); err != nil {
				return err
			}
		}
		return nil
	}
	p := op.Path
	ap := p.AttributePath
	if strings.EqualFold(ap.AttributeName, "password") && ap.URIPrefix == nil {
		if op.Op == scim.PatchOperationRemove {
			u.password = ""
		} else {
			u.password, _ = op.Value.(string)
		}
		return nil
	}
	container := u.attrs
	if uri := ap.URI(); uri != "" && !strings.EqualFold(uri, schema.UserSchema) {
		sub, _ := container[uri].(map[string]any)
		if sub == nil {
			if op.Op == scim.PatchOperationRemove {
				return nil
			}
			sub = map[string]any{}
			container[uri] = sub
		}
		container = sub
		defer func() {
			if len(sub) == 0 {
				delete(u.attrs, uri)
			}
		}()
	}
	name := key(container, ap.AttributeName)
	switch {
	case p.ValueExpression != nil:
		return h.applyFiltered(container, name, op)
	case ap.SubAttribute != nil:
		parent, _ := container[name].(map[string]any)
		if op.Op == scim.PatchOperationRemove {
			if parent != nil {
				delete(parent, key(parent, *ap.SubAttribute))
				if len(parent) == 0 {
					delete(container, name)
				}
			}
			return nil
		}
		if parent == nil {
			parent = map[string]any{}
			container[name] = parent
		}
		parent[key(parent, *ap.SubAttribute)] = op.Value
		return nil
	}
	switch op.Op {
	case scim.PatchOperationRemove:
		delete(container, name)
	case scim.PatchOperationAdd:
		switch v := op.Value.(type) {
		case []any:
			old, _ := container[name].([]any)
			container[name] = primaryOnce(append(old, v...), len(old))
		case map[string]any:
			merge(container, name, v)
		default:
			container[name] = v
		}
	case scim.PatchOperationReplace:
		switch v := op.Value.(type) {
		case []any:
			container[name] = primaryOnce(v, 0)
		case map[string]any:
			merge(container, name, v)
		default:
			container[name] = v
		}
	}
	return nil
}

// applyFiltered applies an operation whose path has a value filter, such
// as emails[type eq "work"] or emails[type eq "work"].value.
func (h *handler) applyFiltered(container map[string]any, name string, op scim.PatchOperation) error {
	p := op.Path
	attr, ok := h.attribute(p.AttributePath)
	if !ok {
		return scimerrors.ScimErrorInvalidPath
	}
	v := scimfilter.NewFilterValidator(p.ValueExpression, schema.Schema{Attributes: scimfilter.MultiValuedFilterAttributes(attr)})
	list, _ := container[name].([]any)
	var kept []any
	matched := 0
	for _, item := range list {
		m, _ := item.(map[string]any)
		if m == nil || v.PassesFilter(m) != nil {
			kept = append(kept, item)
			continue
		}
		matched++
		switch {
		case op.Op == scim.PatchOperationRemove && p.SubAttribute == nil:
			continue // dropped
		case op.Op == scim.PatchOperationRemove:
			delete(m, key(m, *p.SubAttribute))
		case p.SubAttribute != nil:
			m[key(m, *p.SubAttribute)] = op.Value
		default:
			val := op.Value
			if l, ok := val.([]any); ok && len(l) == 1 {
				val = l[0]
			}
			if vm, ok := val.(map[string]any); ok {
				maps.Copy(m, vm)
			}
		}
		kept = append(kept, m)
	}
	if matched == 0 && (op.Op != scim.PatchOperationRemove || h.opts.StrictRemove) {
		return scimerrors.ScimErrorNoTarget
	}
	if len(kept) == 0 {
		delete(container, name)
	} else {
		container[name] = kept
	}
	return nil
}

// attribute finds the schema attribute a path names.
func (h *handler) attribute(ap filter.AttributePath) (schema.CoreAttribute, bool) {
	s := h.schema
	if uri := ap.URI(); uri != "" && !strings.EqualFold(uri, schema.UserSchema) {
		found := false
		for _, e := range h.exts {
			if strings.EqualFold(e.ID, uri) {
				s, found = e, true
			}
		}
		if !found {
			return schema.CoreAttribute{}, false
		}
	}
	return s.Attributes.ContainsAttribute(ap.AttributeName)
}

// primaryOnce keeps "primary": true on the last item that has it, from
// index from on (RFC 7644 §3.5.2: setting primary unsets the others).
func primaryOnce(list []any, from int) []any {
	last := -1
	for i := from; i < len(list); i++ {
		if m, ok := list[i].(map[string]any); ok && m["primary"] == true {
			last = i
		}
	}
	if last < 0 {
		return list
	}
	for i, item := range list {
		if m, ok := item.(map[string]any); ok && i != last && m["primary"] == true {
			m["primary"] = false
		}
	}
	return list
}

// merge merges a complex value into the stored one (replace and add on a
// complex attribute keep the sub-attributes not given).
func merge(container map[string]any, name string, v map[string]any) {
	old, _ := container[name].(map[string]any)
	if old == nil {
		old = map[string]any{}
	}
	for k, x := range v {
		old[key(old, k)] = x
	}
	container[name] = old
}

// key is the stored spelling of a case-insensitive attribute name.
func key(m map[string]any, name string) string {
	for k := range m {
		if strings.EqualFold(k, name) {
			return k
		}
	}
	return name
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		l := make([]any, len(v))
		for i, x := range v {
			l[i] = deepCopy(x)
		}
		return l
	}
	return v
}
