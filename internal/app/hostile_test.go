package app_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// hostileConfig sets small limits, so that each is easy to cross.
func hostileConfig(c *config.Config) {
	e2eConfig(c)
	c.Server.MaxBodyBytes = 4096
	c.Server.MaxDepth = 8
}

// hostileBody is a request body, or a content type, a server must refuse.
type hostileBody struct {
	name, contentType, body string
	chunked                 bool // sent without a Content-Length
	code                    canonical.Code
	msgHas                  string
}

var hostileBodies = []hostileBody{
	{name: "over the body limit", body: `{"email":"` + strings.Repeat("a", 5000) + `@example.com"}`,
		code: canonical.PayloadTooLarge, msgHas: "larger than 4096 bytes"},
	{name: "over the body limit, chunked", body: `{"email":"` + strings.Repeat("a", 5000) + `@example.com"}`, chunked: true,
		code: canonical.PayloadTooLarge, msgHas: "larger than 4096 bytes"},
	{name: "far over the body limit", body: `{"email":"` + strings.Repeat("a", 3<<20) + `"}`,
		code: canonical.PayloadTooLarge, msgHas: "larger than"},
	{name: "nested deeper than the limit", body: `{"zz":` + strings.Repeat(`[`, 9) + strings.Repeat(`]`, 9) + `}`,
		code: canonical.BadRequest, msgHas: "nested deeper than 8"},
	{name: "nested objects deeper than the limit", body: strings.Repeat(`{"a":`, 9) + `1` + strings.Repeat(`}`, 9),
		code: canonical.BadRequest, msgHas: "nested deeper than 8"},
	{name: "duplicate key", body: `{"email":"a@example.com","email":"b@example.com"}`,
		code: canonical.InvalidField, msgHas: "more than once"},
	{name: "invalid UTF-8 in a value", body: "{\"email\":\"a\xff@example.com\"}",
		code: canonical.BadRequest, msgHas: "invalid UTF-8"},
	{name: "invalid UTF-8 in a key", body: "{\"em\xc3ail\":\"a@example.com\"}",
		code: canonical.BadRequest, msgHas: "invalid UTF-8"},
	{name: "UTF-16 surrogate encoded as UTF-8", body: "{\"email\":\"\xed\xa0\x80@example.com\"}",
		code: canonical.BadRequest, msgHas: "invalid UTF-8"},
	{name: "form content type", contentType: "application/x-www-form-urlencoded", body: `email=a%40example.com`,
		code: canonical.UnsupportedMediaType, msgHas: "Content-Type"},
	{name: "XML content type", contentType: "application/xml", body: `{"email":"a@example.com"}`,
		code: canonical.UnsupportedMediaType, msgHas: "Content-Type"},
	{name: "multipart content type", contentType: "multipart/form-data; boundary=x", body: "--x\r\n\r\n{}\r\n--x--",
		code: canonical.UnsupportedMediaType, msgHas: "Content-Type"},
}

// TestHostileBodies sends every dialect each hostile body: each is refused
// with the dialect's error and status, and the upstream receives nothing.
func TestHostileBodies(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, hostileConfig)
	for _, d := range specs {
		for _, hb := range hostileBodies {
			t.Run(d.name+"/"+hb.name, func(t *testing.T) {
				rec.set(nil)
				ct := hb.contentType
				if ct == "" {
					ct = "application/json"
				}
				var body io.Reader = strings.NewReader(hb.body)
				if hb.chunked {
					body = io.MultiReader(body) // hides the length
				}
				req, err := http.NewRequest(d.method, s.base+d.path, body)
				if err != nil {
					t.Fatal(err)
				}
				for k, v := range d.header {
					req.Header.Set(k, v)
				}
				req.Header.Set("Content-Type", ct)
				a := doReq(t, req)
				if hb.chunked && req.ContentLength != -1 && req.ContentLength != 0 {
					t.Fatalf("sent with a Content-Length: %d", req.ContentLength)
				}
				isError(t, d, a, hb.code, hb.msgHas)
				if n := len(rec.requests()); n != 0 {
					t.Fatalf("the upstream received %d requests", n)
				}
			})
		}
	}
}

// TestDefaultBodyLimit checks the default limit, 1 MiB: a body one byte
// over it is refused, one at it is read.
func TestDefaultBodyLimit(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, e2eConfig)
	d := specs[1] // shift
	hdr := map[string]string{"Content-Type": "application/json"}
	pad := func(n int) string { // a valid shift body of exactly n bytes
		const head, tail = `{"company":"`, `"}`
		return head + strings.Repeat("a", n-len(head)-len(tail)) + tail
	}
	a := s.do(t, d.method, d.path, hdr, pad(1<<20+1))
	isError(t, d, a, canonical.PayloadTooLarge, "larger than 1048576 bytes")
	if n := len(rec.requests()); n != 0 {
		t.Fatalf("the upstream received %d requests", n)
	}
	a = s.do(t, d.method, d.path, hdr, pad(1<<20))
	if a.Status != d.success {
		t.Fatalf("a body of exactly 1 MiB: status %d: %s", a.Status, a.Body)
	}
}

// fieldError asserts a dialect's invalid_field answer naming field.
func fieldError(t *testing.T, d dialectSpec, a answer, field string) {
	t.Helper()
	if want := statusOf(d, canonical.InvalidField); a.Status != want {
		t.Fatalf("status %d, want %d: %s", a.Status, want, a.Body)
	}
	want := field + " is not a valid path value"
	switch d.name {
	case "baasic":
		str(t, a.Body, "message", want)
		str(t, a.Body, "details", field)
	case "shift":
		str(t, a.Body, field, want) // keyed by the field
	case "trustedtwin":
		str(t, a.Body, "description", want)
	case "finix":
		str(t, a.Body, "_embedded.errors.0.message", want)
		str(t, a.Body, "_embedded.errors.0.field", field)
		str(t, a.Body, "_embedded.errors.0.code", "INVALID_FIELD")
	case "crafter":
		str(t, a.Body, "message", "Invalid parameter: "+field)
	}
}

// escapes are path values that would leave their segment upstream, as sent
// in the request path (%-escaped where a client must escape them).
var escapes = []string{"..", ".", "%2e%2e", "%2E.", "a%2Fb", "a%2fb", "%2F", "..%2Fadmin", "a%3Fb", "%3Fx=1", "a%23b",
	"a%5Cb", "..%5Cadmin", "a%00b", "a%0Ab", "a%0D%0AX-Injected:%201"}

// routeParam is the route parameter a dialect's spec path carries the user
// in, and the spec path with that value replaced.
func routeParam(d dialectSpec, value string) (name, path string) {
	switch d.name {
	case "baasic":
		return "username", strings.Replace(d.path, "jane.doe", value, 1)
	case "shift":
		return "userId", strings.Replace(d.path, johnID, value, 1)
	case "trustedtwin":
		return "user", strings.Replace(d.path, janeID, value, 1)
	case "finix":
		return "user_id", strings.Replace(d.path, finixID, value, 1)
	}
	return "", ""
}

// TestPathEscapes sends path values that would escape their segment: each
// is refused with the dialect's invalid_field naming the parameter, and
// nothing is forwarded. Crafter names its user in the body, which is held to
// the same rule. Values a client cannot put in a URL (a raw '#', a
// backslash) go over a raw connection.
func TestPathEscapes(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, hostileConfig)
	addr := strings.TrimPrefix(s.base, "http://")
	for _, d := range specs {
		if d.name == "crafter" {
			continue
		}
		hdr := map[string]string{"Content-Type": "application/json"}
		for k, v := range d.header {
			hdr[k] = v
		}
		for _, v := range escapes {
			name, path := routeParam(d, v)
			t.Run(d.name+"/"+v, func(t *testing.T) {
				rec.set(nil)
				fieldError(t, d, s.do(t, d.method, path, hdr, d.body), name)
				if n := len(rec.requests()); n != 0 {
					t.Fatalf("the upstream received %d requests", n)
				}
			})
		}
		// The baasic API key fills {tenant} upstream: held to the rule too.
		if d.name == "baasic" {
			t.Run("baasic/apiKey", func(t *testing.T) {
				rec.set(nil)
				a := s.do(t, d.method, strings.Replace(d.path, "demo-app", "..", 1), hdr, d.body)
				fieldError(t, d, a, "apiKey")
				if n := len(rec.requests()); n != 0 {
					t.Fatalf("the upstream received %d requests", n)
				}
			})
		}
		// A tenant of blanks would reach the upstream as an empty
		// X-Userbridge-Tenant (a header loses its value's outer blanks),
		// which names no tenant: users of every tenant would be found.
		if d.name == "baasic" {
			for _, v := range []string{"%20", "demo-app%20", "%20demo-app", "%20%20", "%FF"} {
				t.Run("baasic/apiKey "+v, func(t *testing.T) {
					rec.set(nil)
					a := s.do(t, d.method, strings.Replace(d.path, "demo-app", v, 1), hdr, d.body)
					if want := statusOf(d, canonical.InvalidField); a.Status != want {
						t.Fatalf("status %d, want %d: %s", a.Status, want, a.Body)
					}
					str(t, a.Body, "message", "apiKey is not a valid tenant")
					str(t, a.Body, "details", "apiKey")
					if n := len(rec.requests()); n != 0 {
						t.Fatalf("the upstream received %d requests", n)
					}
				})
			}
		}
		for _, v := range []string{"a#b", `a\b`, `..\admin`} {
			name, path := routeParam(d, v)
			t.Run(d.name+"/raw "+v, func(t *testing.T) {
				rec.set(nil)
				raw := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
					d.method, path, addr, len(d.body), d.body)
				a, err := rawExchange(addr, raw, 3*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				fieldError(t, d, a, name)
				if n := len(rec.requests()); n != 0 {
					t.Fatalf("the upstream received %d requests", n)
				}
			})
		}
	}
	d := specs[4] // crafter: the username comes in the body
	for _, v := range []string{"..", ".", "a/b", "../admin", `..\\admin`, "a?b", "a#b", `a\u0000b`, `a\nb`} {
		t.Run("crafter/"+v, func(t *testing.T) {
			rec.set(nil)
			hdr := map[string]string{"Content-Type": "application/json"}
			a := s.do(t, d.method, d.path, hdr, `{"username":"`+v+`","first_name":"X"}`)
			fieldError(t, d, a, "username")
			if n := len(rec.requests()); n != 0 {
				t.Fatalf("the upstream received %d requests: %v", n, rec.requests()[0].RawPath)
			}
		})
	}
}

// rawExchange writes raw bytes to addr and reads one response.
func rawExchange(addr, raw string, timeout time.Duration) (answer, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return answer{}, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(conn, raw); err != nil {
		return answer{}, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{Status: resp.StatusCode, Header: resp.Header, Body: b}, err
}

// slowConfig sets short server timeouts against slow clients.
func slowConfig(c *config.Config) {
	e2eConfig(c)
	c.Server.ReadHeaderTimeout = config.Duration(300 * time.Millisecond)
	c.Server.ReadTimeout = config.Duration(600 * time.Millisecond)
	c.Server.WriteTimeout = config.Duration(2 * time.Second)
	c.Server.IdleTimeout = config.Duration(400 * time.Millisecond)
}

// closedWithin reports how long the server took to close conn, reading (and
// returning) what it sent meanwhile; it gives up after limit.
func closedWithin(conn net.Conn, limit time.Duration) (time.Duration, string, bool) {
	t0 := time.Now()
	_ = conn.SetReadDeadline(t0.Add(limit))
	got, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return time.Since(t0), string(got), false
	}
	return time.Since(t0), string(got), true
}

// TestSlowClients: a client sending its headers or its body too slowly, or
// keeping an idle connection, is cut off by the server's timeouts; nothing
// is forwarded.
func TestSlowClients(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, slowConfig)
	addr := strings.TrimPrefix(s.base, "http://")
	d := specs[1] // shift
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nx-key: k\r\n", d.method, d.path, addr)

	t.Run("headers trickled", func(t *testing.T) {
		rec.set(nil)
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, head); err != nil {
			t.Fatal(err)
		}
		// One more header byte every 50ms, never finishing the headers.
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				if _, err := conn.Write([]byte{"X-Slow: abcdefghijklmnopqrstuvwxyz"[i%34]}); err != nil {
					return
				}
			}
		}()
		took, got, closed := closedWithin(conn, 3*time.Second)
		if !closed {
			t.Fatalf("the connection was still open after %v", took)
		}
		if took > 1500*time.Millisecond {
			t.Errorf("closed after %v; the header timeout is 300ms", took)
		}
		// net/http closes silently, or with a plain 400 when the headers
		// were cut mid-line: either way no handler ran.
		if got != "" && !strings.HasPrefix(got, "HTTP/1.1 400 ") && !strings.HasPrefix(got, "HTTP/1.1 408 ") {
			t.Errorf("answered %q", got)
		}
		if n := len(rec.requests()); n != 0 {
			t.Fatalf("the upstream received %d requests", n)
		}
	})

	t.Run("body trickled", func(t *testing.T) {
		rec.set(nil)
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, head+"Content-Length: 100\r\n\r\n{\"company\":\""); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				if _, err := conn.Write([]byte("a")); err != nil {
					return
				}
			}
		}()
		t0 := time.Now()
		_ = conn.SetReadDeadline(t0.Add(3 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		took := time.Since(t0)
		if err != nil {
			// Cut off without an answer is acceptable too, if in time.
			t.Logf("cut off after %v: %v", took, err)
		} else {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			isError(t, d, answer{Status: resp.StatusCode, Header: resp.Header, Body: b}, canonical.BadRequest, "could not be read")
		}
		if took > 1500*time.Millisecond {
			t.Errorf("answered after %v; the read timeout is 600ms", took)
		}
		if n := len(rec.requests()); n != 0 {
			t.Fatalf("the upstream received %d requests", n)
		}
	})

	t.Run("idle keep-alive", func(t *testing.T) {
		rec.set(nil)
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		raw := head + fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(d.body), d.body)
		if _, err := io.WriteString(conn, raw); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != d.success || resp.Close {
			t.Fatalf("status %d, close %v", resp.StatusCode, resp.Close)
		}
		t0 := time.Now()
		_ = conn.SetReadDeadline(t0.Add(3 * time.Second))
		_, err = br.ReadByte()
		took := time.Since(t0)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the idle connection was still open after %v", took)
		}
		if took > 1500*time.Millisecond || took < 100*time.Millisecond {
			t.Errorf("idle connection closed after %v; the idle timeout is 400ms", took)
		}
	})
}

// TestHostileHeaders covers headers no dialect should act on: an oversized
// header block is refused by the server before any handler runs; a request
// id that would inject into logs or headers is replaced.
func TestHostileHeaders(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, e2eConfig)
	d := specs[1]
	t.Run("header block over 64 KiB", func(t *testing.T) {
		rec.set(nil)
		hdr := map[string]string{"Content-Type": "application/json", "X-Junk": strings.Repeat("j", 80<<10)}
		a := s.do(t, d.method, d.path, hdr, d.body)
		if a.Status != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("status %d", a.Status)
		}
		if n := len(rec.requests()); n != 0 {
			t.Fatalf("the upstream received %d requests", n)
		}
	})
	t.Run("request id", func(t *testing.T) {
		rec.set(nil)
		bad := `x" injected="1`
		a := s.do(t, d.method, d.path, map[string]string{"Content-Type": "application/json", "X-Request-ID": bad}, d.body)
		if a.Status != d.success {
			t.Fatalf("status %d: %s", a.Status, a.Body)
		}
		got := a.Header.Get("X-Request-Id")
		if got == bad || got == "" || gjson.Valid(`"`+got+`"`) == false {
			t.Errorf("request id %q", got)
		}
		if up := rec.requests(); len(up) != 1 || up[0].Header.Get("X-Request-Id") != got {
			t.Errorf("upstream request id differs from the client's answer")
		}
		if strings.Contains(s.logs.String(), "injected") {
			t.Error("the client's request id reached the logs")
		}
	})
}

// TestShortBodyNotForwarded: a body shorter than its Content-Length, the
// client having closed its side, is cut short: answered as unreadable in
// the dialect's envelope, and never forwarded.
func TestShortBodyNotForwarded(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, e2eConfig)
	addr := strings.TrimPrefix(s.base, "http://")
	d := specs[1] // shift
	body := `{"status":"DELETED"}`
	conn := dialRaw(t, addr)
	defer conn.Close()
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		d.method, d.path, addr, len(body)+100, body)
	_ = conn.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	isError(t, d, answer{Status: resp.StatusCode, Header: resp.Header, Body: b}, canonical.BadRequest, "could not be read")
	if n := len(rec.requests()); n != 0 {
		t.Fatalf("the upstream received %d requests", n)
	}
}

// TestOversizedHeaderAnswerNotReset: a header block over the limit is
// answered 431 and the connection closed gracefully: its sending half
// first, while the bytes the client is still sending are read and dropped,
// not left to make the kernel reset the connection (which can throw the
// answer away before the client reads it).
func TestOversizedHeaderAnswerNotReset(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, e2eConfig)
	addr := strings.TrimPrefix(s.base, "http://")
	conn := dialRaw(t, addr)
	defer conn.Close()
	go func() {
		// 256 KiB of header, never ended: far past the 64 KiB read.
		_, _ = io.WriteString(conn, "PUT /v3/users/u1 HTTP/1.1\r\nHost: x\r\nX-Junk: "+strings.Repeat("j", 256<<10))
	}()
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("after the answer: %v, want EOF (a graceful close)", err)
	}
}

// TestCookiesPassedAsSent: in passthrough, Crafter's credentials are
// cookies, and they reach the upstream exactly as the client sent them:
// quotes, a cookie without a name or value, odd blanks inside, two Cookie
// lines.
func TestCookiesPassedAsSent(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, e2eConfig)
	addr := strings.TrimPrefix(s.base, "http://")
	d := specs[4] // crafter
	cookies := []string{`a="quoted value"; b=x=y; c`, `novalue; =emptyname; JSESSIONID=abc123;  spaced = v`, "f=1; g=2"}
	raw := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nCookie: %s\r\nX-XSRF-TOKEN: tok-1\r\ncookie:\t%s \r\nCookie: f=1;\r\n g=2\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		d.method, d.path, addr, cookies[0], cookies[1], len(d.body), d.body)
	a, err := rawExchange(addr, raw, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != d.success {
		t.Fatalf("status %d: %s", a.Status, a.Body)
	}
	up := rec.requests()
	if len(up) != 1 {
		t.Fatalf("the upstream received %d requests", len(up))
	}
	if got := up[0].Header.Values("Cookie"); !slices.Equal(got, cookies) {
		t.Errorf("the upstream received Cookie %q, want %q", got, cookies)
	}
}

// TestHeadersThatMustSayOneThing: an encoded body is refused as an
// unsupported media type, and two Idempotency-Key or Content-Encoding
// headers as a bad request (which one counted would depend on the reader),
// in every dialect's envelope, nothing forwarded.
func TestHeadersThatMustSayOneThing(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, e2eConfig)
	for _, d := range specs {
		for _, c := range []struct {
			name   string
			header [][2]string
			code   canonical.Code
			msg    string
		}{
			{"gzip", [][2]string{{"Content-Encoding", "gzip"}}, canonical.UnsupportedMediaType, "Content-Encoding"},
			{"br", [][2]string{{"Content-Encoding", "br"}}, canonical.UnsupportedMediaType, "Content-Encoding"},
			{"two encodings", [][2]string{{"Content-Encoding", "identity"}, {"Content-Encoding", "gzip"}}, canonical.BadRequest, "Content-Encoding appears more than once"},
			{"two idempotency keys", [][2]string{{"Idempotency-Key", "one"}, {"Idempotency-Key", "two"}}, canonical.BadRequest, "Idempotency-Key appears more than once"},
		} {
			t.Run(d.name+"/"+c.name, func(t *testing.T) {
				rec.set(nil)
				req, err := http.NewRequest(d.method, s.base+d.path, strings.NewReader(d.body))
				if err != nil {
					t.Fatal(err)
				}
				for k, v := range d.header {
					req.Header.Set(k, v)
				}
				req.Header.Set("Content-Type", "application/json")
				for _, kv := range c.header {
					req.Header.Add(kv[0], kv[1])
				}
				isError(t, d, doReq(t, req), c.code, c.msg)
				if n := len(rec.requests()); n != 0 {
					t.Fatalf("the upstream received %d requests", n)
				}
			})
		}
		t.Run(d.name+"/identity", func(t *testing.T) {
			rec.set(okUser)
			hdr := map[string]string{"Content-Type": "application/json", "Content-Encoding": "identity"}
			for k, v := range d.header {
				hdr[k] = v
			}
			if a := s.do(t, d.method, d.path, hdr, d.body); a.Status != d.success {
				t.Fatalf("identity: status %d: %s", a.Status, a.Body)
			}
		})
	}
}
