package app_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/internal/app"
	"github.com/userbridge/userbridge/internal/testutil"
)

// recorded is one request the recording upstream received.
type recorded struct {
	Method   string
	RawPath  string
	RawQuery string
	Header   http.Header
	Body     []byte
	// ContentLength and TransferEncoding are the request's framing.
	ContentLength    int64
	TransferEncoding []string
}

// recorder is a real HTTP upstream that records what it receives and
// answers with a scripted reply.
type recorder struct {
	mu    sync.Mutex
	got   []recorded
	reply func(w http.ResponseWriter, r *http.Request)
	srv   *httptest.Server
}

func newRecorder(t *testing.T) *recorder {
	rec := &recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.got = append(rec.got, recorded{Method: r.Method, RawPath: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery,
			Header: r.Header.Clone(), Body: body, ContentLength: r.ContentLength, TransferEncoding: r.TransferEncoding})
		reply := rec.reply
		rec.mu.Unlock()
		if reply == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		reply(w, r)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (r *recorder) set(reply func(w http.ResponseWriter, r *http.Request)) {
	r.mu.Lock()
	r.reply, r.got = reply, nil
	r.mu.Unlock()
}

func (r *recorder) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.got...)
}

// started is a running userbridge.
type started struct {
	app  *app.App
	base string
	logs *syncBuffer
}

// syncBuffer keeps the server's logs.
type syncBuffer = testutil.LogBuffer

// start runs the real server on a loopback port with the given YAML config
// (the embedded default when empty) and upstream URL ("" keeps the config's).
func start(t *testing.T, yaml, upstreamURL string, tweak func(*config.Config)) *started {
	t.Helper()
	data := config.DefaultYAML()
	if yaml != "" {
		data = []byte(yaml)
	}
	cfg, err := config.Parse(config.Source{Name: "test"}, data)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = "127.0.0.1:0"
	if upstreamURL != "" {
		cfg.Upstream.URL = upstreamURL
	}
	if tweak != nil {
		tweak(cfg)
	}
	logs := &syncBuffer{}
	a, err := app.New(cfg, config.Source{Name: "test"}, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	return launch(t, a, cfg.Listen, logs)
}

// launch starts a built App and shuts it down when the test ends.
func launch(t *testing.T, a *app.App, listen string, logs *syncBuffer) *started {
	t.Helper()
	testutil.Serve(t, a)
	return &started{app: a, base: "http://" + a.Server.Addr(listen), logs: logs}
}

var client = &http.Client{Timeout: 10 * time.Second}

type answer struct {
	Status int
	Header http.Header
	Body   []byte
	Line   string // the status line's text after HTTP/1.1, e.g. "420 Enhance Your Calm"
}

func (s *started) do(t *testing.T, method, path string, header map[string]string, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return doReq(t, req)
}

// doReq sends req with the tests' client and reads the whole answer.
func doReq(t *testing.T, req *http.Request) answer {
	t.Helper()
	return doWith(t, client, req)
}

// doWith sends req with c and reads the whole answer.
func doWith(t *testing.T, c *http.Client, req *http.Request) answer {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{Status: resp.StatusCode, Header: resp.Header, Body: b, Line: resp.Status}
}
