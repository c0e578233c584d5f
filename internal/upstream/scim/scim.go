// Package scim is userbridge's `scim` upstream profile: each canonical
// update becomes one SCIM 2.0 PATCH of a User (RFC 7644 §3.5.2), or GET +
// PUT where the provider does not support PATCH, and the SCIM User the
// server answers with becomes the canonical user again. What the provider
// holds and supports is discovered first (discovery.go).
package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/upstream"
	"github.com/userbridge/userbridge/internal/upstream/idcache"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// SCIM URNs and the media type.
const (
	UserSchema         = "urn:ietf:params:scim:schemas:core:2.0:User"
	EnterpriseSchema   = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	PatchOpSchema      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	ListResponseSchema = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	ErrorSchema        = "urn:ietf:params:scim:api:messages:2.0:Error"
	MediaType          = "application/scim+json"
)

// Defaults.
const (
	// DefaultExtensionSchema holds locked, deleted, attributes and
	// extensions, which have no SCIM core attribute.
	DefaultExtensionSchema = config.DefaultSCIMExtensionSchema
	DefaultLookupTTL       = config.DefaultLookupTTL
)

// Client sends canonical updates to a SCIM 2.0 server. It implements
// server.Upstream and is safe for concurrent use.
type Client struct {
	http  *upstream.Client
	ext   string // the extension schema URN, "" when unmapped fields are refused
	read  string // the extension schema URN read back, whatever Unmapped says
	cache *idcache.Cache

	cred         Credential          // discovery's (upstream.scim.discoveryCredentials), nil for none
	onDiscovered func(*Capabilities) // Options.Discovered

	caps   atomic.Pointer[Capabilities] // nil until discovered
	flight discovery                    // the discovery under way for ensure and Ready

	life context.Context    // a discovery's: Close ends it
	stop context.CancelFunc // ends life
}

// Credential gives the Authorization value discovery sends: internal/auth's
// Credential, built from upstream.scim.discoveryCredentials.
type Credential interface {
	// Authorization is the header's value; its error names no secret.
	Authorization(ctx context.Context) (string, error)
}

// Options are what a Client needs besides its configuration.
type Options struct {
	// DiscoveryCredential is sent as Authorization on the discovery
	// requests, and on no other. Required when
	// upstream.scim.discoveryCredentials is set (built from it), nil
	// otherwise.
	DiscoveryCredential Credential
	// Discovered, when set, is called with the capabilities a discovery
	// made after start-up found (upstream.scim.startUndiscovered: on an
	// update or /readyz), for the operator's log as start-up's are.
	Discovered func(*Capabilities)
}

// New is NewWith without options: for a configuration without
// upstream.scim.discoveryCredentials.
func New(hc *upstream.Client, cfg config.Upstream) (*Client, error) {
	return NewWith(hc, cfg, Options{})
}

// NewWith checks the scim keys of cfg (config.SCIM.Check) and returns a
// client that speaks SCIM through hc, whose base URL is the SCIM service's
// (the one /Users is under). Unset keys take their defaults:
// DefaultExtensionSchema, extension for unmapped fields, a lookup TTL of
// DefaultLookupTTL (negative remembers nothing; a 404 on a remembered id
// forgets it and looks the username up again).
func NewWith(hc *upstream.Client, cfg config.Upstream, o Options) (*Client, error) {
	var errs []error
	if err := cfg.SCIM.Check(); err != nil {
		errs = append(errs, fmt.Errorf("scim: %w", err))
	}
	if hc == nil {
		errs = append(errs, errors.New("scim: no HTTP client"))
	}
	if (cfg.SCIM.DiscoveryCredentials != nil) != (o.DiscoveryCredential != nil) {
		errs = append(errs, errors.New("scim: upstream.scim.discoveryCredentials and Options.DiscoveryCredential go together"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	ext, ttl := cfg.SCIM.ExtensionSchema, cfg.LookupTTL.D()
	if ext == "" {
		ext = DefaultExtensionSchema
	}
	if ttl == 0 {
		ttl = DefaultLookupTTL
	}
	c := &Client{http: hc, read: ext, cache: idcache.New(ttl, 0), cred: o.DiscoveryCredential, onDiscovered: o.Discovered}
	c.life, c.stop = context.WithCancel(context.Background())
	c.flight.limit(cfg.Timeout.D())
	if cfg.SCIM.Unmapped != config.UnmappedReject {
		c.ext = ext
	}
	if !cfg.SCIM.Discovers() {
		c.caps.Store(pinned(cfg.SCIM, ext))
	}
	return c, nil
}

// Unmapped lists the canonical fields refused because
// upstream.scim.unmapped is reject (those only userbridge's extension
// schema holds), nil otherwise: for the operator's log, as the caller is
// told only that the upstream cannot store its field.
func (c *Client) Unmapped() []string {
	if c.ext != "" {
		return nil
	}
	var out []string
	for _, f := range fieldAttrs {
		if f.schema == "" {
			out = append(out, f.field)
		}
	}
	return out
}

// CheckUpdate refuses, before any call (server.UpdateChecker), an update
// Patch would refuse without sending it: a field the provider's User cannot
// hold or that has no attribute, an address SCIM cannot carry. Until the
// provider's capabilities are known (discovery), Patch alone decides.
func (c *Client) CheckUpdate(_ canonical.Target, update []byte) *canonical.Error {
	caps := c.caps.Load()
	if caps == nil {
		return nil
	}
	_, _, cerr := buildPatch(update, c.ext, caps)
	return cerr
}

// Patch sends the canonical update call.Body as one SCIM PATCH of the
// user, or as GET + PUT when the provider does not support PATCH
// (replace). An update that changes nothing is a GET (a PatchOp needs at least
// one operation). A user named by username is looked up first (or found in
// the cache). Success is 200 with the canonical user, or 204 when the
// server answers without the user.
func (c *Client) Patch(ctx context.Context, call *upstream.Call) (*upstream.Result, *canonical.Error) {
	if call.Body == nil {
		return &upstream.Result{}, canonical.Errorf(canonical.Internal, "no update document to send")
	}
	if !gjson.ValidBytes(call.Body) {
		return &upstream.Result{}, canonical.Errorf(canonical.Internal, "the update document is not JSON")
	}
	if caps := c.caps.Load(); caps != nil { // discovered: nothing to wait for
		return c.patch(ctx, call, caps)
	}
	caps, pre, cerr := c.ensure(ctx)
	if cerr != nil {
		return pre, cerr
	}
	res, cerr := c.patch(ctx, call, caps)
	if res == nil {
		return pre, cerr
	}
	res.Waited = pre.Waited // patch never waits for discovery
	return res, cerr
}

// patch is Patch with the provider's capabilities known.
func (c *Client) patch(ctx context.Context, call *upstream.Call, caps *Capabilities) (*upstream.Result, *canonical.Error) {
	body, fields, cerr := buildPatch(call.Body, c.ext, caps)
	if cerr != nil {
		return &upstream.Result{}, cerr
	}
	if body == nil {
		return c.Get(ctx, call)
	}
	t := &trip{c: c, call: call}
	var res *upstream.Result
	if caps.Patch {
		res, cerr = t.withID(ctx, func(id string) (*upstream.Result, *canonical.Error) {
			return c.http.DoFor(ctx, call.User(), http.MethodPatch, userPath(id), body, c.header(call.Header, true))
		})
		if cerr == nil && noTarget(res) {
			// A strict provider refuses a remove whose filter matches no
			// value (the pairs' remove before add), and a PATCH applies
			// whole or not at all (RFC 5789 §2): the same changes as
			// GET + PUT instead.
			res, cerr = c.replace(ctx, t, caps)
		}
	} else {
		res, cerr = c.replace(ctx, t, caps)
	}
	if cerr != nil {
		return t.Result(res), cerr
	}
	out := t.Result(res)
	switch {
	case res.Status == http.StatusNoContent:
		out.Status, out.Body = http.StatusNoContent, nil
	case res.Status >= 200 && res.Status < 300:
		user := toCanonical(gjson.ParseBytes(res.Body), c.read)
		if user == nil {
			e := canonical.Errorf(canonical.BadGateway, "upstream reply unreadable")
			e.Applied = true
			return out, e
		}
		out.Status, out.Body = http.StatusOK, user
	default:
		return out, mapError(res.Status, res.Body, res.Header.Get("Retry-After"), fields, true)
	}
	if name := gjson.GetBytes(call.Body, "set.username"); name.Exists() {
		c.cache.ForgetID(t.id)
		c.cache.Put(call.Tenant, name.Str, t.id)
	}
	return out, nil
}

// Get fetches the user as a canonical user. A user named by username is
// taken straight from the search that finds it, unless its id is cached.
func (c *Client) Get(ctx context.Context, call *upstream.Call) (*upstream.Result, *canonical.Error) {
	t := &trip{c: c, call: call}
	res, cerr := t.withID(ctx, func(id string) (*upstream.Result, *canonical.Error) {
		if t.found.Exists() {
			return &upstream.Result{Status: http.StatusOK, Body: []byte(t.found.Raw)}, nil
		}
		return c.http.DoFor(ctx, call.User(), http.MethodGet, userPath(id), nil, c.header(call.Header, false))
	})
	out := t.Result(res)
	if cerr != nil {
		return out, cerr
	}
	if res.Status < 200 || res.Status > 299 {
		return out, mapError(res.Status, res.Body, res.Header.Get("Retry-After"), nil, false)
	}
	user := toCanonical(gjson.ParseBytes(res.Body), c.read)
	if user == nil {
		return out, canonical.Errorf(canonical.BadGateway, "upstream reply unreadable")
	}
	out.Status, out.Body = http.StatusOK, user
	return out, nil
}

// Ready reports whether the SCIM server accepts connections and its
// capabilities are known: while no discovery has succeeded, it tries one.
func (c *Client) Ready(ctx context.Context) error {
	if _, err := c.discovered(ctx); err != nil {
		var de *DiscoveryError
		if errors.As(err, &de) && !de.Unreachable {
			return fmt.Errorf("%w: %w", ErrNotDiscovered, err)
		}
		return err
	}
	return c.http.Ready(ctx)
}

// ErrNotDiscovered is Ready's error when the provider answers but its
// capabilities could not be discovered from what it answered (a 401 or
// 403, an endpoint that answers something else): /readyz says so rather
// than unreachable.
var ErrNotDiscovered = errors.New("scim: the provider's capabilities are not discovered")

// BreakerState is the circuit breaker's state.
func (c *Client) BreakerState() string { return c.http.BreakerState() }

// Close ends a discovery under way (its waiters are told it failed) and
// closes idle connections. A discovery after it fails at once.
func (c *Client) Close() {
	c.stop()
	c.http.Close()
}

// header copies the caller's header and adds SCIM's media types.
func (c *Client) header(from http.Header, body bool) http.Header {
	h := make(http.Header, len(from)+3)
	for k, v := range from {
		h[k] = v
	}
	h["Accept"] = acceptValue
	if body {
		h["Content-Type"] = mediaTypeValue
	} else {
		delete(h, "Content-Type")
	}
	upstream.SetUserAgent(h) // complete: Do sends it as it is
	return h
}

// The header values every exchange carries, shared: nothing modifies them.
var (
	acceptValue    = []string{MediaType + ", application/json"}
	mediaTypeValue = []string{MediaType}
)

func userPath(id string) string { return "/Users/" + url.PathEscape(id) }

// noTarget is whether res is RFC 7644 §3.12's 400 noTarget: a PATCH path
// filter that matched no value.
func noTarget(res *upstream.Result) bool {
	return res.Status == http.StatusBadRequest && get(gjson.ParseBytes(res.Body), "scimType").Str == "noTarget"
}

// trip is one call's exchanges: the lookup, when the user is named by
// username, then the request proper.
type trip struct {
	c     *Client
	call  *upstream.Call
	id    string
	found gjson.Result // the SCIM user the lookup returned, for Get
	upstream.Tally
}

// withID resolves the user's id and runs send with it. A 404 on an id
// taken from the cache forgets it, looks the username up again and sends
// once more: the first request addressed no user, so nothing was applied.
func (t *trip) withID(ctx context.Context, send func(id string) (*upstream.Result, *canonical.Error)) (*upstream.Result, *canonical.Error) {
	call := t.call
	if call.Target != canonical.ByID && call.Target != canonical.ByUsername {
		return nil, canonical.Errorf(canonical.Internal, "the update names its user neither by id nor by username")
	}
	if err := upstream.CheckValue(call.Target.String(), call.Value); err != nil {
		return nil, err
	}
	if call.Target == canonical.ByID {
		t.id = call.Value
		return t.Note(send(t.id))
	}
	if id, ok := t.c.cache.Get(call.Tenant, call.Value); ok {
		t.id = id
		res, cerr := t.Note(send(id))
		if res == nil || res.Status != http.StatusNotFound {
			return res, cerr
		}
		t.c.cache.Forget(call.Tenant, call.Value)
	}
	if cerr := t.lookup(ctx); cerr != nil {
		return t.Last, cerr
	}
	return t.Note(send(t.id))
}

// lookup finds the id of the user named call.Value:
// GET /Users?filter=userName eq "<value>".
func (t *trip) lookup(ctx context.Context) *canonical.Error {
	call := t.call
	if !utf8.ValidString(call.Value) {
		return canonical.Errorf(canonical.InvalidField, "the username is not valid UTF-8")
	}
	filter := "userName eq " + filterString(call.Value)
	path := "/Users?filter=" + strings.ReplaceAll(url.QueryEscape(filter), "+", "%20")
	res, cerr := t.Note(t.c.http.DoFor(ctx, call.User(), http.MethodGet, path, nil, t.c.header(call.Header, false)))
	if cerr != nil {
		return cerr
	}
	if res.Status < 200 || res.Status > 299 {
		if res.Status == http.StatusBadRequest {
			// The server could not take the filter: the username is the problem.
			e := mapError(res.Status, res.Body, "", []string{"username"}, false)
			return e
		}
		return mapError(res.Status, res.Body, res.Header.Get("Retry-After"), nil, false)
	}
	list := gjson.ParseBytes(res.Body)
	if !list.IsObject() {
		return canonical.Errorf(canonical.BadGateway, "upstream reply unreadable")
	}
	var exact, any gjson.Result
	n := 0
	get(list, "Resources").ForEach(func(_, u gjson.Result) bool {
		name := get(u, "userName").Str
		if !strings.EqualFold(name, call.Value) {
			return true // not what was asked for, whatever the server thought
		}
		n++
		any = u
		if name == call.Value && !exact.Exists() {
			exact = u
		}
		return true
	})
	switch {
	case exact.Exists():
		t.found = exact
	case n == 1:
		t.found = any
	case n == 0:
		return canonical.Errorf(canonical.NotFound, "no such user")
	default:
		return canonical.Errorf(canonical.Conflict, "several users match this username")
	}
	t.id = get(t.found, "id").Str
	if t.id == "" {
		return canonical.Errorf(canonical.BadGateway, "the upstream's user has no id")
	}
	t.c.cache.Put(call.Tenant, call.Value, t.id)
	return nil
}
