package lex

import (
	"strings"
	"unicode"
)

// SecretName reports whether a name says its value is a secret, by the
// rule mapping.SecretName documents. It lives here so that every part of
// userbridge that judges a name follows that one rule, the logger
// (internal/telemetry) too, which imports none of mapping.
func SecretName(name string) bool {
	n := secretFold(name)
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	for seg := range strings.SplitSeq(n, ".") {
		if seg == "auth" || strings.HasSuffix(seg, "pwd") {
			return true
		}
	}
	return false
}

// secretWords name a secret wherever they appear in a name, once folded
// (secretFold).
var secretWords = []string{"password", "passwd", "passphrase", "passcode", "secret", "token", "apikey",
	"privatekey", "credential", "authorization", "cookie", "session"}

// secretFold is name in lower case without the separators '-', '_' and ' '.
func secretFold(name string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '-', '_', ' ':
			return -1
		}
		return unicode.ToLower(r)
	}, name)
}
