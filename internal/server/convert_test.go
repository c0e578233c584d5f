package server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// rawRequests are requests as a client writes them, the odd ones included.
var rawRequests = []string{
	"PUT /users/USsRhsHYZGBPnQw8CFHjD7Un HTTP/1.1\r\nHost: api.example.com\r\nContent-Type: application/json\r\nAuthorization: Basic dTpw\r\nFinix-Version: 2022-02-01\r\nContent-Length: 16\r\n\r\n{\"enabled\":true}",
	"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: API.Example.COM:8080\r\n\r\n",
	"GET /a/b%2Fc/d HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /users/j%C3%B6rg?x=1&y=%20#frag HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /users/it's(me)!*~ HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /a;b=c/@d:e,f+g$h&i HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET //double//slash HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /q? HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /users/a%zz HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET http://other.example/abs/path?q=1 HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /old HTTP/1.0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nx-lower-case: 1\r\nX-Multi: a\r\nx-multi: b\r\nX-MULTI: c\r\nCookie: a=b; c=d\r\nUser-Agent: legacy/1.0\r\nX-Empty:\r\n\r\n",
	"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n4\r\nbody\r\n0\r\nX-Sum: 42\r\n\r\n",
}

// TestConvertAsAdaptor: convert gives the gin engine the request fasthttp's
// adaptor would, field for field, but for Host, which is net/http's (the
// adaptor lowercases it; net/http keeps it as written, so _links do too on
// either server).
func TestConvertAsAdaptor(t *testing.T) {
	for _, raw := range rawRequests {
		var req fasthttp.Request
		if err := req.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 41000}, nil)

		want := &http.Request{Header: http.Header{}}
		wantErr := fasthttpadaptor.ConvertRequest(&ctx, want, true)
		if nr, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw))); err == nil {
			want.Host = nr.Host
		}
		x := &fastExchange{req: http.Request{Header: http.Header{}}}
		err := x.convert(&ctx, req.Body())
		if (err != nil) != (wantErr != nil) {
			t.Errorf("%q: error %v, the adaptor's %v", raw, err, wantErr)
			continue
		}
		if err != nil {
			continue
		}
		got := &x.req
		if !reflect.DeepEqual(got.URL, want.URL) {
			t.Errorf("%q: URL %#v, the adaptor's %#v", raw, got.URL, want.URL)
		}
		for _, f := range []struct {
			name      string
			got, want any
		}{
			{"Method", got.Method, want.Method},
			{"RequestURI", got.RequestURI, want.RequestURI},
			{"Proto", []any{got.Proto, got.ProtoMajor, got.ProtoMinor}, []any{want.Proto, want.ProtoMajor, want.ProtoMinor}},
			{"Host", got.Host, want.Host},
			{"RemoteAddr", got.RemoteAddr, want.RemoteAddr},
			{"Header", got.Header, want.Header},
			{"TransferEncoding", got.TransferEncoding, want.TransferEncoding},
			{"Trailer", got.Trailer, want.Trailer},
			{"ContentLength", got.ContentLength, want.ContentLength},
		} {
			if !reflect.DeepEqual(f.got, f.want) {
				t.Errorf("%q: %s %#v, the adaptor's %#v", raw, f.name, f.got, f.want)
			}
		}
		gb, _ := io.ReadAll(got.Body)
		wb, _ := io.ReadAll(want.Body)
		if string(gb) != string(wb) {
			t.Errorf("%q: body %q, the adaptor's %q", raw, gb, wb)
		}
	}
}

// TestConvertOwnsItsStrings: once fasthttp parses the connection's next
// request into the same buffers, the strings of the converted one are
// unchanged.
func TestConvertOwnsItsStrings(t *testing.T) {
	var req fasthttp.Request
	parse := func(raw string) {
		req.Reset()
		if err := req.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
			t.Fatal(err)
		}
	}
	parse("PUT /users/aaaa HTTP/1.1\r\nHost: host-a\r\nUser-Agent: client-a\r\nX-Request-Id: request-a\r\n\r\n")
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, nil, nil)
	x := &fastExchange{req: http.Request{Header: http.Header{}}}
	if err := x.convert(&ctx, nil); err != nil {
		t.Fatal(err)
	}
	r := x.req
	u := *r.URL
	parse("GET /users/bbbb HTTP/1.1\r\nHost: host-b\r\nUser-Agent: client-b\r\nX-Request-Id: request-b\r\n\r\n")
	for _, c := range [][2]string{
		{r.Method, "PUT"}, {u.Path, "/users/aaaa"}, {r.RequestURI, "/users/aaaa"}, {r.Host, "host-a"},
		{r.UserAgent(), "client-a"}, {r.Header.Get("X-Request-Id"), "request-a"},
	} {
		if c[0] != c[1] {
			t.Errorf("%q after the next request was parsed, want %q", c[0], c[1])
		}
	}
}

// TestSimplePath: where simplePath answers, it answers as
// url.ParseRequestURI does.
func TestSimplePath(t *testing.T) {
	for _, uri := range []string{"/", "/users/USsRhsHYZGBPnQw8CFHjD7Un", "/a-b_c.d~e/$&+,:;=@", "//x", "/a%2Fb", "/a b", "/é",
		"/x?y", "/it's", "/(x)", "*", "", "/a#b", "/a!", "/a*"} {
		got, ok := simplePath(uri)
		if !ok {
			continue
		}
		want, err := url.ParseRequestURI(uri)
		if err != nil {
			t.Errorf("%q: simplePath took what ParseRequestURI refuses: %v", uri, err)
			continue
		}
		if !reflect.DeepEqual(&got, want) {
			t.Errorf("%q: %#v, ParseRequestURI's %#v", uri, got, *want)
		}
	}
	for _, uri := range []string{"/a%2Fb", "/x?y", "/a b", "/it's", "*"} {
		if _, ok := simplePath(uri); ok {
			t.Errorf("%q: taken as a plain path", uri)
		}
	}
}
