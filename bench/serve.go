package bench

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// ServeLoopback serves h on listen, a loopback address (anything else is
// refused), until SIGINT or SIGTERM: how the bench's own servers run.
func ServeLoopback(listen string, h http.Handler) error {
	return ServeLoopbackWith(listen, &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 120 * time.Second})
}

// ServeLoopbackWith is ServeLoopback with a server of the caller's (its
// timeouts and limits).
func ServeLoopbackWith(listen string, srv *http.Server) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing %s: the bench's servers listen on loopback only", listen)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	go func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGINT, syscall.SIGTERM)
		<-c
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
