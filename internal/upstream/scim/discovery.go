package scim

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/auth"
	"github.com/userbridge/userbridge/internal/telemetry"
	"github.com/userbridge/userbridge/internal/upstream"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// Capabilities is what a SCIM service provider holds and supports: read
// from its /ServiceProviderConfig, /ResourceTypes and /Schemas
// (Discover), or pinned by upstream.scim (discover: false).
type Capabilities struct {
	// Discovered is false when the configuration pinned them.
	Discovered bool
	// Schemas are the User resource type's schema and its extensions.
	Schemas []string
	// Patch, ETag and Bulk are ServiceProviderConfig's patch.supported,
	// etag.supported and bulk.supported (bulk is not used).
	Patch, ETag, Bulk bool
	// refused maps a canonical field (extensions.* as "extensions") the
	// provider's User cannot hold to why.
	refused map[string]string
}

// Refused lists the canonical fields the provider cannot hold, sorted
// ("extensions" for every extension member).
func (c *Capabilities) Refused() []string {
	out := make([]string, 0, len(c.refused))
	for f := range c.refused {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

// Why maps each field Refused lists to why the provider cannot hold it,
// for the operator's log: it names the schema URN, the attribute or the
// configuration key (upstream.scim.extension) it comes from. A caller is
// told only that the upstream cannot store its field (held).
func (c *Capabilities) Why() map[string]string { return maps.Clone(c.refused) }

// refuses is why field cannot be held, "" when it can.
func (c *Capabilities) refuses(field string) string {
	if strings.HasPrefix(field, "extensions.") {
		field = "extensions"
	}
	return c.refused[field]
}

// DiscoveryError is a discovery that failed: one line naming the endpoint.
type DiscoveryError struct {
	// Endpoint is the discovery endpoint, e.g. "/ResourceTypes".
	Endpoint string
	// Problem says what went wrong.
	Problem string
	// Unreachable is true when no answer came (no connection, a timeout, a
	// 5xx) or the provider put the request off (429, 408): it is down or
	// busy rather than unable to describe itself, and a later discovery
	// may succeed as the configuration stands.
	Unreachable bool
}

// Error is "scim: discovery: GET ENDPOINT: PROBLEM".
func (e *DiscoveryError) Error() string {
	return "scim: discovery: GET " + e.Endpoint + ": " + e.Problem
}

// ErrorKind is what the access line's upstream_error says of an update
// refused for it (telemetry.KindedError): "scim discovery: unreachable"
// or "scim discovery: not discovered", never the problem's words (they
// may quote the provider or a token endpoint).
func (e *DiscoveryError) ErrorKind() telemetry.Kind {
	if e.Unreachable {
		return "scim discovery: unreachable"
	}
	return "scim discovery: not discovered"
}

// waitError is a wait for a discovery under way that ended first (the
// update's upstream.timeout, or its caller gone).
type waitError struct{ err error }

func (e *waitError) Error() string { return "scim: waiting for discovery: " + e.err.Error() }
func (e *waitError) Unwrap() error { return e.err }

// ErrorKind is "scim discovery: still under way (timeout)" or "(canceled)".
func (e *waitError) ErrorKind() telemetry.Kind {
	return telemetry.Kind("scim discovery: still under way (" + telemetry.ErrorKind(e.err) + ")")
}

// panicError is a discovery that panicked (discover recovers it).
type panicError struct{ v any }

func (e *panicError) Error() string { return fmt.Sprintf("scim: discovery: panic: %v", e.v) }

// ErrorKind is "scim discovery: panic": never the panic's value, which
// may quote anything.
func (e *panicError) ErrorKind() telemetry.Kind { return "scim discovery: panic" }

var (
	_ telemetry.KindedError = (*DiscoveryError)(nil)
	_ telemetry.KindedError = (*waitError)(nil)
	_ telemetry.KindedError = (*panicError)(nil)
)

// fieldAttrs is where each canonical field lives: a schema URN ("" for
// the extension schema) and an attribute path (attr or attr.sub).
var fieldAttrs = []struct{ field, schema, attr string }{
	{"username", UserSchema, "userName"},
	{"password", UserSchema, "password"},
	{"givenName", UserSchema, "name.givenName"},
	{"familyName", UserSchema, "name.familyName"},
	{"displayName", UserSchema, "displayName"},
	{"email", UserSchema, "emails"},
	{"phone", UserSchema, "phoneNumbers"},
	{"mobile", UserSchema, "phoneNumbers"},
	{"address", UserSchema, "addresses"},
	{"active", UserSchema, "active"},
	{"roles", UserSchema, "roles"},
	{"organization", EnterpriseSchema, "organization"},
	{"locked", "", "locked"},
	{"deleted", "", "deleted"},
	{"attributes", "", "attributes"},
	{"extensions", "", "extensions"},
}

// pinned are the capabilities upstream.scim pins (discover: false):
// extension and patch default to true, etag to false.
func pinned(s config.SCIM, ext string) *Capabilities {
	isTrue := func(b *bool, def bool) bool {
		if b == nil {
			return def
		}
		return *b
	}
	c := &Capabilities{Schemas: []string{UserSchema, EnterpriseSchema}, Patch: isTrue(s.Patch, true),
		ETag: isTrue(s.ETag, false), refused: map[string]string{}}
	if isTrue(s.Extension, true) {
		c.Schemas = append(c.Schemas, ext)
	} else {
		for _, f := range fieldAttrs {
			if f.schema == "" {
				c.refused[f.field] = "the SCIM upstream has no attribute for this field (upstream.scim.extension is false)"
			}
		}
	}
	return c
}

// discover reads the provider's /ServiceProviderConfig, /ResourceTypes
// and /Schemas (RFC 7644 §4) and returns what its User resource (the
// resource type whose endpoint is /Users) holds for each canonical field
// (the schema URN ext standing for the extension) and what it supports.
// Each request carries cred's Authorization
// (upstream.scim.discoveryCredentials, for a provider that wants
// credentials on every endpoint), or none when cred is nil; the value is
// never logged nor put in an error, and /Users never gets it. Its error
// is a *DiscoveryError: a 401 or 403 says the provider wants credentials
// for discovery (or refused cred's), and a credential that cannot be had
// (an OAuth2 token endpoint down or refusing) says so without any secret,
// unreachable when the token endpoint gave no answer (auth.ErrNoAnswer).
func discover(ctx context.Context, hc *upstream.Client, ext string, cred Credential) (*Capabilities, error) {
	fetch := func(path string) (gjson.Result, error) {
		h := http.Header{"Accept": acceptValue}
		upstream.SetUserAgent(h)
		if cred != nil {
			v, err := cred.Authorization(ctx)
			if err != nil {
				return gjson.Result{}, &DiscoveryError{Endpoint: path, Problem: "no credential: upstream.scim.discoveryCredentials: " + err.Error(),
					Unreachable: errors.Is(err, auth.ErrNoAnswer)}
			}
			h.Set("Authorization", v)
		}
		res, cerr := hc.DoFor(ctx, upstream.UserRef{}, http.MethodGet, path, nil, h)
		switch {
		case cerr != nil:
			return gjson.Result{}, &DiscoveryError{Endpoint: path, Problem: cerr.Message, Unreachable: true}
		case res.Status >= 500, res.Status == http.StatusTooManyRequests, res.Status == http.StatusRequestTimeout:
			// Down or busy: the endpoint is there, its answer comes later.
			return gjson.Result{}, &DiscoveryError{Endpoint: path, Problem: "answered " + strconv.Itoa(res.Status), Unreachable: true}
		case (res.Status == http.StatusUnauthorized || res.Status == http.StatusForbidden) && cred == nil:
			return gjson.Result{}, &DiscoveryError{Endpoint: path, Problem: "answered " + strconv.Itoa(res.Status) +
				": the provider wants credentials for discovery: set upstream.scim.discoveryCredentials, or pin the capabilities with upstream.scim.discover: false"}
		case res.Status == http.StatusUnauthorized || res.Status == http.StatusForbidden:
			return gjson.Result{}, &DiscoveryError{Endpoint: path, Problem: "answered " + strconv.Itoa(res.Status) +
				": the provider refused upstream.scim.discoveryCredentials"}
		case res.Status < 200 || res.Status > 299:
			return gjson.Result{}, &DiscoveryError{Endpoint: path, Problem: "answered " + strconv.Itoa(res.Status) +
				" (a provider without the discovery endpoints: upstream.scim.discover: false pins the capabilities)"}
		}
		doc := gjson.ParseBytes(res.Body)
		if !doc.IsObject() {
			return doc, &DiscoveryError{Endpoint: path, Problem: "the reply is not a JSON object"}
		}
		return doc, nil
	}
	spc, err := fetch("/ServiceProviderConfig")
	if err != nil {
		return nil, err
	}
	c := &Capabilities{Discovered: true, refused: map[string]string{},
		Patch: get2(spc, "patch", "supported").Type == gjson.True,
		ETag:  get2(spc, "etag", "supported").Type == gjson.True,
		Bulk:  get2(spc, "bulk", "supported").Type == gjson.True}
	types, err := fetch("/ResourceTypes")
	if err != nil {
		return nil, err
	}
	var user gjson.Result
	get(types, "Resources").ForEach(func(_, rt gjson.Result) bool {
		if strings.EqualFold(strings.TrimSuffix(get(rt, "endpoint").Str, "/"), "/Users") {
			user = rt
			return false
		}
		return true
	})
	if !user.Exists() {
		return nil, &DiscoveryError{Endpoint: "/ResourceTypes", Problem: "no resource type has the endpoint /Users"}
	}
	core := get(user, "schema").Str
	if core == "" {
		core = UserSchema // required by RFC 7643 §6; a provider that leaves it out means the core User
	}
	c.Schemas = append(c.Schemas, core)
	get(user, "schemaExtensions").ForEach(func(_, e gjson.Result) bool {
		if s := get(e, "schema").Str; s != "" {
			c.Schemas = append(c.Schemas, s)
		}
		return true
	})
	list, err := fetch("/Schemas")
	if err != nil {
		return nil, err
	}
	schemas := map[string]gjson.Result{}
	get(list, "Resources").ForEach(func(_, s gjson.Result) bool {
		schemas[strings.ToLower(get(s, "id").Str)] = s
		return true
	})
	for _, f := range fieldAttrs {
		urn := f.schema
		if urn == "" {
			urn = ext
		}
		if why := holds(c.Schemas, schemas, urn, f.attr); why != "" {
			c.refused[f.field] = why
		}
	}
	return c, nil
}

// holds is why the provider's User cannot hold the attribute path attr
// of schema urn, "" when it can: the schema must be the User's or one of
// its extensions, and, when /Schemas describes it, list the attribute
// (and sub-attribute) as writable.
func holds(userSchemas []string, schemas map[string]gjson.Result, urn, attr string) string {
	if !slices.ContainsFunc(userSchemas, func(s string) bool { return strings.EqualFold(s, urn) }) {
		return "the SCIM upstream's User does not declare the schema " + urn
	}
	s, ok := schemas[strings.ToLower(urn)]
	if !ok {
		return "" // declared, not described: taken as it is
	}
	name, sub, _ := strings.Cut(attr, ".")
	a := findAttr(get(s, "attributes"), name)
	if a.Exists() && sub != "" && get(a, "subAttributes").IsArray() {
		a = findAttr(get(a, "subAttributes"), sub)
	}
	switch {
	case !a.Exists():
		return "the SCIM upstream's schema " + urn + " has no attribute " + attr
	case strings.EqualFold(get(a, "mutability").Str, "readOnly"), strings.EqualFold(get(a, "mutability").Str, "immutable"):
		return "the SCIM upstream's attribute " + attr + " is " + get(a, "mutability").Str
	}
	return ""
}

func findAttr(list gjson.Result, name string) gjson.Result {
	var hit gjson.Result
	list.ForEach(func(_, a gjson.Result) bool {
		if strings.EqualFold(get(a, "name").Str, name) {
			hit = a
			return false
		}
		return true
	})
	return hit
}

func get2(obj gjson.Result, a, b string) gjson.Result { return get(get(obj, a), b) }

// Discover reads the provider's capabilities (upstream.scim.discover) and
// uses them from now on; with discover: false it returns the pinned ones.
// Its error is a *DiscoveryError, and the capabilities in use stay as
// they were.
func (c *Client) Discover(ctx context.Context) (*Capabilities, error) {
	if caps := c.caps.Load(); caps != nil && !caps.Discovered {
		return caps, nil
	}
	caps, err := discover(ctx, c.http, c.read, c.cred)
	if err != nil {
		return nil, err
	}
	c.caps.Store(caps)
	return caps, nil
}

// Capabilities are the capabilities in use, nil before a discovery has
// succeeded.
func (c *Client) Capabilities() *Capabilities { return c.caps.Load() }

// ensure returns the capabilities in use, discovering them first when no
// discovery has succeeded yet (upstream.scim.startUndiscovered); nothing
// is sent to /Users until one has. The caller gets unavailable in the
// words of any other 503, with a Retry-After as the breaker's 503 has: why
// discovery failed is the operator's (start-up log, /readyz), and may name
// configuration keys or the token endpoint's refusal. The wait ends with
// ctx, and after upstream.timeout when ctx has no deadline (an update's
// has none: upstream.timeout bounds each of its calls, and this wait is
// one), the discovery going on for the next caller.
//
// The Result is the wait's, for the caller's logs and metrics: Waited when
// no capabilities were known yet (a discovery was made or waited for),
// with why none came as its Cause.
func (c *Client) ensure(ctx context.Context) (*Capabilities, *upstream.Result, *canonical.Error) {
	res := &upstream.Result{}
	if c.caps.Load() == nil {
		res.Waited = true
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, c.flight.wait)
			defer cancel()
		}
	}
	caps, err := c.discovered(ctx)
	if err != nil {
		res.Cause = err
		e := canonical.Errorf(canonical.Unavailable, upstream.GenericMessage(canonical.Unavailable))
		e.RetryAfter = "1"
		return nil, res, e
	}
	return caps, res, nil
}

// discovery is the one discovery under way at a time: every caller that
// needs the capabilities meanwhile waits for its outcome, each no longer
// than its own context allows. (A mutex held across the discovery made
// each caller wait for the one before it, then make its own: an update, or
// /readyz, queued behind discoveries it could not cut short.)
type discovery struct {
	mu    sync.Mutex
	now   *flight       // nil when none is under way
	bound time.Duration // how long a discovery may take
	wait  time.Duration // how long an update waits for one (upstream.timeout)
}

type flight struct {
	done chan struct{} // closed with caps and err set
	caps *Capabilities
	err  error
}

// limit bounds a discovery by one upstream.timeout for the credential and
// each of the three endpoints, an update's wait for it by one.
func (d *discovery) limit(timeout time.Duration) {
	if timeout <= 0 {
		timeout = config.DefaultTimeout
	}
	d.bound, d.wait = 4*timeout, timeout
}

// discovered is the provider's capabilities, discovered now if they are
// not known yet, or discovery's error; ctx.Err() when ctx ends first. The
// discovery runs on its own deadline, not the caller's (whose end would
// cut it short for every other caller), and on the client's context, not
// the caller's: it keeps none of the first caller's request, and Close
// ends it.
func (c *Client) discovered(ctx context.Context) (*Capabilities, error) {
	if caps := c.caps.Load(); caps != nil {
		return caps, nil
	}
	d := &c.flight
	d.mu.Lock()
	if caps := c.caps.Load(); caps != nil {
		d.mu.Unlock()
		return caps, nil
	}
	f := d.now
	if f == nil {
		f = &flight{done: make(chan struct{})}
		d.now = f
		go c.discover(f)
	}
	d.mu.Unlock()
	select {
	case <-f.done:
		return f.caps, f.err
	case <-ctx.Done():
		return nil, &waitError{ctx.Err()}
	}
}

// discover makes the discovery f stands for, bounded by d.bound and ended
// by Close. It runs outside any handler's recover: a panic in Discover or
// in Options.Discovered becomes f's error instead of ending the process.
func (c *Client) discover(f *flight) {
	d := &c.flight
	defer func() {
		if v := recover(); v != nil {
			f.caps, f.err = nil, &panicError{v}
		}
		d.mu.Lock()
		d.now = nil
		d.mu.Unlock()
		close(f.done)
	}()
	ctx, cancel := context.WithTimeout(c.life, d.bound)
	defer cancel()
	f.caps, f.err = c.Discover(ctx)
	if f.err == nil && c.onDiscovered != nil {
		c.onDiscovered(f.caps)
	}
}
