package backend

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/userbridge/userbridge/mapping/canonical"
)

// The request headers the backend reads.
const (
	HeaderTenant         = "X-Userbridge-Tenant"
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderReplayed is set to "true" on a response replayed for a repeated
	// Idempotency-Key.
	HeaderReplayed = "Idempotent-Replayed"
)

// errCanceled answers a request whose context ended before it was handled;
// its client is usually gone.
var errCanceled = canonical.Errorf(canonical.Unavailable, "the request was canceled before it was handled")

// maxKeyLen is the longest Idempotency-Key accepted.
const maxKeyLen = 255

func (b *Backend) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", b.get(canonical.ByID))
	mux.HandleFunc("PATCH /users/{id}", b.patch(canonical.ByID))
	mux.HandleFunc("GET /users/by-username/{username}", b.get(canonical.ByUsername))
	mux.HandleFunc("PATCH /users/by-username/{username}", b.patch(canonical.ByUsername))
	mux.HandleFunc("/users/{id}", methodNotAllowed)
	mux.HandleFunc("/users/by-username/{username}", methodNotAllowed)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, canonical.Errorf(canonical.NotFound, "no such call"))
	})
	return b.intercept(mux)
}

// intercept counts requests.
func (b *Backend) intercept(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.requests.Add(1)
		next.ServeHTTP(w, r)
	})
}

// stall plays Options.Latency and Options.Fault once the request has been
// read (the server notices a client gone only then). It reports false when
// it has answered the request itself.
func (b *Backend) stall(w http.ResponseWriter, r *http.Request) bool {
	if d := b.opts.Latency; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			writeError(w, errCanceled)
			return false
		}
	}
	if b.opts.Fault != nil {
		if e := b.opts.Fault(r); e != nil {
			writeError(w, e)
			return false
		}
	}
	return true
}

func methodNotAllowed(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Allow", "GET, HEAD, PATCH")
	writeError(w, &canonical.Error{Code: canonical.BadRequest, Status: http.StatusMethodNotAllowed,
		Message: "method not allowed: use GET or PATCH"})
}

// get answers GET with the stored user.
func (b *Backend) get(t canonical.Target) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !b.stall(w, r) {
			return
		}
		b.mu.RLock()
		rec, err := b.find(t, r.PathValue(t.String()), r.Header.Get(HeaderTenant))
		b.mu.RUnlock()
		if err != nil {
			writeError(w, err)
			return
		}
		writeResponse(w, response{status: http.StatusOK, body: rec.json})
	}
}

// find returns the user named by t and key as seen from tenant; the caller
// holds mu.
func (b *Backend) find(t canonical.Target, key, tenant string) (*record, *canonical.Error) {
	var rec *record
	if t == canonical.ByUsername {
		rec = b.users[b.names[key]]
	} else {
		rec = b.users[key]
	}
	if rec == nil || rec.tenant != "" && tenant != "" && rec.tenant != tenant {
		return nil, canonical.Errorf(canonical.NotFound, "no such user")
	}
	return rec, nil
}

// patchRequest is a PATCH as the backend keeps it.
type patchRequest struct {
	target      canonical.Target
	key, tenant string
	doc         []byte
	idemKey     string
	fingerprint [sha256.Size]byte
}

// patch applies an update document; see docs/canonical.md for the outcomes
// and the Idempotency-Key rules.
func (b *Backend) patch(t canonical.Target) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
			w.Header().Set("Accept-Patch", "application/json")
			writeError(w, err)
			return
		}
		doc, err := readBody(w, r, b.opts.MaxBody)
		if err != nil {
			writeError(w, err)
			return
		}
		if !b.stall(w, r) {
			return
		}
		req := &patchRequest{
			target:  t,
			key:     r.PathValue(t.String()),
			tenant:  r.Header.Get(HeaderTenant),
			doc:     doc,
			idemKey: r.Header.Get(HeaderIdempotencyKey),
		}
		if len(req.idemKey) > maxKeyLen {
			writeError(w, canonical.Errorf(canonical.BadRequest, "Idempotency-Key longer than 255 bytes"))
			return
		}
		if req.idemKey != "" {
			h := sha256.New()
			for _, part := range []string{t.String(), req.key, req.tenant} {
				h.Write([]byte(part))
				h.Write([]byte{0})
			}
			h.Write(doc)
			h.Sum(req.fingerprint[:0])
			// A replay is answered before the password is hashed.
			b.mu.Lock()
			resp, ok := b.remembered(req)
			b.mu.Unlock()
			if ok {
				writeResponse(w, resp)
				return
			}
		}
		resp, ok := b.commit(r.Context(), req, b.prepare(doc))
		if !ok {
			resp = errorResponse(errCanceled)
		}
		writeResponse(w, resp)
	}
}

// remembered returns the response to replay for the request's key, or a
// 422 when the key came with another request; the caller holds mu.
func (b *Backend) remembered(req *patchRequest) (response, bool) {
	e := b.keys.get(req.idemKey, b.opts.Clock())
	switch {
	case e == nil:
		return response{}, false
	case e.fingerprint != req.fingerprint:
		return errorResponse(&canonical.Error{Code: canonical.Conflict, Status: http.StatusUnprocessableEntity,
			Message: "the Idempotency-Key was already used with another request"}), true
	}
	b.replayed++
	resp := e.resp
	resp.replayed = true
	return resp, true
}

// prepared is what can be worked out of an update without the lock: its
// validity and the password hash.
type prepared struct {
	err                     *canonical.Error
	empty                   bool
	hash                    []byte // new password hash
	unsetPassword           bool
	setUsername, unsetUname bool
	username                string
}

func (b *Backend) prepare(doc []byte) *prepared {
	p := &prepared{}
	if err := canonical.ValidateUpdate(doc); err != nil {
		if !errors.As(err, &p.err) {
			p.err = canonical.Errorf(canonical.BadRequest, "not an update document")
		}
		return p
	}
	set, unset := gjson.GetBytes(doc, "set"), gjson.GetBytes(doc, "unset")
	p.empty = true
	set.ForEach(func(_, _ gjson.Result) bool {
		p.empty = false
		return false
	})
	unset.ForEach(func(_, v gjson.Result) bool {
		p.empty = false
		p.unsetPassword = p.unsetPassword || v.Str == "password"
		p.unsetUname = p.unsetUname || v.Str == "username"
		return true
	})
	if u := set.Get("username"); u.Exists() {
		p.setUsername, p.username = true, u.Str
	}
	switch {
	case p.unsetUname:
		p.err = canonical.FieldError("username", "is required and cannot be unset")
	case p.setUsername && p.username == "":
		p.err = canonical.FieldError("username", "must not be empty")
	default:
		if pw := set.Get("password"); pw.Exists() {
			p.hash, p.err = b.hashPassword(pw.Str)
		}
	}
	return p
}

// commit applies a prepared update under the lock and remembers the response
// under the request's Idempotency-Key. It reports false, having done
// nothing, when the request's context has ended.
func (b *Backend) commit(ctx context.Context, req *patchRequest, p *prepared) (response, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ctx.Err() != nil {
		return response{}, false
	}
	if req.idemKey != "" {
		if resp, ok := b.remembered(req); ok {
			return resp, true
		}
	}
	resp, applied := b.apply(req, p)
	if req.idemKey != "" && resp.status < 500 {
		b.keys.put(req.idemKey, req.fingerprint, resp, applied, b.opts.Clock())
	}
	return resp, true
}

// apply applies the update to the stored user; the caller holds mu.
func (b *Backend) apply(req *patchRequest, p *prepared) (resp response, applied bool) {
	if p.err != nil {
		return errorResponse(p.err), false
	}
	rec, err := b.find(req.target, req.key, req.tenant)
	if err != nil {
		return errorResponse(err), false
	}
	if p.empty {
		return response{status: http.StatusOK, body: rec.json}, false
	}
	if owner, ok := b.names[p.username]; p.setUsername && ok && owner != rec.id {
		return errorResponse(&canonical.Error{Code: canonical.Conflict, Field: "username",
			Message: "another user has this username"}), false
	}
	out, aerr := canonical.Apply(rec.json, req.doc)
	if aerr == nil {
		out, aerr = sjson.SetBytes(out, "updatedAt", b.nextUpdatedAt(gjson.GetBytes(rec.json, "updatedAt").Str))
	}
	if aerr != nil {
		return errorResponse(canonical.Errorf(canonical.Internal, "cannot apply the update")), false
	}
	next := &record{id: rec.id, username: rec.username, tenant: rec.tenant, json: out, hash: rec.hash}
	if p.setUsername {
		next.username = p.username
	}
	if p.hash != nil {
		next.hash = p.hash
	} else if p.unsetPassword {
		next.hash = nil
	}
	b.store(rec, next)
	b.applied++
	return response{status: http.StatusOK, body: out}, true
}

// checkContentType accepts application/json, with any parameters.
func checkContentType(ct string) *canonical.Error {
	if mt, _, err := mime.ParseMediaType(ct); err == nil && mt == "application/json" {
		return nil
	}
	return canonical.Errorf(canonical.UnsupportedMediaType, "the body must be application/json")
}

// readBody reads at most limit bytes of the request body.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *canonical.Error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, canonical.Errorf(canonical.PayloadTooLarge, "the body is larger than the limit")
	case err != nil:
		return nil, canonical.Errorf(canonical.BadRequest, "cannot read the body")
	}
	return body, nil
}

// response is a status and a JSON body, as written and as remembered.
type response struct {
	status   int
	body     []byte
	replayed bool
}

func errorResponse(e *canonical.Error) response {
	type envelope struct {
		Error struct {
			Code    canonical.Code `json:"code"`
			Message string         `json:"message"`
			Field   string         `json:"field,omitempty"`
		} `json:"error"`
	}
	var env envelope
	env.Error.Code, env.Error.Message, env.Error.Field = e.Code, e.Message, e.Field
	body, _ := json.Marshal(env) // cannot fail: strings only
	return response{status: e.HTTPStatus(), body: body}
}

func writeError(w http.ResponseWriter, e *canonical.Error) { writeResponse(w, errorResponse(e)) }

func writeResponse(w http.ResponseWriter, resp response) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	if resp.replayed {
		h.Set(HeaderReplayed, "true")
	}
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}
