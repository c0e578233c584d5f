package app_test

import (
	"bufio"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/userbridge/userbridge/config"
)

// rawUpstream is a real TCP upstream that answers each connection with
// serve, after reading the request's header block.
func rawUpstream(t *testing.T, serve func(conn net.Conn, req *http.Request)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
				req, err := http.ReadRequest(bufio.NewReader(conn))
				if err != nil {
					return
				}
				serve(conn, req)
			}()
		}
	}()
	return ln.Addr().String()
}

// TestUpstreamErrorLogged: when the upstream gives no (whole) answer, the
// access line says why in upstream_error (a kind, never the error's text:
// a malformed reply echoing the request's credentials stays out of the
// log).
func TestUpstreamErrorLogged(t *testing.T) {
	d := specs[3] // finix: Basic credentials the upstream echoes below
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("USuser:"+secretBasicPass))
	refused := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		return addr
	}
	cases := []struct {
		name     string
		upstream func() string
		want     []string // upstream_error is one of these
	}{
		{"refused", refused, []string{"dial: connection refused"}},
		{"reset", func() string {
			return rawUpstream(t, func(conn net.Conn, _ *http.Request) { reset(conn) })
		}, []string{"read: connection reset by peer", "connection closed before the first byte of the answer",
			"connection closed (EOF)"}},
		{"closed mid-reply", func() string {
			return rawUpstream(t, func(conn net.Conn, _ *http.Request) {
				_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"id\":")
			})
		}, []string{"connection closed mid-message (unexpected EOF)", "connection closed (EOF)"}},
		{"malformed reply echoing the credentials", func() string {
			return rawUpstream(t, func(conn net.Conn, req *http.Request) {
				_, _ = io.WriteString(conn, "HTTP/1.1 2x0 "+req.Header.Get("Authorization")+"\r\n"+
					"X-Echo "+req.Header.Get("Authorization")+"\r\n\r\n")
			})
		}, nil},
		{"timeout", func() string {
			return rawUpstream(t, func(conn net.Conn, _ *http.Request) { time.Sleep(2 * time.Second) })
		}, []string{"timeout"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := start(t, "", "http://"+c.upstream(), func(cfg *config.Config) {
				faultConfig(cfg)
				cfg.Upstream.Timeout = config.Duration(500 * time.Millisecond)
			})
			key := newKey("cause")
			req, err := http.NewRequest(d.method, s.base+d.path, strings.NewReader(d.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Finix-Version", "2022-02-01")
			req.Header.Set("Authorization", basic)
			req.Header.Set("X-Request-ID", key)
			a := doReq(t, req)
			if a.Status < 500 {
				t.Fatalf("status %d: %s", a.Status, a.Body)
			}
			line := s.logLine(t, key)
			got, _ := line["upstream_error"].(string)
			if got == "" {
				t.Fatalf("no upstream_error: %v", line)
			}
			if c.want != nil && !contains(strings.Join(c.want, "\n"), got) {
				t.Errorf("upstream_error = %q, want one of %q", got, c.want)
			}
			noSecret(t, "the log", []byte(s.logs.String()))
			noSecret(t, "the answer", a.Body)
		})
	}

	t.Run("answered", func(t *testing.T) {
		rec := newRecorder(t)
		s := start(t, "", rec.srv.URL, faultConfig)
		rec.set(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, `{"error":{"code":"bad_gateway","message":"down"}}`)
		})
		key := newKey("cause")
		a, _ := s.send(t, d, key)
		if a.Status < 500 {
			t.Fatalf("status %d: %s", a.Status, a.Body)
		}
		if v, ok := s.logLine(t, key)["upstream_error"]; ok {
			t.Errorf("upstream_error %v for an upstream that answered", v)
		}
	})
}
