// Package migrate runs a migration off a legacy vendor with proof: the
// reverse-proxy hop to the vendor, the comparison of its answer with
// userbridge's, the diff log and its metrics, and the report that gates the
// cutover (docs/migration.md).
package migrate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/upstream"
)

// maxAnswerBytes bounds a vendor's answer body read for the client and the
// comparison.
const maxAnswerBytes = 4 << 20

// Answer is one side's answer as the client sees it.
type Answer struct {
	Status int
	Header http.Header
	// Body is the body as sent, content coding included: what the client
	// is relayed.
	Body []byte
	// Uncomparable, when set, says why Body cannot be compared (an
	// *EncodingError); the answer is still relayed.
	Uncomparable error
	// decoded is Body without its content coding, what is compared; nil
	// when Body has none.
	decoded []byte
}

// comparable is the body the comparison reads: decoded of its content
// coding.
func (a *Answer) comparable() []byte {
	if a.decoded != nil {
		return a.decoded
	}
	return a.Body
}

// Vendor is a dialect's legacy vendor: where the hop goes, with which
// mode, timeout and ignored members, behind its breaker.
type Vendor struct {
	// Mode is config.LegacyShadow or config.LegacyPrimary.
	Mode      string
	base      *url.URL
	client    *http.Client
	transport *http.Transport
	ignore    []string
	// breaker is the vendor's own (legacy.breaker), the upstream's kind;
	// nil when turned off.
	breaker *upstream.Breaker
	// retired: the routing that built the vendor was replaced (Retire);
	// a call that ends afterwards closes the connection it leaves idle.
	retired atomic.Bool
	// built and files say what the vendor was built from (Same): its
	// legacy block and the contents of the files legacy.tls names.
	built config.Legacy
	files [sha256.Size]byte
}

// ErrVendor wraps every failure to get an answer from the vendor: it was
// unreachable, too slow, or its answer could not be read.
var ErrVendor = errors.New("migrate: legacy vendor")

// ErrVendorTimeout is wrapped with ErrVendor when the vendor took longer
// than legacy.timeout.
var ErrVendorTimeout = errors.New("timed out")

// ErrVendorPaused is wrapped with ErrVendor when the vendor's breaker is
// open (or its trial call is out): the call was not made.
var ErrVendorPaused = errors.New("breaker open")

// ErrVendorTooLarge is wrapped with ErrVendor when the vendor's answer
// was over the 4 MiB userbridge reads of it.
var ErrVendorTooLarge = errors.New("answer over 4 MiB")

// ErrUnsafePath is returned, with nothing sent, for a path the vendor
// could resolve outside legacy.url's (UnsafePath).
var ErrUnsafePath = errors.New("migrate: the path has a dot segment")

// Hop is what the call to the vendor needs of the client's side.
type Hop struct {
	// Prefix is the dialect's prefix, left out of the vendor's path and
	// put back into the paths of the vendor's Location and cookies.
	Prefix string
	// RequestID goes to the vendor as X-Request-Id when the client sent
	// none.
	RequestID string
	// Scheme and Host are the client's view of userbridge (with
	// server.trustForwarded, what the proxy before it says): they make
	// X-Forwarded-Proto and -Host, and the vendor's absolute Location.
	Scheme, Host string
	// TrustForwarded keeps the X-Forwarded-For (and Forwarded, X-Real-Ip)
	// the client sent, adding the peer to it; else they are replaced by
	// the peer alone, as a client could have written anything there.
	TrustForwarded bool
}

// NewVendor builds the vendor of an active legacy block; an https vendor
// is checked against the system roots, or what legacy.tls says, never
// with the upstream's TLS. It is nil, with no error, for mode off. log,
// when not nil, is told each change of the vendor's breaker's state
// (upstream.NewBreaker).
func NewVendor(l config.Legacy, log *slog.Logger) (*Vendor, error) {
	if !l.Active() {
		return nil, nil
	}
	base, err := url.Parse(l.URL)
	if err != nil {
		return nil, fmt.Errorf("migrate: legacy url: %w", err)
	}
	// The files' digest first: were one replaced between this read and
	// ClientTLS's, the vendor would hold the new file's digest with the
	// old file's certificate, and no later reload would build it again;
	// this way round the worst is one rebuild too many.
	files, ferr := tlsFiles(l.TLS)
	conf, err := l.ClientTLS()
	if err != nil {
		return nil, fmt.Errorf("migrate: legacy vendor tls: %w", err)
	}
	if ferr != nil { // the files ClientTLS read are gone since
		return nil, fmt.Errorf("migrate: legacy vendor tls: %w", ferr)
	}
	built := l
	built.Ignore = slices.Clone(l.Ignore)
	// DisableCompression: the client's Accept-Encoding, or none, goes as
	// it is, and the answer comes back as the vendor encoded it.
	tr := &http.Transport{Proxy: nil, TLSClientConfig: conf, ForceAttemptHTTP2: true, DisableCompression: true,
		DialContext: (&net.Dialer{Timeout: l.Timeout.D()}).DialContext, MaxIdleConnsPerHost: 64,
		IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: l.Timeout.D()}
	return &Vendor{Mode: l.Mode, base: base, ignore: append([]string(nil), l.Ignore...), transport: tr, built: built, files: files,
		breaker: upstream.NewBreaker(l.Breaker.WithDefaults(), base.Host, upstream.BreakerLog(log, "legacy vendor", base.Host)),
		client: &http.Client{Transport: tr, Timeout: l.Timeout.D(),
			// The client's own answer is the vendor's: a redirect is
			// passed on, never followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, nil
}

// tlsFiles is a digest of the files t names, in its order.
func tlsFiles(t config.TLS) ([sha256.Size]byte, error) {
	h := sha256.New()
	for _, name := range []string{t.CAFile, t.CertFile, t.KeyFile} {
		if name == "" {
			h.Write([]byte{0})
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			return [sha256.Size]byte{}, err
		}
		h.Write([]byte{1})
		h.Write(b)
	}
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d, nil
}

// Same reports whether v and w were built from the same legacy block, the
// files its TLS names holding the same bytes: a reload keeps the running
// vendor then (its breaker's state, its connections) rather than start
// over with a closed breaker against a vendor that is still down.
func (v *Vendor) Same(w *Vendor) bool {
	return v != nil && w != nil && v.files == w.files && reflect.DeepEqual(v.built, w.built)
}

// Ignore is the legacy block's ignore list.
func (v *Vendor) Ignore() []string { return v.ignore }

// BreakerState is the vendor's breaker's: "closed", "half-open", "open",
// or "disabled".
func (v *Vendor) BreakerState() string { return v.breaker.State() }

// Retire closes the vendor's idle connections, now and after each call
// still running ends: the routing that built it was replaced (a reload)
// or the server stopped. The vendor still answers the calls made of it.
func (v *Vendor) Retire() {
	v.retired.Store(true)
	v.transport.CloseIdleConnections()
}

// hopHeaders are dropped on the hop, both ways (RFC 9110 §7.6.1), with
// those the Connection header names.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// endToEnd copies h without its hop-by-hop headers.
func endToEnd(h http.Header) http.Header {
	out := h.Clone()
	for _, f := range h.Values("Connection") {
		for _, name := range strings.Split(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				out.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		out.Del(name)
	}
	return out
}

// Call sends the client's request r to the vendor as a reverse proxy
// would (httputil.ReverseProxy with Rewrite: SetURL and SetXForwarded): its
// method, path without the prefix, query and end-to-end headers
// (credentials included: they are the vendor's), body byte for byte, Host
// the vendor's, X-Forwarded-For, -Host and -Proto set (Hop), no
// User-Agent of its own. The answer's hop-by-hop headers are dropped, and
// its Location, Content-Location and cookie paths under legacy.url's path
// are put under the prefix (rewrite). hop.RequestID is sent as
// X-Request-Id when the client sent none, so that the vendor's answer and
// logs carry the diff log's id. A path UnsafePath refuses is never sent
// (ErrUnsafePath); any other failure wraps ErrVendor. The call is for no
// user in particular: it is CallFor with the zero UserRef.
func (v *Vendor) Call(ctx context.Context, r *http.Request, hop Hop, body []byte) (*Answer, error) {
	return v.CallFor(ctx, upstream.UserRef{}, r, hop, body)
}

// CallFor is Call for a request that addresses user, through the vendor's
// breaker: while it is open the call is not made, and the error wraps
// ErrVendorPaused. The breaker counts as failures a vendor unreachable
// (whoever the user), too slow or answering a 5xx other than 501, 502,
// 503 and 505 (maybe that user's record: for user alone), 502 or 503
// (whoever the user); a caller gone (ctx ended) counts for nothing; any
// other answer, 4xx and 429 included, is a working vendor. A call for no
// user (a request relayed, whose caller nobody checked) counts only when
// the vendor could not be reached at all: what it answers to a request
// anyone may send, however slowly, says nothing of the updates.
func (v *Vendor) CallFor(ctx context.Context, user upstream.UserRef, r *http.Request, hop Hop, body []byte) (*Answer, error) {
	if UnsafePath(r.URL.EscapedPath()) {
		return nil, ErrUnsafePath
	}
	var a *Answer
	var err error
	anyone := user == upstream.UserRef{}
	paused, cause := v.breaker.Run(user, func() error {
		var verdict error
		a, verdict, err = v.call(ctx, r, hop, body)
		if anyone && (a != nil || !errors.Is(verdict, upstream.ErrUpstreamDown)) {
			return nil
		}
		return verdict
	})
	if v.retired.Load() {
		// After the answer was read and its connection put back: a
		// Retire before this closed the others, this closes it.
		v.transport.CloseIdleConnections()
	}
	if paused != nil {
		return nil, fmt.Errorf("%w: %w: %w", ErrVendor, ErrVendorPaused, cause)
	}
	return a, err
}

// call is Call without the breaker; verdict is the call's for it.
func (v *Vendor) call(ctx context.Context, r *http.Request, hop Hop, body []byte) (_ *Answer, verdict, _ error) {
	path := strings.TrimPrefix(r.URL.EscapedPath(), hop.Prefix)
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := *v.base
	u.Path, u.RawPath = "", strings.TrimSuffix(v.base.EscapedPath(), "/")+path
	if p, err := url.PathUnescape(u.RawPath); err == nil {
		u.Path = p
	}
	u.RawQuery = r.URL.RawQuery
	req, err := http.NewRequestWithContext(ctx, r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrVendor, err)
	}
	req.Header = endToEnd(r.Header)
	req.Header.Del("Content-Length")
	req.ContentLength = int64(len(body))
	if len(body) == 0 && r.ContentLength <= 0 {
		req.Body, req.GetBody = http.NoBody, nil
	}
	if _, ok := req.Header["User-Agent"]; !ok {
		req.Header["User-Agent"] = []string{""} // none of net/http's own
	}
	forwarded(req.Header, r, hop)
	if req.Header.Get("X-Request-Id") == "" && hop.RequestID != "" {
		req.Header.Set("X-Request-Id", hop.RequestID)
	}
	resp, err := v.client.Do(req)
	if err != nil {
		verdict := sendVerdict(ctx, err)
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			return nil, verdict, fmt.Errorf("%w: %w", ErrVendor, ErrVendorTimeout)
		}
		return nil, verdict, fmt.Errorf("%w: %w", ErrVendor, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 {
		// 101 Switching Protocols (Upgrade is a hop-by-hop header, never
		// sent): nothing a client could be relayed.
		return nil, nil, fmt.Errorf("%w: answered %d", ErrVendor, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	switch {
	case err != nil:
		verdict := upstream.ErrUpstreamFailed
		if ctx.Err() != nil {
			verdict = upstream.ErrCallerGone
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, verdict, fmt.Errorf("%w: %w", ErrVendor, ErrVendorTimeout)
		}
		return nil, verdict, fmt.Errorf("%w: reading the answer: %w", ErrVendor, err)
	case len(b) > maxAnswerBytes:
		return nil, nil, fmt.Errorf("%w: %w", ErrVendor, ErrVendorTooLarge)
	}
	h := endToEnd(resp.Header)
	v.rewrite(h, hop)
	if r.Method != http.MethodHead && resp.StatusCode != http.StatusNotModified {
		// The client's server sets it from the body relayed. An answer to
		// a HEAD, or a 304, keeps the vendor's: the length of a body it
		// never carries.
		h.Del("Content-Length")
	}
	a := &Answer{Status: resp.StatusCode, Header: h, Body: b}
	// The client's Accept-Encoding went to the vendor: its answer may be
	// compressed. Relayed as sent, compared decoded.
	if plain, err := decodeBody(resp.Header.Values("Content-Encoding"), b); err != nil {
		a.Uncomparable = err
	} else if len(b) > 0 && !bytes.Equal(plain, b) {
		a.decoded = plain
	}
	return a, statusVerdict(resp.StatusCode), nil
}

// sendVerdict is what a call that got no answer counts as for the breaker:
// nothing when the caller's context ended, the vendor's (whoever the user)
// when no connection was made, the user's when it timed out or was cut
// once sent.
func sendVerdict(ctx context.Context, err error) error {
	if ctx.Err() != nil && !errors.Is(err, context.DeadlineExceeded) {
		return upstream.ErrCallerGone
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return upstream.ErrUpstreamDown
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return upstream.ErrUpstreamFailed
	}
	return upstream.ErrUpstreamDown
}

// statusVerdict is what an answer counts as for the breaker: as the
// upstream's (502 and 503 whoever the user, another 5xx the user's, but
// 501 and 505, which say what the vendor does not do); 429 and every
// other status, a working vendor.
func statusVerdict(status int) error {
	switch {
	case status == http.StatusBadGateway || status == http.StatusServiceUnavailable:
		return upstream.ErrUpstreamDown
	case status == http.StatusNotImplemented || status == http.StatusHTTPVersionNotSupported:
		return nil // the vendor answers: it does not do this one
	case status >= 500:
		return upstream.ErrUpstreamFailed
	}
	return nil
}
