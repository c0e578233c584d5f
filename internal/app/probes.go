package app

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// extraRoutes mounts the probes on the main listener.
func (a *App) extraRoutes(r gin.IRouter) {
	r.GET("/healthz", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	})
	r.GET("/readyz", func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		if err := a.Upstream.Ready(ctx); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "upstream": "unreachable", "breaker": a.Upstream.BreakerState()})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ok", "upstream": "reachable", "breaker": a.Upstream.BreakerState()})
	})
}
