package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-retryablehttp"
)

// The frame floor's settings where they are userbridge's defaults
// (docs/configuration.md), so that the floor works under the same
// conditions (bench/frame).
const (
	FrameCallTimeout   = 5 * time.Second // upstream.timeout: one deadline for a call
	FrameMaxAttempts   = 3               // upstream.maxAttempts
	FrameMaxBodyBytes  = 1 << 20         // server.maxBodyBytes
	FrameMaxReplyBytes = 4 << 20         // upstream.DefaultMaxReplyBytes
)

var (
	frameJSON      = []string{"application/json"}
	frameUserAgent = []string{"userbridge"}
)

// NewFrame is the bench's floor for userbridge, with nothing of userbridge
// in it: gin's engine, each Finix update (PUT /users/{id}) forwarded as
// userbridge forwards it (PATCH /users/{id} under base, the request's body
// unchanged, the JSON headers) through go-retryablehttp over tr, the
// upstream's status, content type and body returned. No rules, no
// translation, no metrics, no logs, no breaker, no auth: what userbridge
// costs above it is what userbridge itself does. bench/frame serves it
// over net/http's Transport; BenchmarkInProcess calls it with an upstream
// answered in process.
func NewFrame(base string, tr http.RoundTripper) (http.Handler, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("upstream %q: want http://host:port", base)
	}
	rc := &retryablehttp.Client{
		HTTPClient: &http.Client{Transport: tr},
		Logger:     nil,
		RetryMax:   FrameMaxAttempts - 1,
		// Retried only when no connection could be made, so the update is
		// never sent twice; the policy's real work is userbridge's.
		CheckRetry: func(ctx context.Context, resp *http.Response, err error) (bool, error) {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			var op *net.OpError
			return resp == nil && errors.As(err, &op) && op.Op == "dial", nil
		},
		Backoff:      func(_, _ time.Duration, _ int, _ *http.Response) time.Duration { return 50 * time.Millisecond },
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	prefix := u.JoinPath("users").String() + "/"

	gin.SetMode(gin.ReleaseMode)
	e := gin.New() // no middleware: no logger, no recovery, no metrics
	e.UseRawPath = true
	e.UnescapePathValues = true
	e.RemoveExtraSlash = false
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	e.PUT("/users/:id", func(c *gin.Context) {
		body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, FrameMaxBodyBytes))
		if err != nil {
			c.Data(http.StatusBadRequest, "application/json", []byte(`{"error":"unreadable body"}`))
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), FrameCallTimeout)
		defer cancel()
		req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPatch, prefix+url.PathEscape(c.Param("id")), body)
		if err != nil {
			c.Data(http.StatusInternalServerError, "application/json", []byte(`{"error":"bad upstream request"}`))
			return
		}
		req.GetBody = nil // never resent by net/http itself, as userbridge
		req.Header["Accept"] = frameJSON
		req.Header["Content-Type"] = frameJSON
		req.Header["User-Agent"] = frameUserAgent
		resp, err := rc.Do(req)
		if err != nil {
			c.Data(http.StatusBadGateway, "application/json", []byte(`{"error":"upstream unreachable"}`))
			return
		}
		reply, err := io.ReadAll(io.LimitReader(resp.Body, FrameMaxReplyBytes+1))
		resp.Body.Close()
		if err != nil || len(reply) > FrameMaxReplyBytes {
			c.Data(http.StatusBadGateway, "application/json", []byte(`{"error":"upstream reply unreadable"}`))
			return
		}
		c.Data(resp.StatusCode, resp.Header.Get("Content-Type"), reply)
	})
	return e, nil
}
