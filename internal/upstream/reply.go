package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/internal/lex"
	"github.com/userbridge/userbridge/mapping/canonical"
)

const (
	maxErrorBody   = 64 << 10 // an error envelope is small; a longer body is not one
	maxMessageLen  = 512      // bytes of an upstream message passed on
	maxFieldLen    = 256
	mayBeApplied   = "; the update may have been applied"
	unexpectedText = "the upstream answered with an unexpected status "
)

var errTooLarge = errors.New("upstream: reply body over the limit")

// ErrNotAUser is the Result.Cause of a 2xx answer refused because its body
// is empty or opens no JSON object: an answer that is no user, as one that
// breaks off after its first byte is for canonical.CheckAnswer (its fault
// FaultMalformed), which a caller tells alike.
var ErrNotAUser = errors.New("upstream: a 2xx answer that is no JSON object")

// appliedError is the failure of a call whose 2xx reply could not be used:
// for an update, the update was applied (canonical.Error.Applied).
func appliedError(msg string, update bool) *canonical.Error {
	e := canonical.Errorf(canonical.BadGateway, msg)
	e.Applied = update
	return e
}

// reply reads the upstream's answer into res and maps a failure to its
// canonical error. The body is read to its end and closed, so the
// connection returns to the pool, unless it is over the limit. verdict is
// what the breaker counts.
func (c *Client) reply(ctx context.Context, res *Result, resp *http.Response, update bool) (cerr *canonical.Error, verdict error) {
	res.Status, res.Header = resp.StatusCode, resp.Header
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		limit := c.maxReply
		if resp.StatusCode == http.StatusNoContent {
			limit = maxErrorBody // nothing expected; drain what comes
		}
		body, err := readBody(resp, limit)
		switch {
		case errors.Is(err, errTooLarge):
			return appliedError("upstream reply too large", update), nil
		case err != nil:
			res.Cause = causeOf(err)
			e := appliedError("the upstream's reply was cut short", update)
			if ctx.Err() != nil {
				e.Code = canonical.GatewayTimeout
			}
			return e, ErrUpstreamFailed
		case resp.StatusCode == http.StatusNoContent && update:
			return nil, nil
		case resp.StatusCode == http.StatusNoContent:
			// A GET is asked for the user: an answer without one is not a
			// user made of nulls.
			return canonical.Errorf(canonical.BadGateway, "the upstream answered without the user (204)"), nil
		case !lex.OpensObject(body):
			// The rest of its syntax is checked with its content, once,
			// by canonical.CheckAnswer (see Result.Body); Cause says it
			// was no user, as that check would.
			res.Cause = ErrNotAUser
			return appliedError("upstream reply unreadable", update), nil
		}
		res.Status, res.Body = http.StatusOK, body
		return nil, nil
	}

	body, err := readBody(resp, maxErrorBody)
	if err != nil {
		body = nil // the status alone says what happened
	}
	if resp.StatusCode >= 500 {
		verdict = statusVerdict(resp.StatusCode)
	}
	return mapStatus(resp.StatusCode, body, resp.Header.Get("Retry-After"), update), verdict
}

// mapStatus maps a non-2xx reply: the contract's error envelope where the
// body holds one, the status otherwise.
func mapStatus(status int, body []byte, retryAfter string, update bool) *canonical.Error {
	env := parseEnvelope(body)
	e := &canonical.Error{Message: env.Message, Field: env.Field}
	switch {
	case status >= 500:
		return ServerError(status, retryAfter, update)
	case status >= 400:
		e.Code = canonical.CodeForStatus(status)
		// The envelope's code refines a 4xx (a 400 that is a conflict, say);
		// it never makes one the upstream's own failure, and a 429 stays a
		// rate limit.
		if env.Code != "" && env.Code.Status() < 500 && status != http.StatusTooManyRequests {
			e.Code = env.Code
		}
	default: // 1xx, 3xx
		return UnexpectedStatus(status)
	}
	if e.Code == canonical.BadGateway {
		return UnexpectedStatus(status)
	}
	if e.Code == canonical.RateLimited {
		e.RetryAfter = retryAfter
	}
	if e.Message == "" {
		e.Message = genericMessage(e.Code, status)
	}
	return e
}

// ServerError maps an upstream reply of 500 or more, the same for every
// profile: 503 is unavailable, its Retry-After passed on; 504 is
// gateway_timeout and 502 bad_gateway (an intermediary answered, so an
// update may have reached the upstream); any other 5xx is the contract's
// internal, the upstream's own failure. The upstream's own words about its
// failure (and any field it names) are for its logs, never the caller's.
func ServerError(status int, retryAfter string, update bool) *canonical.Error {
	e := &canonical.Error{Code: canonical.Internal, Message: "the upstream failed"}
	switch status {
	case http.StatusServiceUnavailable:
		e.Code, e.Message, e.RetryAfter = canonical.Unavailable, GenericMessage(canonical.Unavailable), retryAfter
		return e
	case http.StatusBadGateway:
		e.Code = canonical.BadGateway
	case http.StatusGatewayTimeout:
		e.Code, e.Message = canonical.GatewayTimeout, "the upstream timed out"
	default:
		return e
	}
	if update {
		e.Message += mayBeApplied
	}
	return e
}

// envelope is the contract's error body, {"error": {"code", "message", "field"}}.
type envelope struct {
	Code    canonical.Code // "" unless one of the contract's codes
	Message string
	Field   string
}

func parseEnvelope(body []byte) envelope {
	if !isJSONObject(body) {
		return envelope{}
	}
	var doc struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &doc) != nil || doc.Error == nil {
		return envelope{}
	}
	env := envelope{Message: Clip(doc.Error.Message, maxMessageLen), Field: Clip(doc.Error.Field, maxFieldLen)}
	switch code := canonical.Code(doc.Error.Code); code {
	case canonical.InvalidField, canonical.Unauthorized, canonical.Forbidden, canonical.NotFound,
		canonical.Conflict, canonical.RateLimited, canonical.Unavailable, canonical.Internal,
		canonical.BadRequest: // a request the upstream could not read (an Idempotency-Key over 255 bytes)
		env.Code = code
	}
	return env
}

// Clip bounds an upstream text to n bytes of valid UTF-8, so that what an
// upstream says can be shown to a caller without flooding it. The other
// upstream profiles use it too.
func Clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// UnexpectedStatus is the error of an upstream reply whose status no rule
// explains (a 1xx or 3xx, a 4xx with no code of its own: 418, 405…), the
// same for every profile: bad_gateway, the status named, the upstream's
// words not shown. It is neither the client's error nor userbridge's own;
// a 4xx applied nothing, so it never says the update may have been.
func UnexpectedStatus(status int) *canonical.Error {
	return canonical.Errorf(canonical.BadGateway, unexpectedText+strconv.Itoa(status))
}

func genericMessage(code canonical.Code, status int) string {
	if m := GenericMessage(code); m != "" {
		return m
	}
	return unexpectedText + strconv.Itoa(status)
}

// GenericMessage is the caller-safe text of an upstream error code when the
// upstream gave none ("" for the codes that have no fixed text).
func GenericMessage(code canonical.Code) string {
	switch code {
	case canonical.InvalidField:
		return "the upstream rejected the request"
	case canonical.Unauthorized:
		return "the upstream refused the credentials"
	case canonical.Forbidden:
		return "the upstream does not allow this"
	case canonical.NotFound:
		return "no such user"
	case canonical.Conflict:
		return "the update conflicts with the stored user"
	case canonical.RateLimited:
		return "too many requests to the upstream; retry later"
	case canonical.Unavailable:
		return "upstream unavailable; retry later"
	}
	return ""
}

// readBody reads and closes a reply body of at most limit bytes. Over the
// limit it stops reading: closing an unread body drops the connection,
// which is cheaper than reading megabytes to keep it.
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	defer resp.Body.Close()
	if resp.ContentLength > limit {
		return nil, errTooLarge
	}
	size := int64(512)
	if resp.ContentLength >= 0 {
		size = resp.ContentLength + 1 // +1: room to see EOF without growing
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		end := min(int64(cap(buf)), limit+1)
		n, err := resp.Body.Read(buf[len(buf):end])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, errTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// isJSONObject reports whether b is one valid JSON object.
func isJSONObject(b []byte) bool {
	return lex.OpensObject(b) && gjson.ValidBytes(b) // several times cheaper than json.Valid
}
