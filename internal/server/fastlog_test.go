package server

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
)

// fastLogger logs fasthttp's messages without the request bytes fasthttp
// puts in their arguments: an error's text, a request's String().
func TestFastLoggerWithholdsArguments(t *testing.T) {
	var buf bytes.Buffer
	l := fastLogger{slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	const secret = "Cookie: JSESSIONID=S3CRET"
	parse := fmt.Errorf("error when reading request headers: %w: buffer size=99, contents: %q",
		errors.New("invalid header value \""+secret+"\""), "PUT / HTTP/1.1\r\n"+secret)
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	remote := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 7), Port: 40000}
	l.Printf(fastConnError, local, remote, parse)
	l.Printf("%.3f %s - %s", 0.25, "#0000000100000001 - 127.0.0.1:8080<->10.0.0.7:40000 - PUT http://h/v1/"+secret, []byte(secret))
	l.Printf("The number of connections from %s exceeds MaxConnsPerIP=%d", remote.IP.String(), 3)
	out := buf.String()
	if strings.Contains(out, "S3CRET") {
		t.Fatalf("a request's bytes were logged:\n%s", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines:\n%s", len(lines), out)
	}
	for i, want := range []string{`"level":"DEBUG"`, `"level":"WARN"`, `"level":"WARN"`} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d: want %s: %s", i, want, lines[i])
		}
	}
	if !strings.Contains(lines[0], `10.0.0.7:40000`) || !strings.Contains(lines[0], `other (*errors.errorString)`) {
		t.Errorf("the remote address or the error's kind is missing: %s", lines[0])
	}
	if !strings.Contains(lines[2], "MaxConnsPerIP=3") {
		t.Errorf("a number was withheld: %s", lines[2])
	}
}
