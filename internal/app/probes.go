package app

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/userbridge/userbridge/internal/upstream/scim"
)

// extraRoutes mounts the probes and the metrics: on the admin listener when
// admin.listen is set, else on the main listener.
func (a *App) extraRoutes(r gin.IRouter) {
	// /healthz: the process is alive and serving HTTP. Nothing else is
	// checked, so a slow upstream never gets userbridge restarted.
	r.GET("/healthz", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	})
	// /readyz: a configuration is loaded and the upstream accepts
	// connections (profile scim: and its capabilities are discovered);
	// 503 otherwise, and from the moment shutdown begins. The legacy
	// vendors' breakers are information only: a dialect whose vendor is
	// failing leaves the others serving.
	r.GET("/readyz", func(c *gin.Context) {
		_, mounts := a.Current()
		if a.draining.Load() {
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "reason": "shutting down"})
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		body := gin.H{"status": "ok", "upstream": "reachable", "config": "loaded", "dialects": len(mounts), "profile": a.Config.Upstream.Profile}
		status := http.StatusOK
		if err := a.ready(ctx); err != nil {
			status, body["status"], body["upstream"] = http.StatusServiceUnavailable, "unavailable", "unreachable"
			if errors.Is(err, scim.ErrNotDiscovered) {
				body["upstream"] = "not discovered" // it answers, but could not be described
			}
		}
		body["breaker"] = a.probed().BreakerState()
		if vendors := a.Server.VendorBreakers(); len(vendors) > 0 {
			body["vendors"] = vendors
		}
		c.JSON(status, body)
	})
	r.GET("/metrics", gin.WrapH(a.Metrics.Handler()))
}

// ready is the upstream's readiness: the profile's own check when it has
// one (scim: its capabilities known, a discovery retried until they are),
// else that it accepts connections.
func (a *App) ready(ctx context.Context) error {
	if r, ok := a.Profile.(interface{ Ready(context.Context) error }); ok {
		return r.Ready(ctx)
	}
	return a.probed().Ready(ctx)
}
