package app_test

import (
	"net/http"
	"testing"

	"github.com/tidwall/gjson"
)

// TestUnmatchedInTheDialect: a request no route matches is answered in a
// dialect's error envelope when its path fits the dialect's route and its
// method, a header only that dialect reads, or the path itself (no other
// dialect's route fits it) names it (Finix's SDK crashes on any other
// body); otherwise in the generic envelope. Finix (PUT) and Trusted Twin
// (PATCH) share /users/{id}: that path alone decides nothing.
func TestUnmatchedInTheDialect(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, e2eConfig)
	finix := map[string]string{"Content-Type": "application/json", "Finix-Version": "2022-02-01", "Authorization": "Basic VVN4OnB3"}
	plain := map[string]string{"Content-Type": "application/json"}

	isFinix := func(t *testing.T, a answer, status int) {
		t.Helper()
		if a.Status != status {
			t.Errorf("status %d, want %d: %s", a.Status, status, a.Body)
		}
		if ct := a.Header.Get("Content-Type"); ct != "application/hal+json" {
			t.Errorf("Content-Type %q", ct)
		}
		e := gjson.GetBytes(a.Body, "_embedded.errors.0")
		if gjson.GetBytes(a.Body, "total").Int() != 1 || e.Get("code").Str != "NOT_FOUND" || e.Get("message").Str == "" ||
			e.Get("logref").Str == "" || e.Get("logref").Str != a.Header.Get("X-Request-Id") {
			t.Errorf("not Finix's envelope: %s (X-Request-Id %q)", a.Body, a.Header.Get("X-Request-Id"))
		}
	}
	isGeneric := func(t *testing.T, a answer, status int, code string) {
		t.Helper()
		if a.Status != status || gjson.GetBytes(a.Body, "error.code").Str != code || a.Header.Get("X-Request-Id") == "" {
			t.Errorf("want the generic %d %s: %d %v %s", status, code, a.Status, a.Header, a.Body)
		}
	}

	for _, c := range []struct {
		name, method, path string
		header             map[string]string
		check              func(t *testing.T, a answer)
	}{
		{"PUT, empty id", "PUT", "/users/", finix, func(t *testing.T, a answer) { isFinix(t, a, 404) }},
		{"PUT, empty id, no Finix header", "PUT", "/users/", plain, func(t *testing.T, a answer) { isFinix(t, a, 404) }},
		{"PUT, trailing slash", "PUT", "/users/US1/", finix, func(t *testing.T, a answer) { isFinix(t, a, 404) }},
		{"GET with Finix-Version", "GET", "/users/US1", finix, func(t *testing.T, a answer) {
			isFinix(t, a, 405)
			if a.Header.Get("Allow") != "PUT" {
				t.Errorf("Allow %q", a.Header.Get("Allow"))
			}
		}},
		{"GET, no dialect named", "GET", "/users/US1", plain, func(t *testing.T, a answer) { isGeneric(t, a, 405, "method_not_allowed") }},
		{"PATCH, empty id: Trusted Twin's", "PATCH", "/users/", plain, func(t *testing.T, a answer) {
			if a.Status != 404 || gjson.GetBytes(a.Body, "subcode").Int()/1000 != 404 || gjson.GetBytes(a.Body, "description").Str == "" {
				t.Errorf("not Trusted Twin's 404: %d %s", a.Status, a.Body)
			}
		}},
		{"GET with Crafter's header: its 405, not its missing user", "GET", "/studio/api/1/services/api/1/user/update.json",
			map[string]string{"X-XSRF-TOKEN": "t"}, func(t *testing.T, a answer) {
				// Studio's fixed text for not_found ("User not found") is
				// for a 404; a wrong method says what it is.
				want := "GET is not served here; POST is"
				if a.Status != 405 || a.Header.Get("Allow") != "POST" || gjson.GetBytes(a.Body, "message").Str != want ||
					gjson.GetBytes(a.Body, "status").Str != want {
					t.Errorf("want Crafter's 405 saying %q: %d %v %s", want, a.Status, a.Header, a.Body)
				}
			}},
		{"GET on Baasic's path alone: its 405, its status in the body", "GET", "/v1/app/users/jane", plain, func(t *testing.T, a answer) {
			want := "GET is not served here; PUT is"
			if a.Status != 405 || a.Header.Get("Allow") != "PUT" || gjson.GetBytes(a.Body, "message").Str != want ||
				gjson.GetBytes(a.Body, "statusCode").Int() != 405 || gjson.GetBytes(a.Body, "errorCode").Int() != 405 ||
				gjson.GetBytes(a.Body, "error").Str != "Method Not Allowed" {
				t.Errorf("want Baasic's 405: %d %v %s", a.Status, a.Header, a.Body)
			}
		}},
		{"DELETE on Shift's path, no x-key", "DELETE", "/v3/users/u1", plain, func(t *testing.T, a answer) {
			if a.Status != 405 || a.Header.Get("Allow") != "PUT" || gjson.GetBytes(a.Body, "message").Str != "DELETE is not served here; PUT is" {
				t.Errorf("want Shift's 405: %d %v %s", a.Status, a.Header, a.Body)
			}
		}},
		// No route fits: Finix's header alone says whose client it is.
		{"no dialect's path, Finix's header", "PUT", "/accounts/US1", finix, func(t *testing.T, a answer) { isFinix(t, a, 404) }},
		{"a longer path, Finix's header", "PUT", "/users/US1/roles", finix, func(t *testing.T, a answer) { isFinix(t, a, 404) }},
		{"no dialect's path", "PUT", "/accounts/US1", plain, func(t *testing.T, a answer) { isGeneric(t, a, 404, "not_found") }},
		{"a longer path", "PUT", "/users/US1/roles", plain, func(t *testing.T, a answer) { isGeneric(t, a, 404, "not_found") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec.set(okUser)
			c.check(t, s.do(t, c.method, c.path, c.header, `{"enabled":true}`))
			if n := len(rec.requests()); n != 0 {
				t.Errorf("the upstream received %d requests", n)
			}
		})
	}

	t.Run("metrics", func(t *testing.T) {
		a := s.do(t, "GET", "/metrics", nil, "")
		if a.Status != http.StatusOK {
			t.Fatalf("metrics: %d", a.Status)
		}
		if !contains(string(a.Body), `userbridge_requests_total{dialect="finix",route="unmatched",status="404"}`) {
			t.Errorf("finix's unmatched requests are not counted as finix's")
		}
	})
}

// TestUnmatchedLeavesALine: a request answered in a dialect's envelope
// though no route matched leaves its access line, as every answer does,
// and is counted once, under route "unmatched".
func TestUnmatchedLeavesALine(t *testing.T) {
	rec := newRecorder(t)
	s := start(t, "", rec.srv.URL, e2eConfig)
	a := s.do(t, http.MethodPut, "/users/", map[string]string{"Content-Type": "application/json",
		"Finix-Version": "2022-02-01", "X-Request-Id": "unmatched-line-1"}, `{}`)
	if a.Status != http.StatusNotFound {
		t.Fatalf("status %d: %s", a.Status, a.Body)
	}
	line := s.logLine(t, "unmatched-line-1")
	if line["dialect"] != "finix" || line["route"] != "unmatched" || line["status"] != float64(404) || line["code"] != "not_found" {
		t.Errorf("access line %v", line)
	}
	wantValue(t, scrape(t, s.base), "userbridge_requests_total", map[string]string{"dialect": "finix", "route": "unmatched", "status": "404"}, 1)
}
