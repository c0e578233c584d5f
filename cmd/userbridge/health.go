package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// defaultHealthURL is the liveness probe of the image's default command
// (serve --listen :8080, probes on the main listener).
const defaultHealthURL = "http://127.0.0.1:8080/healthz"

// The range of health's --timeout.
const (
	healthMinTimeout = 10 * time.Millisecond
	healthMaxTimeout = time.Minute
)

// health is a probe for a container without curl (Docker HEALTHCHECK in a
// distroless image): GET the URL, exit 0 on a 2xx answer and 1 otherwise.
// The URL is --url, else $USERBRIDGE_HEALTH_URL, else defaultHealthURL.
func health(e *env, args []string) error {
	fs := e.flags()
	def := defaultHealthURL
	if v := os.Getenv("USERBRIDGE_HEALTH_URL"); v != "" {
		def = v
	}
	url := fs.String("url", def, "URL to probe (also $USERBRIDGE_HEALTH_URL)")
	timeout := fs.Duration("timeout", 2*time.Second, "give up after this, 10ms to 1m (below the HEALTHCHECK timeout)")
	if err := e.parse(fs, args); err != nil {
		return err
	}
	// 0 would be no timeout at all (a probe that never ends), 1ns one
	// that always fails: a probe's timeout means what it says or is refused.
	if *timeout < healthMinTimeout || *timeout > healthMaxTimeout {
		return fmt.Errorf("health: --timeout %s: must be from 10ms to 1m (default 2s)", *timeout)
	}
	c := &http.Client{Timeout: *timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(*url)
	if err != nil {
		return fmt.Errorf("health: %w", err) // names the URL
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("health: %s: %s", *url, resp.Status)
	}
	fmt.Fprintf(e.stdout, "%s: %s\n", *url, resp.Status)
	return nil
}
