// Package server is userbridge's front end: one gin engine per listener
// (and per Host where dialects are matched by host) serving every enabled
// dialect on its route, each through the same small pipeline.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/userbridge/userbridge/config"
)

// Options build a Server.
type Options struct {
	Config   *config.Config
	Mounts   []config.Mount
	Upstream Upstream
	Logger   *slog.Logger
	// Extra mounts non-dialect routes (health, metrics) on the main
	// listener's default engine.
	Extra func(r gin.IRouter)
}

// Server serves every mount on its listener.
type Server struct {
	cfg       *config.Config
	log       *slog.Logger
	handlers  map[string]http.Handler // listen address → handler
	mu        sync.Mutex
	servers   []*http.Server
	listeners []net.Listener
	addrs     map[string]string
}

// New builds the engines. A route the router refuses is reported as an
// error naming the dialect, never a panic.
func New(o Options) (s *Server, err error) {
	gin.SetMode(gin.ReleaseMode)
	s = &Server{cfg: o.Config, log: o.Logger, handlers: map[string]http.Handler{}, addrs: map[string]string{}}
	if s.log == nil {
		s.log = slog.Default()
	}
	type key struct{ listen, host string }
	engines := map[key]*gin.Engine{}
	engine := func(k key) *gin.Engine {
		if e := engines[k]; e != nil {
			return e
		}
		e := newEngine()
		engines[k] = e
		return e
	}
	engine(key{listen: o.Config.Listen})
	for _, m := range o.Mounts {
		h := &handler{name: m.Dialect.Name(), p: m.Dialect.Program(), up: o.Upstream, maxBody: o.Config.Server.MaxBodyBytes,
			log: s.log, forward: m.Dialect.Program().ForwardHeaders(), params: paramNames(m.Path)}
		e := engine(key{m.Listen, m.Host})
		if err := addRoute(e, m.Method, m.Path, h.serve); err != nil {
			return nil, fmt.Errorf("server: dialect %s: %w", m.Dialect.Name(), err)
		}
	}
	if o.Extra != nil {
		o.Extra(engines[key{listen: o.Config.Listen}])
	}
	byListen := map[string]map[string]*gin.Engine{}
	for k, e := range engines {
		if byListen[k.listen] == nil {
			byListen[k.listen] = map[string]*gin.Engine{}
		}
		byListen[k.listen][k.host] = e
	}
	for l, hosts := range byListen {
		if len(hosts) == 1 && hosts[""] != nil {
			s.handlers[l] = hosts[""]
			continue
		}
		s.handlers[l] = hostRouter(hosts)
	}
	return s, nil
}

func newEngine() *gin.Engine {
	e := gin.New()
	e.UseRawPath = true         // route on the escaped path: %2F stays inside its segment
	e.UnescapePathValues = true // and hand handlers the decoded value
	e.RemoveExtraSlash = false  // never rewrite a client's path
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	e.NoRoute(func(c *gin.Context) {
		writeCanonical(c, http.StatusNotFound, "not_found", "no dialect serves "+c.Request.Method+" "+c.Request.URL.Path)
	})
	e.NoMethod(func(c *gin.Context) {
		writeCanonical(c, http.StatusMethodNotAllowed, "method_not_allowed", c.Request.Method+" is not served on "+c.Request.URL.Path)
	})
	return e
}

// writeCanonical answers where no dialect applies, in the canonical envelope.
func writeCanonical(c *gin.Context, status int, code, msg string) {
	c.Header("Content-Type", "application/json")
	body := `{"error":{"code":"` + code + `","message":` + jsonString(msg) + `}}`
	c.String(status, "%s", body)
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func addRoute(e *gin.Engine, method, path string, h gin.HandlerFunc) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("route %s %s: %v", method, path, v)
		}
	}()
	e.Handle(method, path, h)
	return nil
}

func paramNames(path string) []string {
	var out []string
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, ":") {
			out = append(out, seg[1:])
		}
	}
	return out
}

// hostRouter picks the engine by Host, falling back to the host-less one.
func hostRouter(hosts map[string]*gin.Engine) http.Handler {
	fallback := hosts[""]
	if fallback == nil {
		fallback = newEngine()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := strings.ToLower(r.Host)
		if host, _, err := net.SplitHostPort(h); err == nil {
			h = host
		}
		if e := hosts[h]; e != nil {
			e.ServeHTTP(w, r)
			return
		}
		fallback.ServeHTTP(w, r)
	})
}

// Handler returns the handler of a configured listen address.
func (s *Server) Handler(listen string) http.Handler { return s.handlers[listen] }

// Listen binds every listener. Addr then tells the bound addresses.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.handlers))
	for l := range s.handlers {
		keys = append(keys, l)
	}
	sort.Strings(keys)
	for _, l := range keys {
		ln, err := net.Listen("tcp", l)
		if err != nil {
			for _, x := range s.listeners {
				_ = x.Close()
			}
			s.listeners = nil
			return fmt.Errorf("server: listen %s: %w", l, err)
		}
		srv := &http.Server{Handler: s.handlers[l],
			ReadHeaderTimeout: s.cfg.Server.ReadHeaderTimeout.D(), ReadTimeout: s.cfg.Server.ReadTimeout.D(),
			WriteTimeout: s.cfg.Server.WriteTimeout.D(), IdleTimeout: s.cfg.Server.IdleTimeout.D(),
			MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
		s.listeners = append(s.listeners, ln)
		s.servers = append(s.servers, srv)
		s.addrs[l] = ln.Addr().String()
	}
	return nil
}

// Addr returns the bound address of a configured listen address.
func (s *Server) Addr(listen string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrs[listen]
}

// Serve serves until Shutdown; it returns the first listener error.
func (s *Server) Serve() error {
	s.mu.Lock()
	srvs, lns := s.servers, s.listeners
	s.mu.Unlock()
	errc := make(chan error, len(srvs))
	for i := range srvs {
		go func(i int) { errc <- srvs[i].Serve(lns[i]) }(i)
	}
	var first error
	for range srvs {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) && first == nil {
			first = err
		}
	}
	return first
}

// Shutdown stops accepting, lets in-flight requests finish until ctx ends,
// then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srvs := s.servers
	s.mu.Unlock()
	var errs []error
	for _, srv := range srvs {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
			_ = srv.Close()
		}
	}
	return errors.Join(errs...)
}
