package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tidwall/sjson"
	"github.com/userbridge/userbridge/bench"
	"github.com/userbridge/userbridge/internal/app"
)

// The floor runs with the GC target and processor count userbridge serves
// with, or the ratio measures the runtime settings instead of userbridge.
func TestRuntimeAsServe(t *testing.T) {
	if gcPercent != app.DefaultGCPercent || procs != app.DefaultProcs {
		t.Errorf("frame runs with GOGC=%d GOMAXPROCS=%d, serve with %d and %d: keep them equal",
			gcPercent, procs, app.DefaultGCPercent, app.DefaultProcs)
	}
}

// The frame forwards a Finix update as userbridge does (PATCH, the path's
// id escaped, the body unchanged, the JSON headers) and answers with the
// upstream's status, type and body.
func TestForwards(t *testing.T) {
	var got struct {
		method, path, accept, ctype, ua, body string
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.method, got.path, got.body = r.Method, r.URL.EscapedPath(), string(b)
		got.accept, got.ctype, got.ua = r.Header.Get("Accept"), r.Header.Get("Content-Type"), r.Header.Get("User-Agent")
		bench.Upstream(w, r)
	}))
	defer up.Close()
	h, closeIdle, err := newFrame(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer closeIdle()
	srv := httptest.NewServer(h)
	defer srv.Close()

	const body = `{"enabled":false}`
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/users/a%2Fb", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	reply, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want, _ := sjson.Set(bench.User, "id", "a/b") // the canned user as the user addressed
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || string(reply) != want {
		t.Errorf("answer %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), reply)
	}
	if got.method != "PATCH" || got.path != "/users/a%2Fb" || got.body != body ||
		got.accept != "application/json" || got.ctype != "application/json" || got.ua != "userbridge" {
		t.Errorf("upstream got %+v", got)
	}
}
