package server

import (
	"strings"
	"testing"
)

func TestFits(t *testing.T) {
	for _, c := range []struct {
		route, path string
		want        bool
	}{
		{"/users/:user_id", "/users/US1", true},
		{"/users/:user_id", "/users/", true},
		{"/users/:user_id", "/users/US1/", true},
		{"/users/:user_id", "/users", false},
		{"/users/:user_id", "/users/US1/x", false},
		{"/users/:user_id", "/users//", true}, // an empty id, and a trailing slash
		{"/users/:user_id", "/accounts/US1", false},
		{"/v1/:apiKey/users/:username", "/v1//users/jane", true},
		{"/finix/users/:user_id", "/users/US1", false},
		{"/studio/api/1/user/update.json", "/studio/api/1/user/update.json/", true},
		{"/files/*rest", "/files/a/b", true},
	} {
		if got := fits(strings.Split(c.route, "/"), c.path); got != c.want {
			t.Errorf("fits(%s, %s) = %v, want %v", c.route, c.path, got, c.want)
		}
	}
}
