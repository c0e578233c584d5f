package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/userbridge/userbridge/config"
)

// NewCredential gives what an auth block's upstream key gives, outside a
// dialect: the same validation, files and OAuth2 source.
func TestNewCredential(t *testing.T) {
	where := Options{Where: "upstream.scim.discoveryCredentials"}
	bearer, err := NewCredential(&config.UpstreamCreds{Bearer: &config.Bearer{File: writeFile(t, "tok", " disc-token-1\n")}}, where)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := bearer.Authorization(context.Background()); err != nil || v != "Bearer disc-token-1" {
		t.Errorf("bearer %q, %v", v, err)
	}
	basic, err := NewCredential(&config.UpstreamCreds{Basic: &config.UpstreamBasic{User: "ub", PasswordFile: writeFile(t, "pw", "pw-1\n")}}, where)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := basic.Authorization(context.Background()); v != "Basic "+base64.StdEncoding.EncodeToString([]byte("ub:pw-1")) {
		t.Errorf("basic %q", v)
	}
	ts := newTokenServer(t, 3600)
	o := &config.OAuth2{TokenURL: ts.URL, ClientID: clientID, ClientSecretFile: writeFile(t, "cs", clientSecret+"\n")}
	oauth, err := NewCredential(&config.UpstreamCreds{OAuth2: o}, where)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if v, err := oauth.Authorization(context.Background()); err != nil || v != "Bearer at-1" {
			t.Errorf("oauth2 %q, %v", v, err)
		}
	}
	if n := ts.issued.Load(); n != 1 {
		t.Errorf("%d tokens fetched, want 1 (cached)", n)
	}

	// Refused: not ErrNoAnswer, and nothing the endpoint echoed.
	ts.fail.Store(true)
	refused, err := NewCredential(&config.UpstreamCreds{OAuth2: o}, where)
	if err != nil {
		t.Fatal(err)
	}
	_, err = refused.Authorization(context.Background())
	if err == nil || errors.Is(err, ErrNoAnswer) || strings.Contains(err.Error(), clientSecret) {
		t.Errorf("refused: %v", err)
	}
	// Down: ErrNoAnswer.
	ts.Close()
	down, err := NewCredential(&config.UpstreamCreds{OAuth2: o}, where)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := down.Authorization(context.Background()); !errors.Is(err, ErrNoAnswer) {
		t.Errorf("down: %v, want ErrNoAnswer", err)
	}
}

// Every problem at once, under where, and a file that cannot be read.
func TestNewCredentialProblems(t *testing.T) {
	where := Options{Where: "upstream.scim.discoveryCredentials"}
	_, err := NewCredential(&config.UpstreamCreds{Bearer: &config.Bearer{}, Basic: &config.UpstreamBasic{User: "a:b"}}, where)
	for _, want := range []string{"upstream.scim.discoveryCredentials.bearer: needs exactly one of env and file",
		"upstream.scim.discoveryCredentials.basic.user: must not hold a colon",
		"upstream.scim.discoveryCredentials.basic.passwordFile: required",
		"upstream.scim.discoveryCredentials: needs exactly one of bearer, basic and oauth2"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v, want %q", err, want)
		}
	}
	_, err = NewCredential(&config.UpstreamCreds{Bearer: &config.Bearer{File: t.TempDir() + "/missing"}}, where)
	if err == nil || !strings.HasPrefix(err.Error(), "upstream.scim.discoveryCredentials: bearer: ") {
		t.Errorf("missing file: %v", err)
	}
}
