// Package rest is userbridge's `rules` upstream profile: an operator
// describes any JSON REST user API in a YAML rule file (docs/upstreams.md)
// — the request per way of naming the user, the canonical update as its
// body, the upstream user as the canonical user, its errors as canonical
// errors, and how a username becomes an id — with the template language of
// the dialects' rule files.
package rest

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/upstream"
	"github.com/userbridge/userbridge/internal/upstream/idcache"
	"github.com/userbridge/userbridge/mapping"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// DefaultLookupTTL is how long a username's id is remembered by default.
const DefaultLookupTTL = config.DefaultLookupTTL

// Client sends canonical updates to the upstream its rules describe. It
// implements server.Upstream and is safe for concurrent use.
type Client struct {
	http  *upstream.Client
	rules *Rules
	cache *idcache.Cache
}

// New returns a client that speaks to hc's upstream as rules say. Of cfg
// it reads upstream.lookupTTL: how long the id a username resolved to is
// remembered (0: DefaultLookupTTL; negative remembers nothing; a 404 on a
// remembered id forgets it and looks the username up again).
func New(hc *upstream.Client, rules *Rules, cfg config.Upstream) (*Client, error) {
	if hc == nil || rules == nil {
		return nil, errors.New("rest: an HTTP client and rules are required")
	}
	ttl := cfg.LookupTTL.D()
	if ttl == 0 {
		ttl = DefaultLookupTTL
	}
	return &Client{http: hc, rules: rules, cache: idcache.New(ttl, 0)}, nil
}

// Rules are the client's compiled rules.
func (c *Client) Rules() *Rules { return c.rules }

// Ready reports whether the upstream accepts connections.
func (c *Client) Ready(ctx context.Context) error { return c.http.Ready(ctx) }

// BreakerState is the circuit breaker's state.
func (c *Client) BreakerState() string { return c.http.BreakerState() }

// Close closes idle connections.
func (c *Client) Close() { c.http.Close() }

// Patch applies the canonical update call.Body with the update request of
// the call's target kind. Fields the rules do not accept are refused first.
// Success is 200 with the canonical user when the request's userInReply is
// set, else 204.
func (c *Client) Patch(ctx context.Context, call *upstream.Call) (*upstream.Result, *canonical.Error) {
	if call.Body == nil || !gjson.ValidBytes(call.Body) {
		return &upstream.Result{}, canonical.Errorf(canonical.Internal, "no update document to send")
	}
	if err := c.rules.check(call.Body, c.rules.update.forTarget(call.Target)); err != nil {
		return &upstream.Result{}, err
	}
	t := &trip{c: c, call: call}
	res, cerr := t.run(ctx, &c.rules.update)
	out := t.Result(res)
	if cerr != nil {
		return out, cerr
	}
	if res.Status < 200 || res.Status > 299 {
		return out, c.rules.mapError(res, true)
	}
	q := t.req
	if !q.userInReply || len(res.Body) == 0 {
		out.Status = http.StatusNoContent
	} else {
		user, err := c.rules.toUser(res.Body, t.params)
		if err != nil {
			err.Applied = true
			return out, err
		}
		out.Status, out.Body = http.StatusOK, user
	}
	if name := gjson.GetBytes(call.Body, "set.username"); name.Exists() && t.params.id != "" {
		c.cache.ForgetID(t.params.id)
		c.cache.Put(call.Tenant, name.Str, t.params.id)
	}
	return out, nil
}

// CheckUpdate refuses an update with a field the rules do not accept, or
// that the update request of target would drop, as Patch does, before any
// call (server.UpdateChecker).
func (c *Client) CheckUpdate(target canonical.Target, update []byte) *canonical.Error {
	return c.rules.check(update, c.rules.update.forTarget(target))
}

// Get reads the user with the get request of the call's target kind.
func (c *Client) Get(ctx context.Context, call *upstream.Call) (*upstream.Result, *canonical.Error) {
	t := &trip{c: c, call: call}
	res, cerr := t.run(ctx, &c.rules.get)
	out := t.Result(res)
	if cerr != nil {
		return out, cerr
	}
	if res.Status < 200 || res.Status > 299 {
		return out, c.rules.mapError(res, false)
	}
	user, err := c.rules.toUser(res.Body, t.params)
	if err != nil {
		return out, err
	}
	out.Status, out.Body = http.StatusOK, user
	return out, nil
}

// check refuses a field the rules do not accept, and what the update
// request q would drop of what the update carries (checkCarried).
func (r *Rules) check(update []byte, q *request) *canonical.Error {
	var err *canonical.Error
	doc := gjson.ParseBytes(update)
	doc.Get("set").ForEach(func(k, v gjson.Result) bool {
		if !r.set[k.Str] {
			field := k.Str
			if field == "extensions" {
				v.ForEach(func(d, m gjson.Result) bool {
					m.ForEach(func(n, _ gjson.Result) bool {
						field = "extensions." + d.Str + "." + n.Str
						return false
					})
					return field == "extensions"
				})
				if field == "extensions" {
					return true // {} or {"d": {}}: nothing to set
				}
			}
			err = canonical.FieldError(field, "the "+r.name+" upstream cannot store this field")
		}
		return err == nil
	})
	if err != nil {
		return err
	}
	doc.Get("unset").ForEach(func(_, v gjson.Result) bool {
		name := v.Str
		if strings.HasPrefix(name, "extensions.") {
			name = "extensions"
		}
		if !r.unset[name] {
			err = canonical.FieldError(v.Str, "the "+r.name+" upstream cannot remove this field")
		}
		return err == nil
	})
	if err != nil {
		return err
	}
	return q.checkCarried(doc, r.name)
}

// requests are the requests of one kind (update, get), indexed by
// canonical.Target.
type requests [3]*request

// forTarget is the request run sends for a call naming its user by target: the
// target's own, or byId's (after the lookup) when a username has none.
func (reqs *requests) forTarget(target canonical.Target) *request {
	if target == canonical.ByUsername && reqs[canonical.ByUsername] != nil {
		return reqs[canonical.ByUsername]
	}
	return reqs[canonical.ByID]
}

// params are a call's ${param.…}: id, username and tenant.
type params struct{ id, username, tenant string }

// ByName implements mapping.Params.
func (p params) ByName(name string) string {
	switch name {
	case "id":
		return p.id
	case "username":
		return p.username
	case "tenant":
		return p.tenant
	}
	return ""
}

// trip is one call's exchanges: the lookup, when needed, then the request
// proper.
type trip struct {
	c      *Client
	call   *upstream.Call
	params params
	req    *request
	upstream.Tally
}

// run sends the request of reqs for the call's target kind, looking the
// username up first when that kind has no request of its own. A 404 on an
// id taken from the cache forgets it, looks the username up again and
// sends once more: the first request addressed no user.
func (t *trip) run(ctx context.Context, reqs *requests) (*upstream.Result, *canonical.Error) {
	call := t.call
	if call.Target != canonical.ByID && call.Target != canonical.ByUsername {
		return nil, canonical.Errorf(canonical.Internal, "the update names its user neither by id nor by username")
	}
	if err := upstream.CheckValue(call.Target.String(), call.Value); err != nil {
		return nil, err
	}
	t.params.tenant = call.Tenant
	if call.Target == canonical.ByID {
		t.params.id = call.Value
		return t.send(ctx, reqs[canonical.ByID])
	}
	t.params.username = call.Value
	if q := reqs[canonical.ByUsername]; q != nil {
		return t.send(ctx, q) // as requests.forTarget picks
	}
	if id, ok := t.c.cache.Get(call.Tenant, call.Value); ok {
		t.params.id = id
		res, cerr := t.send(ctx, reqs[canonical.ByID])
		if res == nil || res.Status != http.StatusNotFound {
			return res, cerr
		}
		t.c.cache.Forget(call.Tenant, call.Value)
	}
	if cerr := t.lookup(ctx); cerr != nil {
		return t.Last, cerr
	}
	return t.send(ctx, reqs[canonical.ByID])
}

// send makes one request.
func (t *trip) send(ctx context.Context, q *request) (*upstream.Result, *canonical.Error) {
	t.req = q
	d := &mapping.TemplateData{Update: t.call.Body, Params: t.params}
	var body []byte
	h := header(t.call.Header)
	if q.body != nil {
		body = q.body.Render(d)
		h["Content-Type"] = q.contentType
	}
	if q.merge != nil {
		stored, res, cerr := t.read(ctx, q.merge, d, q.mergeFrom)
		if cerr != nil {
			return res, cerr
		}
		if body, cerr = overlay(stored, body); cerr != nil {
			return res, cerr
		}
	}
	return t.Note(t.c.http.DoFor(ctx, t.call.User(), q.method, q.path.Text(d), body, h))
}

// read GETs the user as the upstream stores it, for a merge: the reply,
// or the object at the gjson path at in it (mergeFrom).
func (t *trip) read(ctx context.Context, g *request, d *mapping.TemplateData, at string) ([]byte, *upstream.Result, *canonical.Error) {
	res, cerr := t.Note(t.c.http.DoFor(ctx, t.call.User(), g.method, g.path.Text(d), nil, header(t.call.Header)))
	if cerr != nil {
		return nil, res, cerr
	}
	if res.Status < 200 || res.Status > 299 {
		return nil, res, t.c.rules.mapError(res, false)
	}
	if !isObject(res.Body) {
		return nil, res, canonical.Errorf(canonical.BadGateway, "upstream reply unreadable")
	}
	if at == "" {
		return res.Body, res, nil
	}
	if u := gjson.GetBytes(res.Body, at); u.IsObject() {
		return []byte(u.Raw), res, nil
	}
	// Laid over anything else, the update would replace the user with
	// what it names alone.
	return nil, res, canonical.Errorf(canonical.BadGateway, "upstream reply unreadable")
}

// isObject reports whether b is one valid JSON object (a reply of Do is
// handed back unchecked).
func isObject(b []byte) bool { return gjson.ValidBytes(b) && gjson.ParseBytes(b).IsObject() }

// overlay lays body's top-level members over the stored user's.
func overlay(stored, body []byte) ([]byte, *canonical.Error) {
	out := append([]byte(nil), stored...)
	var err error
	gjson.ParseBytes(body).ForEach(func(k, v gjson.Result) bool {
		out, err = sjson.SetRawBytes(out, sjsonKey(k.Str), []byte(v.Raw))
		return err == nil
	})
	if err != nil {
		return nil, canonical.Errorf(canonical.Internal, "the update could not be laid over the stored user")
	}
	return out, nil
}

// sjsonKey escapes a member name for sjson's path syntax.
func sjsonKey(k string) string {
	var b strings.Builder
	for _, r := range k {
		if strings.ContainsRune(`.*?|#@\:!=<>%`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// lookup finds the user's id.
func (t *trip) lookup(ctx context.Context) *canonical.Error {
	l := t.c.rules.lookup
	if l == nil {
		return canonical.Errorf(canonical.Internal, "the "+t.c.rules.name+" rules cannot find a user by username")
	}
	d := &mapping.TemplateData{Params: t.params}
	res, cerr := t.Note(t.c.http.DoFor(ctx, t.call.User(), l.method, l.path.Text(d), nil, header(t.call.Header)))
	if cerr != nil {
		return cerr
	}
	if res.Status < 200 || res.Status > 299 {
		return t.c.rules.mapError(res, false)
	}
	if !gjson.ValidBytes(res.Body) {
		return canonical.Errorf(canonical.BadGateway, "upstream reply unreadable")
	}
	id := gjson.GetBytes(res.Body, l.id)
	if l.username != "" && !strings.EqualFold(gjson.GetBytes(res.Body, l.username).String(), t.call.Value) {
		return canonical.Errorf(canonical.NotFound, "no such user")
	}
	if id.Type != gjson.String && id.Type != gjson.Number || id.String() == "" {
		return canonical.Errorf(canonical.NotFound, "no such user")
	}
	t.params.id = id.String()
	t.c.cache.Put(t.call.Tenant, t.call.Value, t.params.id)
	return nil
}

// header copies the caller's header; the upstream speaks JSON.
func header(from http.Header) http.Header {
	h := make(http.Header, len(from)+2)
	for k, v := range from {
		h[k] = v
	}
	h["Accept"] = jsonValue
	delete(h, "Content-Type")
	upstream.SetUserAgent(h) // complete: Do sends it as it is
	return h
}

// jsonValue is the Accept of every exchange, shared: nothing modifies it.
var jsonValue = []string{"application/json"}

// toUser maps an upstream user to a valid canonical user.
func (r *Rules) toUser(body []byte, p params) ([]byte, *canonical.Error) {
	if !isObject(body) {
		return nil, canonical.Errorf(canonical.BadGateway, "upstream reply unreadable")
	}
	user := r.user.Render(&mapping.TemplateData{Reply: body, Params: p})
	if err := canonical.ValidateUser(user); err != nil {
		return nil, canonical.Errorf(canonical.BadGateway, "the "+r.name+" user does not map to a canonical user: "+err.Error())
	}
	return user, nil
}

// mapError maps a reply that is not a success.
func (r *Rules) mapError(res *upstream.Result, update bool) *canonical.Error {
	status := res.Status
	e := &canonical.Error{}
	switch {
	case status >= 500:
		return upstream.ServerError(status, res.Header.Get("Retry-After"), update)
	case status == http.StatusTooManyRequests:
		e.Code, e.RetryAfter = canonical.RateLimited, res.Header.Get("Retry-After")
	case status >= 400:
		rule := r.match(status, res.Body)
		if rule == nil {
			if e.Code = canonical.CodeForStatus(status); e.Code == canonical.BadGateway {
				return upstream.UnexpectedStatus(status)
			}
			break
		}
		e.Code, e.Field = rule.code, rule.field
		if rule.message != nil {
			e.Message = clip(rule.message.Text(&mapping.TemplateData{Reply: res.Body}))
		}
	default:
		return upstream.UnexpectedStatus(status)
	}
	if e.Message == "" {
		e.Message = genericMessage(e.Code)
	}
	return e
}

func (r *Rules) match(status int, body []byte) *errorRule {
	for i := range r.errors {
		rule := &r.errors[i]
		hit := false
		for _, s := range rule.status {
			hit = hit || s == status
		}
		if hit && rule.pattern != nil {
			hit = matches(rule.pattern, gjson.GetBytes(body, rule.path).String())
		}
		if hit {
			return rule
		}
	}
	return nil
}

func matches(re *regexp.Regexp, s string) bool { return s != "" && re.MatchString(s) }

// genericMessage is the text shown when the upstream's error says nothing.
func genericMessage(code canonical.Code) string {
	if m := upstream.GenericMessage(code); m != "" {
		return m
	}
	return "the upstream failed"
}

// clip bounds an upstream text shown to a caller.
func clip(s string) string { return upstream.Clip(s, 512) }
