package auth

import (
	"context"
	"strings"
	"testing"

	"github.com/userbridge/userbridge/config"
)

func TestNewReportsFileProblems(t *testing.T) {
	keys := writeFile(t, "keys", strings.Join([]string{
		"ok:" + sha256Hex("a"),
		"plain:mysecretkey",           // a plain key
		"bc:" + bcryptHash(t, "b", 4), // bcrypt without an id header
		"ok:" + sha256Hex("c"),        // name twice
		"dup:" + sha256Hex("a"),       // key twice
		"sp ace:" + sha256Hex("d"),    // name with a space
		"too:" + sha256Hex("e") + ":r:id:more",
		"broken:$2a$10$short",
	}, "\n"))
	htpasswd := writeFile(t, "htpasswd", "alice:"+sha256Hex("pw")+"\n")
	_, err := New(context.Background(), config.Auth{Mode: config.ModeVerify,
		APIKeys:  &config.APIKeys{File: keys},
		Basic:    &config.Basic{File: htpasswd},
		Upstream: &config.UpstreamCreds{Basic: &config.UpstreamBasic{User: "u", PasswordFile: keys + ".missing"}},
	}, Options{Where: "dialects.baasic.auth", Dialect: Dialect{Name: "baasic"}})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, w := range []string{
		`dialects.baasic.auth.apiKeys.header: required: dialect "baasic" has no default`,
		"line 2: the hash must be 64 hex digits",
		"line 3: a bcrypt hash needs apiKeys.idHeader",
		"line 4: the name ok appears twice",
		"line 5: the same key is listed twice",
		"line 6: the name must be printable ASCII",
		`line 7: want "name:hash[:roles[:id]]"`,
		"line 8: not a valid bcrypt hash",
		"dialects.baasic.auth.basic.file: auth: " + htpasswd + ": line 1: a SHA-256 hash is not accepted here",
		"dialects.baasic.auth.upstream.basic.passwordFile: auth: open " + keys + ".missing",
	} {
		if !strings.Contains(msg, w) {
			t.Errorf("missing %q in\n%s", w, msg)
		}
	}
	if strings.Contains(msg, "mysecretkey") || strings.Contains(msg, sha256Hex("a")) {
		t.Errorf("an error quotes a line's secret:\n%s", msg)
	}

	_, err = New(context.Background(), config.Auth{Mode: config.ModeVerify, JWT: &config.JWT{}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "auth.jwt.issuer: required") {
		t.Errorf("New does not validate: %v", err)
	}
	var empty = writeFile(t, "empty", "# nothing\n")
	if _, err := readEntries(empty, allowSHA256); err == nil || !strings.Contains(err.Error(), "holds no credentials") {
		t.Errorf("an empty file: %v", err)
	}
	if _, err := readSecret(writeFile(t, "s", "\n")); err == nil {
		t.Error("an empty secret file is accepted")
	}
	if _, err := readSecret(writeFile(t, "s", "a\nb\n")); err == nil {
		t.Error("a two-line secret file is accepted")
	}
}
