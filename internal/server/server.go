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
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/lex"
	"github.com/userbridge/userbridge/internal/migrate"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
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
	// AdminListen, when set, is a listener of its own serving Admin alone
	// (probes and metrics); Extra is then usually nil.
	AdminListen string
	Admin       http.Handler

	// Observer is told what every request came to (metrics); nil: nothing.
	Observer Observer
	// TracerProvider, when set, starts a server span per dialect request
	// (otelgin), continuing the client's W3C traceparent; the upstream
	// client then injects its own spans' context, and the client's
	// traceparent and tracestate are no longer passed on verbatim. Nil: no
	// spans, and the client's trace headers go upstream unchanged.
	TracerProvider trace.TracerProvider
	// Propagator extracts the client's trace context; nil: W3C Trace Context.
	Propagator propagation.TextMapPropagator
	// Migration records the comparisons of the dialects with a legacy
	// vendor (legacy.mode shadow or primary); nil: such dialects are
	// refused.
	Migration *migrate.Recorder
}

// Server serves every mount on its listener. Its routing can be replaced
// while it serves (Swap); each listener's handler looks the current routing
// up once per request, so a request runs wholly on one configuration.
type Server struct {
	cfg       *config.Config
	log       *slog.Logger
	listens   []string                                // fixed at New: a new listener needs a restart
	current   atomic.Pointer[map[string]http.Handler] // listen address → handler
	mu        sync.Mutex
	servers   []*http.Server
	listeners []net.Listener
	admin     string // the admin listener's address: served without the front (front.go)
	addrs     map[string]string
	auths     authSet // the current routing's authenticators and vendors (mu)
	obs       Observer
	flight    *inflight  // the dialect requests being served
	users     *userLocks // the migrating dialects' per-user locks, across reloads
	// vendors are the current routing's legacy vendors by dialect, read
	// without mu (VendorBreakers, at each scrape).
	vendors atomic.Pointer[map[string]*migrate.Vendor]
}

// ErrNewListener is returned by Swap when the new routing needs a listener
// the server does not have: listeners are bound once, at start.
var ErrNewListener = errors.New("server: a new listener needs a restart")

// New builds the engines. A route the router refuses is reported as an
// error naming the dialect, never a panic.
func New(o Options) (s *Server, err error) {
	gin.SetMode(gin.ReleaseMode)
	s = &Server{cfg: o.Config, log: o.Logger, addrs: map[string]string{}, admin: o.AdminListen, obs: observerOf(o), flight: newInflight(), users: newUserLocks()}
	if s.log == nil {
		s.log = slog.Default()
	}
	handlers, auths, err := build(o, s.log, s.flight, s.users, nil)
	if err != nil {
		return nil, err
	}
	for l := range handlers {
		s.listens = append(s.listens, l)
	}
	sort.Strings(s.listens)
	s.current.Store(&handlers)
	s.auths = auths
	s.vendors.Store(&auths.vendors)
	return s, nil
}

// Swap replaces the routing of every listener at once: requests that
// already started finish on the routing they started on; the next ones get
// the new one. A listener the new options no longer use answers 404; one
// they add is refused with ErrNewListener, the old routing left in place.
func (s *Server) Swap(o Options) error {
	running := *s.vendors.Load()
	handlers, auths, err := build(o, s.log, s.flight, s.users, running)
	if err != nil {
		return err
	}
	var added []string
	for l := range handlers {
		if !slices.Contains(s.listens, l) {
			added = append(added, l)
		}
	}
	if len(added) > 0 {
		sort.Strings(added)
		auths.close(running)
		return fmt.Errorf("%w: %s", ErrNewListener, strings.Join(added, ", "))
	}
	for _, l := range s.listens {
		if handlers[l] == nil {
			handlers[l] = newEngine(observerOf(o))
		}
	}
	s.current.Store(&handlers)
	s.swapAuths(auths)
	return nil
}

func observerOf(o Options) Observer {
	if o.Observer == nil {
		return noObserver{}
	}
	return o.Observer
}

// build makes one handler per listen address from the options, and the
// authenticators and legacy vendors they use (closed again when build
// fails). Its dialect handlers count their requests in fl, and lock their
// users in users. A dialect whose legacy block is the one its vendor in
// running was built from keeps that vendor (migrate.Vendor.Same).
func build(o Options, log *slog.Logger, fl *inflight, users *userLocks, running map[string]*migrate.Vendor) (_ map[string]http.Handler, auths authSet, err error) {
	defer func() {
		if err != nil {
			auths.close(running)
			auths = authSet{}
		}
	}()
	if o.Logger != nil {
		log = o.Logger
	}
	obs := observerOf(o)
	var traced []gin.HandlerFunc
	if o.TracerProvider != nil {
		prop := o.Propagator
		if prop == nil {
			prop = propagation.TraceContext{}
		}
		traced = append(traced, otelgin.Middleware("userbridge", otelgin.WithTracerProvider(o.TracerProvider),
			otelgin.WithPropagators(prop),
			otelgin.WithSpanNameFormatter(func(c *gin.Context) string { return c.Request.Method + " " + c.FullPath() })))
	}
	type key struct{ listen, host string }
	engines := map[key]*gin.Engine{}
	fallbacks := map[key]*unmatchedAnswer{}
	engine := func(k key) *gin.Engine {
		if e := engines[k]; e != nil {
			return e
		}
		fallbacks[k] = &unmatchedAnswer{obs: obs}
		e := newRoutedEngine(fallbacks[k])
		engines[k] = e
		return e
	}
	engine(key{listen: o.Config.Listen})
	// Every dialect's auth problems at once (once a dialect, whatever its
	// routes), as CheckAuth reports them.
	var authErrs []error
	badAuth := map[string]bool{}
	for _, m := range o.Mounts {
		known := make(map[string]string, len(m.Fields))
		for _, f := range m.Fields {
			known[f] = f
		}
		a, forward, err := authFor(m, log, o.Config.Upstream.Timeout.D(), false)
		if err != nil {
			if !badAuth[m.Dialect.Name()] {
				badAuth[m.Dialect.Name()] = true
				authErrs = append(authErrs, err)
			}
			continue
		}
		auths.auths = append(auths.auths, a)
		mig, err := migrationFor(m, o, log, users, running[m.Dialect.Name()])
		if err != nil {
			return nil, auths, err
		}
		if mig != nil {
			if auths.vendors == nil {
				auths.vendors = map[string]*migrate.Vendor{}
			}
			auths.vendors[m.Dialect.Name()] = mig.vendor
		}
		checker, _ := o.Upstream.(UpdateChecker)
		h := &handler{mig: mig, name: m.Dialect.Name(), p: m.Dialect.Program(), up: o.Upstream, checker: checker, maxBody: o.Config.Server.MaxBodyBytes, trustForwarded: o.Config.Server.TrustForwarded,
			log: log, forward: forward, auth: a, params: paramNames(m.Path), once: onceHeaders(m.Dialect.Program(), m.Auth),
			obs: obs, known: known, passTrace: o.TracerProvider == nil, flight: fl}
		k := key{m.Listen, m.Host}
		e := engine(k)
		if err := addRoute(e, m.Method, m.Path, append(traced[:len(traced):len(traced)], h.serve)...); err != nil {
			return nil, auths, fmt.Errorf("server: dialect %s: %w", m.Dialect.Name(), err)
		}
		fallbacks[k].add(m.Method, m.Path, m.Prefix, h)
	}
	if o.Extra != nil {
		o.Extra(engines[key{listen: o.Config.Listen}])
	}
	if len(authErrs) > 0 {
		return nil, auths, errors.Join(authErrs...)
	}
	all := make([]*gin.Engine, 0, len(engines))
	answers := make([]*unmatchedAnswer, 0, len(fallbacks))
	for k, e := range engines {
		all, answers = append(all, e), append(answers, fallbacks[k])
	}
	own := ownRoutes(all, answers, o.Admin)
	for _, u := range answers {
		u.seal(own)
	}
	byListen := map[string]map[string]*gin.Engine{}
	for k, e := range engines {
		if byListen[k.listen] == nil {
			byListen[k.listen] = map[string]*gin.Engine{}
		}
		byListen[k.listen][k.host] = e
	}
	handlers := map[string]http.Handler{}
	for l, hosts := range byListen {
		if len(hosts) == 1 && hosts[""] != nil {
			handlers[l] = hosts[""]
			continue
		}
		handlers[l] = hostRouter(hosts, obs)
	}
	if o.AdminListen != "" {
		if handlers[o.AdminListen] != nil {
			return nil, auths, fmt.Errorf("server: admin listener %s is also a dialect listener", o.AdminListen)
		}
		handlers[o.AdminListen] = o.Admin
	}
	return handlers, auths, nil
}

// newEngine is an engine with no dialect route yet: what no route matches
// gets the generic envelope.
func newEngine(obs Observer) *gin.Engine { return newRoutedEngine(&unmatchedAnswer{obs: obs}) }

// newRoutedEngine is an engine whose unmatched requests u answers; the
// dialect routes added to the engine are added to u too.
func newRoutedEngine(u *unmatchedAnswer) *gin.Engine {
	e := gin.New()
	e.UseRawPath = true         // route on the escaped path: %2F stays inside its segment
	e.UnescapePathValues = true // and hand handlers the decoded value
	e.RemoveExtraSlash = false  // never rewrite a client's path
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	e.NoRoute(u.noRoute)
	e.NoMethod(u.noMethod)
	return e
}

// writeCanonical answers where no dialect applies, in the canonical
// envelope (canonicalEnvelope), with the client's request id when it is
// sane, else a new one.
func writeCanonical(c *gin.Context, status int, code, msg string) {
	c.Header(HeaderRequestID, requestID(c.Request.Header.Get(HeaderRequestID)))
	c.Header("Content-Type", "application/json")
	c.String(status, "%s", canonicalEnvelope(code, msg))
}

// canonicalEnvelope is the body of every answer no dialect gives: an
// unknown route or method (writeCanonical), a request the HTTP server
// could not read (front.go). code is a fixed word, msg userbridge's own
// text.
func canonicalEnvelope(code, msg string) string {
	return `{"error":{"code":"` + code + `","message":` + lex.JSONString(msg) + `}}`
}

func addRoute(e *gin.Engine, method, path string, h ...gin.HandlerFunc) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("route %s %s: %v", method, path, v)
		}
	}()
	e.Handle(method, path, h...)
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
func hostRouter(hosts map[string]*gin.Engine, obs Observer) http.Handler {
	fallback := hosts[""]
	if fallback == nil {
		fallback = newEngine(obs)
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

// Handler returns the handler of a configured listen address: it serves
// each request with the routing current when the request arrives, and is
// nil for an address the server does not listen on.
func (s *Server) Handler(listen string) http.Handler {
	if !slices.Contains(s.listens, listen) {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*s.current.Load())[listen].ServeHTTP(w, r)
	})
}

// Listens lists the listen addresses, sorted.
func (s *Server) Listens() []string { return append([]string(nil), s.listens...) }

// Listen binds every listener. Addr then tells the bound addresses.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.listens {
		ln, err := net.Listen("tcp", l)
		if err != nil {
			for _, x := range s.listeners {
				_ = x.Close()
			}
			s.listeners = nil
			return fmt.Errorf("server: listen %s: %w", l, err)
		}
		srv, ln := s.serveFront(l, ln)
		// Every request's context ends when Shutdown cuts them off.
		srv.BaseContext = func(net.Listener) context.Context { return s.flight.base }
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
// then cuts off what is left: the requests still running are marked cut
// off, their contexts (and upstream calls) cancelled and their connections
// closed, and Shutdown waits, at most cutOffGrace, for their handlers to
// write their access lines (outcome "cut off at shutdown", status 0). It
// returns ctx's error when it had to cut.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srvs := s.servers
	s.mu.Unlock()
	// All at once: one listener draining must not leave the others
	// accepting.
	errs := make([]error, len(srvs))
	var wg sync.WaitGroup
	for i, srv := range srvs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = srv.Shutdown(ctx)
		}()
	}
	wg.Wait()
	err := errors.Join(errs...)
	if err == nil {
		return nil
	}
	// Marked before the connections close: a handler that comes to answer
	// after this writes nothing and drops its connection (cut off), one
	// that answered before has its answer sent as usual.
	idle := s.flight.cutOff()
	for i, srv := range srvs {
		if errs[i] != nil {
			_ = srv.Close()
		}
	}
	t := time.NewTimer(cutOffGrace)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
		s.log.Error("shutdown: requests cut off did not end within the grace period; their access lines may be missing",
			"grace", cutOffGrace.String(), "running", s.flight.n.Load())
	}
	return err
}
