package slapdtest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Elsewhere is an ldap:// URL on an address of this machine that is not
// loopback, each connection to it relayed to the server's ldap:// port: a
// directory reached over the network, as far as its URL says (slapd itself
// listens on loopback alone). The relay stops when the test ends. On a
// machine with no such address the test is skipped.
func (s *Server) Elsewhere(t testing.TB) string {
	t.Helper()
	ip := outward()
	if ip == "" {
		t.Skip("slapdtest: this machine has no address but loopback")
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("slapdtest: relay: %v", err)
	}
	var mu sync.Mutex
	var open []net.Conn
	keep := func(c net.Conn) {
		mu.Lock()
		open = append(open, c)
		mu.Unlock()
	}
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range open {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			d, err := net.Dial("tcp", s.Addr)
			if err != nil {
				c.Close()
				continue
			}
			keep(c)
			keep(d)
			go func() { _, _ = io.Copy(d, c); d.Close() }()
			go func() { _, _ = io.Copy(c, d); c.Close() }()
		}
	}()
	return "ldap://" + ln.Addr().String()
}

// outward is an IPv4 address of this machine that is not loopback; "" when
// it has none.
func outward() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP.String()
		}
	}
	return ""
}
