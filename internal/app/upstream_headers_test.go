package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// TestUpstreamHeadersPassedBack: Shift's rules pass the upstream's
// X-RateLimit-* back on every answer, success and errors, when the
// upstream sends them; a dialect whose rules do not list them (Finix)
// never shows them, nor does Shift when the upstream sends none.
func TestUpstreamHeadersPassedBack(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, e2eConfig)
	limits := func(status int, body string) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-RateLimit-Limit", "100")
			w.Header().Set("X-RateLimit-Remaining", "7")
			w.Header().Set("X-RateLimit-Reset", "1764870000")
			w.Header().Set("Set-Cookie", "upstream=1")
			if body != "" {
				w.Header().Set("Content-Type", "application/json")
			}
			if status == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", "120")
			}
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}
	}
	shift, finix := specNamed(t, "shift"), specNamed(t, "finix")

	rec.set(limits(http.StatusNoContent, ""))
	a := s.do(t, shift.method, shift.path, specHeader(shift, nil), shift.body)
	if a.Status != http.StatusNoContent {
		t.Fatalf("shift: %d %s", a.Status, a.Body)
	}
	for name, want := range map[string]string{"X-Ratelimit-Limit": "100", "X-Ratelimit-Remaining": "7", "X-Ratelimit-Reset": "1764870000"} {
		if got := a.Header.Get(name); got != want {
			t.Errorf("shift 204: %s = %q, want %q", name, got, want)
		}
	}
	if a.Header.Get("Set-Cookie") != "" {
		t.Error("the upstream's cookie was passed back")
	}

	rec.set(limits(http.StatusTooManyRequests, `{"error":{"code":"rate_limited","message":"slow down"}}`))
	a = s.do(t, shift.method, shift.path, specHeader(shift, nil), shift.body)
	if a.Status != 420 || a.Header.Get("X-Ratelimit-Remaining") != "7" || a.Header.Get("Retry-After") != "120" {
		t.Errorf("shift 420: %d, Remaining %q, Retry-After %q", a.Status, a.Header.Get("X-Ratelimit-Remaining"), a.Header.Get("Retry-After"))
	}
	if a.Line != "420 Enhance Your Calm" {
		t.Errorf("shift 420: status line %q", a.Line)
	}

	rec.set(limits(http.StatusOK, strings.Replace(canonicalUser, janeID, finixID, 1)))
	a = s.do(t, finix.method, finix.path, specHeader(finix, nil), finix.body)
	if a.Status != http.StatusOK || a.Header.Get("X-Ratelimit-Limit") != "" {
		t.Errorf("finix: %d, X-RateLimit-Limit %q (its rules pass none back)", a.Status, a.Header.Get("X-Ratelimit-Limit"))
	}

	rec.set(nil) // 204, no headers
	a = s.do(t, shift.method, shift.path, specHeader(shift, nil), shift.body)
	if a.Status != http.StatusNoContent || a.Header.Get("X-Ratelimit-Limit") != "" {
		t.Errorf("shift, upstream without limits: %d, X-RateLimit-Limit %q", a.Status, a.Header.Get("X-Ratelimit-Limit"))
	}
}

// TestAppliedAdviceNamesAKeyTheClientHas: an update applied whose answer
// could not be used tells the client to repeat it with its Idempotency-Key;
// a client that sent none is given the key userbridge sent upstream for
// it, not told to repeat a "same" key it never had.
func TestAppliedAdviceNamesAKeyTheClientHas(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, e2eConfig)
	shift := specNamed(t, "shift")
	rec.set(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`not json`))
	})
	a := s.do(t, shift.method, shift.path, specHeader(shift, map[string]string{"Idempotency-Key": "client-key-1"}), shift.body)
	if msg := gjson.GetBytes(a.Body, "message").Str; a.Status != http.StatusBadGateway || !strings.Contains(msg, "repeat it with the same Idempotency-Key") {
		t.Errorf("with the client's key: %d %s", a.Status, a.Body)
	}
	rec.set(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`not json`))
	})
	a = s.do(t, shift.method, shift.path, specHeader(shift, nil), shift.body)
	up := rec.requests()
	if len(up) != 1 {
		t.Fatalf("the upstream received %d requests", len(up))
	}
	key := up[0].Header.Get("Idempotency-Key")
	if msg := gjson.GetBytes(a.Body, "message").Str; key == "" || !strings.Contains(msg, "repeat it with the header Idempotency-Key: "+key) || strings.Contains(msg, "same") {
		t.Errorf("without a key (userbridge's %q): %d %s", key, a.Status, a.Body)
	}
}
