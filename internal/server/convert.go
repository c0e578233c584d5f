package server

import (
	"bytes"
	"net/http"
	"net/textproto"
	"net/url"
	"unsafe"

	"github.com/valyala/fasthttp"
)

// convert fills x.req, for the gin engine, from the request fasthttp parsed
// and the body read before (fastServer.handle), as fasthttp's adaptor
// (ConvertRequest) would, with one difference that matters: the request's
// strings are its own. The adaptor's method, URI, host and header strings are
// views of fasthttp's buffers, which the connection's next request is parsed
// into, while a string of this one may outlive it: a span the batcher
// exports later, a cache key. Here every one of them is a view of a single
// allocation made for this request, which nothing writes to again.
func (x *fastExchange) convert(ctx *fasthttp.RequestCtx, body []byte) error {
	h := &ctx.Request.Header
	size := len(h.Method()) + len(h.RequestURI()) + len(h.Host())
	n := 0
	for k, v := range h.All() {
		size += len(k) + len(v)
		n++
	}
	a := arena{b: make([]byte, 0, size)}
	r := &x.req
	r.Method = a.take(h.Method())
	uri := a.take(h.RequestURI())
	if u, ok := simplePath(uri); ok {
		x.url = u
	} else {
		u, err := url.ParseRequestURI(uri)
		if err != nil {
			return err
		}
		x.url = *u
	}
	r.URL = &x.url
	r.RequestURI = uri
	r.Proto, r.ProtoMajor, r.ProtoMinor = protocol(h.Protocol())
	// As net/http: an absolute-form target's host, else the Host header
	// as written.
	if r.Host = x.url.Host; r.Host == "" {
		r.Host = a.take(h.Host())
	}
	r.RemoteAddr = remoteAddr(ctx)
	r.TLS = ctx.TLSConnectionState()
	r.ContentLength = int64(len(body))
	x.body.Reset(body)
	r.Body = readCloser{&x.body}

	vals := make([]string, 0, n)
	cookie := false
	for k, v := range h.All() {
		name := a.take(k)
		switch name {
		case fasthttp.HeaderCookie: // fasthttp's is rebuilt from its parse: taken as sent below
			cookie = true
			continue
		case "Transfer-Encoding":
			r.TransferEncoding = append(r.TransferEncoding, a.take(v))
			continue
		case fasthttp.HeaderTrailer: // announced trailers are r.Trailer's
			continue
		}
		// fasthttp's names are canonical already, unless normalizing
		// left them alone (an invalid name): net/http's form either way.
		name = textproto.CanonicalMIMEHeaderKey(name)
		vals = append(vals, a.take(v))
		v := vals[len(vals)-1 : len(vals) : len(vals)]
		if have, ok := r.Header[name]; ok {
			v = append(have, v[0])
		}
		r.Header[name] = v
	}
	if cookie {
		rawCookies(r.Header, h.RawHeaders())
	}
	if keys := h.PeekTrailerKeys(); len(keys) > 0 {
		r.Trailer = make(http.Header, len(keys))
		for _, k := range keys {
			r.Trailer[http.CanonicalHeaderKey(string(k))] = nil
		}
		// "Key: Value\r\n" a value, then an empty line.
		section := h.TrailerHeader()
		for len(section) > len("\r\n") {
			var line []byte
			line, section, _ = bytes.Cut(section, []byte("\r\n"))
			if k, v, ok := bytes.Cut(line, []byte(": ")); ok {
				name := http.CanonicalHeaderKey(string(k))
				r.Trailer[name] = append(r.Trailer[name], string(v))
			}
		}
	}
	return nil
}

// rawCookies adds the Cookie lines of a raw header block to hdr, each value
// as the client sent it. fasthttp hands its request's cookies back rebuilt
// from what it parsed (quotes dropped, a cookie without a name given
// one, blanks changed), and a dialect whose credentials are cookies
// (Crafter's JSESSIONID) must pass them on unchanged.
func rawCookies(hdr http.Header, raw []byte) {
	cookie := false // the last field line was a Cookie
	for len(raw) > 0 {
		var line []byte
		line, raw, _ = bytes.Cut(raw, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			// A folded continuation (obs-fold): joined with a space, as
			// net/http's server does.
			if vs := hdr[fasthttp.HeaderCookie]; cookie && len(vs) > 0 {
				vs[len(vs)-1] += " " + string(bytes.Trim(line, " \t"))
			}
			continue
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		cookie = ok && bytes.EqualFold(k, []byte(fasthttp.HeaderCookie))
		if cookie {
			hdr[fasthttp.HeaderCookie] = append(hdr[fasthttp.HeaderCookie], string(bytes.Trim(v, " \t")))
		}
	}
}

// arena hands out strings copied into one buffer allocated to size: it
// never grows, so what it handed out stays put.
type arena struct{ b []byte }

func (a *arena) take(s []byte) string {
	if len(s) == 0 {
		return ""
	}
	start := len(a.b)
	a.b = append(a.b, s...)
	return unsafe.String(&a.b[start], len(s))
}

// simplePath is url.ParseRequestURI's answer for a request URI that is a
// path of characters a path keeps as they are (no escape, no query): the
// path itself. ok is false for anything else, which ParseRequestURI parses.
func simplePath(uri string) (url.URL, bool) {
	if uri == "" || uri[0] != '/' {
		return url.URL{}, false
	}
	for i := 0; i < len(uri); i++ {
		if !pathKept[uri[i]] {
			return url.URL{}, false
		}
	}
	return url.URL{Path: uri}, true
}

// pathKept: the bytes net/url neither unescapes nor would escape in a path
// (unreserved, and the sub-delimiters it leaves alone), so that a path of
// them is its own Path with no RawPath.
var pathKept = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-_.~$&+,/:;=@" {
		t[c] = true
	}
	return t
}()

func protocol(p []byte) (string, int, int) {
	switch string(p) { // no allocation
	case "HTTP/1.1":
		return "HTTP/1.1", 1, 1
	case "HTTP/1.0":
		return "HTTP/1.0", 1, 0
	}
	s := string(p)
	if major, minor, ok := http.ParseHTTPVersion(s); ok {
		return s, major, minor
	}
	return s, 1, 1
}

// remoteAddr is the client's address as net/http writes it, formatted once
// a connection.
func remoteAddr(ctx *fasthttp.RequestCtx) string {
	if lc, ok := ctx.Conn().(*lingerConn); ok {
		return lc.remote
	}
	return ctx.RemoteAddr().String()
}

// readCloser is a request body read from memory.
type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
