package scim

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/internal/upstream"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// replace sends one canonical update to a provider without PATCH
// (ServiceProviderConfig.patch.supported false): GET /Users/{id}, the
// update applied to the User as the PatchOp would (applyUpdate), then PUT
// /Users/{id} with the whole User. When the provider supports ETags, the
// PUT carries If-Match with the version the GET read, and a user changed
// in between is answered 412, which is a conflict, nothing applied.
// Without ETags, a change made between the GET and the PUT is overwritten.
func (c *Client) replace(ctx context.Context, t *trip, caps *Capabilities) (*upstream.Result, *canonical.Error) {
	call := t.call
	return t.withID(ctx, func(id string) (*upstream.Result, *canonical.Error) {
		got, cerr := c.http.DoFor(ctx, call.User(), http.MethodGet, userPath(id), nil, c.header(call.Header, false))
		switch {
		case cerr != nil:
			return got, cerr
		case got.Status != http.StatusOK:
			// Nothing was sent to change the user yet.
			return got, mapError(got.Status, got.Body, got.Header.Get("Retry-After"), nil, false)
		}
		t.Attempts += got.Attempts
		body, cerr := applyUpdate(got.Body, call.Body, c.read)
		if cerr != nil {
			return got, cerr
		}
		h := c.header(call.Header, true)
		if caps.ETag {
			version := got.Header.Get("ETag")
			if version == "" {
				version = get(get(gjson.ParseBytes(got.Body), "meta"), "version").Str
			}
			if version != "" {
				h["If-Match"] = []string{version}
			}
		}
		return c.http.DoFor(ctx, call.User(), http.MethodPut, userPath(id), body, h)
	})
}

// applyUpdate applies a canonical update (already checked by buildPatch)
// to a SCIM User as buildPatch's operations would, and returns the User
// to PUT: the same table (docs/upstreams.md), the typed items of emails,
// phoneNumbers and addresses replaced whole.
func applyUpdate(user, update []byte, ext string) ([]byte, *canonical.Error) {
	var u map[string]any
	if err := json.Unmarshal(user, &u); err != nil || u == nil {
		return nil, canonical.Errorf(canonical.BadGateway, "upstream reply unreadable")
	}
	delete(u, key(u, "meta"))
	doc := gjson.ParseBytes(update)
	doc.Get("set").ForEach(func(k, v gjson.Result) bool {
		setField(u, ext, k.Str, v, v.Value())
		return true
	})
	doc.Get("unset").ForEach(func(_, f gjson.Result) bool {
		setField(u, ext, f.Str, gjson.Result{}, nil)
		return true
	})
	for _, name := range [...]string{"name", EnterpriseSchema, ext} {
		m, ok := u[key(u, name)].(map[string]any)
		switch {
		case !ok:
		case len(m) == 0:
			delete(u, key(u, name))
		case name != "name":
			addSchema(u, name)
		}
	}
	out, err := json.Marshal(u)
	if err != nil {
		return nil, canonical.Errorf(canonical.Internal, "the SCIM user cannot be written")
	}
	return out, nil
}

// setField gives one canonical field the value v (raw is v as Go), or
// removes it when v does not exist.
func setField(u map[string]any, ext, field string, v gjson.Result, raw any) {
	put := func(m map[string]any, name string) {
		if v.Exists() {
			m[key(m, name)] = raw
		} else {
			delete(m, key(m, name))
		}
	}
	switch field {
	case "username":
		put(u, "userName")
	case "password", "displayName", "active":
		put(u, field)
	case "givenName", "familyName":
		put(sub(u, "name"), field)
	case "organization":
		put(sub(u, EnterpriseSchema), "organization")
	case "email":
		replaceItem(u, "emails", "work", v, map[string]any{"value": raw, "type": "work", "primary": true})
	case "phone":
		replaceItem(u, "phoneNumbers", "work", v, map[string]any{"value": raw, "type": "work"})
	case "mobile":
		replaceItem(u, "phoneNumbers", "mobile", v, map[string]any{"value": raw, "type": "mobile"})
	case "address":
		addr, _ := raw.(map[string]any)
		if addr != nil {
			addr["type"] = "work"
		}
		replaceItem(u, "addresses", "work", v, addr)
	case "roles":
		var roles []any
		if v.Exists() {
			_ = json.Unmarshal([]byte(scimRoles(v)), &roles)
		}
		if len(roles) == 0 {
			delete(u, key(u, "roles"))
		} else {
			u[key(u, "roles")] = roles
		}
	case "locked", "deleted":
		put(sub(u, ext), field)
	case "attributes":
		raw = v.Raw
		put(sub(u, ext), field)
	case "extensions":
		v.ForEach(func(d, members gjson.Result) bool {
			members.ForEach(func(n, x gjson.Result) bool {
				setExtensionItem(u, ext, d.Str, n.Str, x)
				return true
			})
			return true
		})
	default:
		if rest, ok := strings.CutPrefix(field, "extensions."); ok {
			d, n, _ := strings.Cut(rest, ".")
			setExtensionItem(u, ext, d, n, gjson.Result{})
		}
	}
}

// setExtensionItem replaces (or, v absent, removes) the {dialect, name,
// value} item of the extension schema's extensions.
func setExtensionItem(u map[string]any, ext, dialect, name string, v gjson.Result) {
	x := sub(u, ext)
	list, _ := x[key(x, "extensions")].([]any)
	kept := list[:0:0]
	for _, item := range list {
		m, _ := item.(map[string]any)
		if m != nil && m["dialect"] == dialect && m["name"] == name {
			continue
		}
		kept = append(kept, item)
	}
	if v.Exists() {
		kept = append(kept, map[string]any{"dialect": dialect, "name": name, "value": v.Raw})
	}
	if len(kept) == 0 {
		delete(x, key(x, "extensions"))
	} else {
		x[key(x, "extensions")] = kept
	}
}

// replaceItem drops the items of the multi-valued attr that have the type
// typ and, when v exists, adds item (a primary one unsets the others';
// dropping alone leaves them as they are, as the PatchOp's remove does).
func replaceItem(u map[string]any, attr, typ string, v gjson.Result, item map[string]any) {
	list, _ := u[key(u, attr)].([]any)
	kept := list[:0:0]
	for _, it := range list {
		m, _ := it.(map[string]any)
		if t, _ := m[key(m, "type")].(string); m != nil && strings.EqualFold(t, typ) {
			continue
		}
		if m != nil && v.Exists() && item["primary"] == true {
			delete(m, key(m, "primary"))
		}
		kept = append(kept, it)
	}
	if v.Exists() && item != nil {
		kept = append(kept, item)
	}
	if len(kept) == 0 {
		delete(u, key(u, attr))
	} else {
		u[key(u, attr)] = kept
	}
}

// sub is the complex attribute name of u, created when missing.
func sub(u map[string]any, name string) map[string]any {
	m, _ := u[key(u, name)].(map[string]any)
	if m == nil {
		m = map[string]any{}
		u[key(u, name)] = m
	}
	return m
}

// addSchema lists urn in the User's schemas.
func addSchema(u map[string]any, urn string) {
	list, _ := u[key(u, "schemas")].([]any)
	for _, s := range list {
		if str, _ := s.(string); strings.EqualFold(str, urn) {
			return
		}
	}
	u[key(u, "schemas")] = append(list, urn)
}

// key is u's spelling of a case-insensitive attribute name (RFC 7643 §2.1).
func key(u map[string]any, name string) string {
	for k := range u {
		if strings.EqualFold(k, name) {
			return k
		}
	}
	return name
}
