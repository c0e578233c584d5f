// Command frame is the bench's floor for userbridge: the frame userbridge
// is built on, with nothing of userbridge in it. gin's engine served by
// net/http's server; each Finix update (PUT /users/{id}) forwarded as
// userbridge forwards it (PATCH /users/{id}, the request's body unchanged,
// the JSON headers) through go-retryablehttp over net/http's Transport, a
// keep-alive pool to the upstream sized as userbridge's default; the
// upstream's status, content type and body returned. No rules, no
// translation, no metrics, no logs, no breaker, no auth: what userbridge
// costs above this is what userbridge itself does.
//
//	go run ./bench/frame --listen 127.0.0.1:18099 --upstream http://127.0.0.1:18091
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/userbridge/userbridge/bench"
)

// The settings userbridge runs with by default (docs/configuration.md), so
// that the floor is measured under the same conditions; main_test.go checks
// the runtime pair against internal/app.
const (
	gcPercent = 400 // app.DefaultGCPercent, unless GOGC is set
	procs     = 1   // app.DefaultProcs, unless GOMAXPROCS is set

	maxIdleConns    = 256              // upstream.DefaultMaxIdleConnsPerHost (upstream.maxIdleConns)
	idleConnTimeout = 30 * time.Second // upstream.DefaultIdleConnTimeout (upstream.idleTimeout)
	callTimeout     = 5 * time.Second  // upstream.timeout: one deadline for a call
	dialTimeout     = 2 * time.Second  // upstream.DefaultDialTimeout
	maxAttempts     = 3                // upstream.maxAttempts

	maxBodyBytes      = 1 << 20 // server.maxBodyBytes
	maxReplyBytes     = 4 << 20 // upstream.DefaultMaxReplyBytes
	maxHeaderBytes    = 64 << 10
	readHeaderTimeout = 5 * time.Second   // server.readHeaderTimeout
	readTimeout       = 30 * time.Second  // server.readTimeout
	writeTimeout      = 60 * time.Second  // server.writeTimeout
	idleTimeout       = 120 * time.Second // server.idleTimeout
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18099", "loopback address to listen on")
	upstream := flag.String("upstream", "http://127.0.0.1:18091", "the upstream's base URL")
	flag.Parse()
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
	if _, set := os.LookupEnv("GOMAXPROCS"); !set {
		runtime.GOMAXPROCS(procs)
	}
	if err := run(*listen, *upstream); err != nil {
		fmt.Fprintln(os.Stderr, "frame:", err)
		os.Exit(1)
	}
}

func run(listen, upstream string) error {
	h, closeIdle, err := newFrame(upstream)
	if err != nil {
		return err
	}
	defer closeIdle()
	return bench.ServeLoopbackWith(listen, &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout,
		WriteTimeout: writeTimeout, IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes})
}

var (
	jsonValue      = []string{"application/json"}
	userAgentValue = []string{"userbridge"}
)

// newFrame returns the frame's handler, forwarding to the upstream at base,
// and a function that closes its idle upstream connections.
func newFrame(base string) (http.Handler, func(), error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, nil, fmt.Errorf("--upstream %q: want http://host:port", base)
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	tr := &http.Transport{
		DialContext:            (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		DisableCompression:     true,
		MaxIdleConns:           maxIdleConns,
		MaxIdleConnsPerHost:    maxIdleConns,
		IdleConnTimeout:        idleConnTimeout,
		MaxResponseHeaderBytes: maxHeaderBytes,
		Protocols:              &protocols,
	}
	rc := &retryablehttp.Client{
		HTTPClient: &http.Client{Transport: tr},
		Logger:     nil,
		RetryMax:   maxAttempts - 1,
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
		body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes))
		if err != nil {
			c.Data(http.StatusBadRequest, "application/json", []byte(`{"error":"unreadable body"}`))
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), callTimeout)
		defer cancel()
		req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPatch, prefix+url.PathEscape(c.Param("id")), body)
		if err != nil {
			c.Data(http.StatusInternalServerError, "application/json", []byte(`{"error":"bad upstream request"}`))
			return
		}
		req.GetBody = nil // never resent by net/http itself, as userbridge
		req.Header["Accept"] = jsonValue
		req.Header["Content-Type"] = jsonValue
		req.Header["User-Agent"] = userAgentValue
		resp, err := rc.Do(req)
		if err != nil {
			c.Data(http.StatusBadGateway, "application/json", []byte(`{"error":"upstream unreachable"}`))
			return
		}
		reply, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
		resp.Body.Close()
		if err != nil || len(reply) > maxReplyBytes {
			c.Data(http.StatusBadGateway, "application/json", []byte(`{"error":"upstream reply unreadable"}`))
			return
		}
		c.Data(resp.StatusCode, resp.Header.Get("Content-Type"), reply)
	})
	return e, tr.CloseIdleConnections, nil
}
