package app_test

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// malformedRequest is a request the HTTP server cannot parse, carrying
// every kind of secret a client sends: credentials in headers, a cookie,
// a password in the body, an identifier in the path.
type malformedRequest struct {
	name string
	raw  string
	// status is the one net/http refuses it with; want is a fragment of
	// the log line's error (and the answer's message) that says what went
	// wrong.
	status int
	want   string
}

// malformedRequests builds them for addr. In the last, a secret value is
// itself the malformed part: an error text that quoted the offending value
// would carry it.
func malformedRequests(addr string) []malformedRequest {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("USuser:"+secretBasicPass))
	body := `{"firstName":"Johnny","password":"` + secretPassword + `"}`
	head := func(extra string) string {
		return "PUT /v1/" + secretTenantKey + "/users/jane.doe HTTP/1.1\r\nHost: " + addr + "\r\n" +
			"Authorization: " + basic + "\r\nx-secret: " + secretAPISecret + "\r\nx-key: " + secretAPIKey + "\r\n" +
			"Cookie: JSESSIONID=" + secretSession + "; XSRF-TOKEN=" + secretXSRF + "\r\n" +
			"Content-Type: application/json\r\nConnection: close\r\n" + extra
	}
	withBody := func(extra string) string {
		return head(extra+fmt.Sprintf("Content-Length: %d\r\n", len(body))) + "\r\n" + body
	}
	return []malformedRequest{
		{"control byte in a header value", withBody("X-Bad: a\x01\r\n"), 400, "malformed"},
		{"CR inside a header value", withBody("X-Bad: a\rb\r\n"), 400, "malformed"},
		{"NUL in a header", withBody("X-Bad: a\x00b\r\n"), 400, "malformed"},
		// (Two equal ones are read as one, as RFC 9110 §8.6 allows.)
		{"two different Content-Lengths", head(fmt.Sprintf("Content-Length: %d\r\n", len(body))) +
			fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)-1) + body, 400, "malformed"},
		{"control byte in the credential itself", withBody("X-Shift-Auth: " + secretBearer + "\x01\r\n"), 400, "malformed"},
	}
}

// TestMalformedRequestsLogNoSecrets sends requests the HTTP server refuses
// before any handler runs: nothing reaches the upstream, no secret they
// carry reaches the log (at debug level), and one line at warn level says
// what was wrong with the request and who sent it.
func TestMalformedRequestsLogNoSecrets(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, e2eConfig)
	addr := strings.TrimPrefix(s.base, "http://")
	for _, m := range malformedRequests(addr) {
		t.Run(m.name, func(t *testing.T) {
			rec.set(nil)
			before := len(s.logs.String())
			local := sendRaw(t, addr, m.raw)
			if n := len(rec.requests()); n != 0 {
				t.Fatalf("the upstream received %d requests", n)
			}
			// The refusal is logged before its answer is written, and
			// sendRaw read until the server closed.
			logs := s.logs.String()
			noSecret(t, "the log", []byte(logs[before:]), secretBearer, secretTenantKey, "a\\x01", "jane.doe")
			line := logLineWith(logs[before:], local)
			if line == nil {
				t.Fatalf("no log line names the client %s:\n%s", local, logs[before:])
			}
			if e, _ := line["error"].(string); !strings.Contains(e, m.want) {
				t.Errorf("error = %q, want it to say %q: %v", e, m.want, line)
			}
			if line["level"] != "WARN" || line["remote"] != local {
				t.Errorf("level or remote: %v", line)
			}
			if n := strings.Count(logs[before:], `"level":"WARN"`); n != 1 {
				t.Errorf("%d lines at WARN, want one:\n%s", n, logs[before:])
			}
		})
	}
	t.Run("connection closed without a byte", func(t *testing.T) {
		before := len(s.logs.String())
		conn := dialRaw(t, addr)
		defer conn.Close()
		// Half-closed: the server reads EOF, gives up on the connection
		// and closes its side, which the client then reads.
		if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		if b, err := io.ReadAll(conn); err != nil || len(b) != 0 {
			t.Fatalf("answered %q (%v)", b, err)
		}
		if l := s.logs.String()[before:]; strings.Contains(l, `"level":"WARN"`) {
			t.Errorf("a port probe is logged at WARN:\n%s", l)
		}
	})
	noSecret(t, "the log", []byte(s.logs.String()), secretBearer, secretTenantKey, "jane.doe")
}

// sendRaw writes raw to addr, reads until the server closes the
// connection, and returns the client's address (as the server saw it).
func sendRaw(t *testing.T, addr, raw string) string {
	t.Helper()
	conn := dialRaw(t, addr)
	defer conn.Close()
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(conn)
	return conn.LocalAddr().String()
}

// logLineWith returns the first JSON log line holding s, or nil.
func logLineWith(logs, s string) map[string]any {
	for _, l := range strings.Split(logs, "\n") {
		if !strings.Contains(l, s) {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			return m
		}
	}
	return nil
}

// TestMalformedRequestsAnswered: a request net/http's server will not
// serve is answered as an unknown route is (the same JSON envelope, an
// X-Request-Id), with the status net/http chose, and the connection
// closed; the log line of the refusal carries the same id. A refusal that
// follows a request served on the same connection is answered alike.
func TestMalformedRequestsAnswered(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, e2eConfig)
	addr := strings.TrimPrefix(s.base, "http://")

	// The envelope an unknown route gets, for comparison.
	unknown := s.do(t, "GET", "/no/such/route", nil, "")
	if unknown.Status != http.StatusNotFound || unknown.Header.Get("X-Request-Id") == "" {
		t.Fatalf("unknown route: %d %v %s", unknown.Status, unknown.Header, unknown.Body)
	}
	shape := envelopeShape(t, unknown.Body)

	cases := append(malformedRequests(addr), []malformedRequest{
		{"header block over 64 KiB", "PUT /v3/users/u1 HTTP/1.1\r\nHost: " + addr + "\r\nX-Junk: " +
			strings.Repeat("j", 80<<10) + "\r\n\r\n", 431, "larger than"},
		{"garbage request line", "NOT-HTTP\r\n\r\n", 400, "malformed"},
		{"space in the request target", "PUT /v3/users/a b HTTP/1.1\r\nHost: " + addr + "\r\n\r\n", 400, "malformed"},
		{"no Host", "PUT /v3/users/u1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 400, "malformed"},
		{"unsupported Transfer-Encoding", "PUT /v3/users/u1 HTTP/1.1\r\nHost: " + addr + "\r\nTransfer-Encoding: gzip\r\n\r\n",
			501, "unsupported Transfer-Encoding"},
		{"two Transfer-Encodings", "PUT /v3/users/u1 HTTP/1.1\r\nHost: " + addr + "\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			501, "unsupported Transfer-Encoding"},
		{"HTTP/3.0 request line", "PUT /v3/users/u1 HTTP/3.0\r\nHost: " + addr + "\r\n\r\n", 505, "unsupported HTTP version"},
		{"unknown Expect", "PUT /v3/users/u1 HTTP/1.1\r\nHost: " + addr + "\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\n{}",
			417, "Expect"},
		{"after a request served on the connection", "GET /no/such/route HTTP/1.1\r\nHost: " + addr + "\r\n\r\nNOT-HTTP\r\n\r\n",
			400, "malformed"},
	}...)
	for _, m := range cases {
		t.Run(m.name, func(t *testing.T) {
			rec.set(nil)
			skip := 0
			if strings.HasPrefix(m.raw, "GET /no/such/route") {
				skip = 1
			}
			resp, body, after := answerThen(t, addr, m.raw, skip)
			if resp.StatusCode != m.status {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, m.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if got := envelopeShape(t, body); got != shape {
				t.Errorf("envelope %s, an unknown route's is %s", got, shape)
			}
			if msg := gjson.GetBytes(body, "error.message").Str; !strings.Contains(msg, m.want) {
				t.Errorf("message %q, want it to say %q", msg, m.want)
			}
			noSecret(t, "the answer", body, secretTenantKey)
			id := resp.Header.Get("X-Request-Id")
			if id == "" {
				t.Fatal("no X-Request-Id")
			}
			if !resp.Close || !errors.Is(after, io.EOF) {
				t.Errorf("connection not closed (Connection: close %v; after the answer: %v, want EOF)", resp.Close, after)
			}
			if n := len(rec.requests()); n != 0 {
				t.Errorf("the upstream received %d requests", n)
			}
			// Logged before the answer was written.
			line := logLineWith(s.logs.String(), `"request_id":"`+id+`"`)
			if line == nil || line["status"] != float64(m.status) || line["msg"] != "http server: request refused" {
				t.Errorf("log line of %s: %v", id, line)
			}
		})
	}
	// Counted, under no dialect, by status.
	want := map[int]float64{}
	for _, m := range cases {
		want[m.status]++
	}
	ss := scrape(t, s.base)
	for status, n := range want {
		wantValue(t, ss, "userbridge_requests_total", map[string]string{"dialect": "none", "route": "unreadable", "status": strconv.Itoa(status)}, n)
	}
}

// envelopeShape is a JSON body's member paths and value types, with the
// error code kept: {"error":{"code":"…","message":"…"}} → error.code
// error.message.
func envelopeShape(t *testing.T, body []byte) string {
	t.Helper()
	if !gjson.ValidBytes(body) {
		t.Fatalf("not JSON: %q", body)
	}
	var paths []string
	var walk func(prefix string, v gjson.Result)
	walk = func(prefix string, v gjson.Result) {
		if !v.IsObject() {
			paths = append(paths, prefix+":"+v.Type.String())
			return
		}
		v.ForEach(func(k, e gjson.Result) bool {
			walk(strings.TrimPrefix(prefix+"."+k.Str, "."), e)
			return true
		})
	}
	walk("", gjson.ParseBytes(body))
	return strings.Join(paths, " ")
}

// dialRaw connects to addr for a raw exchange of at most 5 seconds.
func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	return conn
}

// answerThen writes raw to addr (on, while it reads: the server may answer
// before it has read all of a long request), reads skip answers and drops
// them, then reads one response with its body, then one more byte, and
// returns what that read ended with: io.EOF when the server closed the
// connection gracefully after the answer.
func answerThen(t *testing.T, addr, raw string, skip int) (*http.Response, []byte, error) {
	t.Helper()
	conn := dialRaw(t, addr)
	defer conn.Close()
	go func() { _, _ = io.WriteString(conn, raw) }()
	br := bufio.NewReader(conn)
	read := func() (*http.Response, []byte) {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
	for range skip {
		if resp, _ := read(); resp.Close {
			t.Fatalf("an answer before the last (%d) ended the connection", resp.StatusCode)
		}
	}
	resp, body := read()
	_, err := br.ReadByte()
	return resp, body, err
}

// TestTLSOnPlainListenerNamed: a client that speaks https to userbridge's
// plain-HTTP listener (a base URL with https://) is refused, and the log
// line says what happened instead of "malformed request".
func TestTLSOnPlainListenerNamed(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, e2eConfig)
	addr := strings.TrimPrefix(s.base, "http://")
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	c := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"})
	if err := c.Handshake(); err == nil {
		t.Fatal("a TLS handshake with a plain-HTTP listener succeeded")
	}
	var line map[string]any
	for deadline := time.Now().Add(10 * time.Second); line == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		line = logLineWith(s.logs.String(), `"msg":"http server: request refused"`)
	}
	if line == nil {
		t.Fatalf("no refusal logged:\n%s", s.logs.String())
	}
	if msg, _ := line["error"].(string); !strings.Contains(msg, "TLS handshake on a plain-HTTP listener") {
		t.Errorf("refusal logged as %q, want it to name a TLS handshake on a plain-HTTP listener", msg)
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("the upstream received %d requests", n)
	}
}
