package mapping

import "testing"

// SecretName is the one rule for values redacted by their names: the
// names README's logs section and docs/migration.md call secret, in any
// case and with any separators, and none of the ordinary fields beside
// them.
func TestSecretName(t *testing.T) {
	for _, n := range []string{
		"password", "newPassword", "passwd", "passphrase", "passcode", "secret", "clientSecret", "client_secret",
		"token", "bearer_token", "apikey", "ApiKey", "api_key", "api-key", "x-api-key", "X_API_KEY", "Api Key",
		"credential", "credentials", "private_key", "privateKey", "Private-Key", "Authorization",
		"proxy-authorization", "cookie", "Set-Cookie", "sessionId", "session_token", "JSESSIONID", "pwd",
		"unicodePwd", "new_pwd", "auth", "AUTH", "meta.auth", "meta.auth.x", "user.password",
	} {
		if !SecretName(n) {
			t.Errorf("%q is not a secret's name", n)
		}
	}
	for _, n := range []string{
		"email", "name", "username", "first_name", "authorName", "author", "authenticated", "unauthorized",
		"pwdAccountLockedTime", "pwdLastSet", "keyId", "publicKey", "status", "passenger", "roles.0.name",
		"_links.self.href", "tags.order_number", "description.team",
	} {
		if SecretName(n) {
			t.Errorf("%q is taken for a secret's name", n)
		}
	}
}

// RedactUpdate replaces an extension member named by any of the rule's
// words, not the others.
func TestRedactUpdateExtensions(t *testing.T) {
	got := string(RedactUpdate([]byte(`{"set":{"password":"p-1","extensions":{"d":{"sessionId":"s-1","x-api-key":"k-1","privateKey":"pk-1","color":"blue"}}}}`)))
	want := `{"set":{"password":"[redacted]","extensions":{"d":{"sessionId":"[redacted]","x-api-key":"[redacted]","privateKey":"[redacted]","color":"blue"}}}}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
