package server

import (
	"net"
	"testing"
	"time"
)

// TestLingeringCloseDoesNotBlock: net/http's Server.Close closes every
// connection in turn; a connection that lingers (after a refusal or a
// request that had to end it) must not make that loop wait for its client.
// Twenty such connections whose clients never close are closed in far less
// than the twenty lingers (10 s) one after another would take.
func TestLingeringCloseDoesNotBlock(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const n = 20
	var conns []*frontConn
	var clients []net.Conn
	for range n {
		cl, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, cl)
		sc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		fc := &frontConn{Conn: sc}
		fc.linger.Store(true)
		conns = append(conns, fc)
	}
	defer func() {
		for _, c := range clients {
			_ = c.Close()
		}
	}()
	start := time.Now()
	for _, c := range conns {
		_ = c.Close()
	}
	if took := time.Since(start); took > n*lingerFor/2 {
		t.Errorf("closing %d lingering connections took %v: each waited for its client", n, took)
	}
	// Each client still reads EOF: the sending half was closed.
	buf := make([]byte, 1)
	_ = clients[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := clients[0].Read(buf); err == nil {
		t.Error("the client read data, want EOF")
	}
}
