package mapping

import (
	"sort"

	"github.com/tidwall/gjson"
	"github.com/userbridge/userbridge/internal/lex"
)

// RedactUpdate replaces the values of set.password, and of any extension
// member whose name says it holds a secret (a client's "newPassword" kept
// as an unknown field), with "[redacted]".
func RedactUpdate(update []byte) []byte {
	var spans [][2]int
	if v := gjson.GetBytes(update, "set.password"); v.Exists() {
		spans = append(spans, [2]int{v.Index, v.Index + len(v.Raw)})
	}
	gjson.GetBytes(update, "set.extensions").ForEach(func(_, d gjson.Result) bool {
		d.ForEach(func(k, v gjson.Result) bool {
			if SecretName(k.Str) && v.Index > 0 {
				spans = append(spans, [2]int{v.Index, v.Index + len(v.Raw)})
			}
			return true
		})
		return true
	})
	if len(spans) == 0 {
		return update
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
	out := make([]byte, 0, len(update))
	at := 0
	for _, sp := range spans {
		out = append(out, update[at:sp[0]]...)
		out = append(out, `"[redacted]"`...)
		at = sp[1]
	}
	return append(out, update[at:]...)
}

// SecretName reports whether a field name (or a dotted path holding one)
// says its value is a secret: the one rule every redaction of values by
// their names follows (RedactUpdate, the migration diff log, the secrets a
// request's body carries). Case and the separators '-', '_' and ' ' do not
// count (x-api-key, X_API_KEY, "Private Key" are apikey and privatekey). A
// name is a secret's when it contains password, passwd, passphrase,
// passcode, secret, token, apikey, privatekey, credential, authorization,
// cookie or session (sessionId, JSESSIONID), or when a segment is auth or
// ends in pwd (pwd, unicodePwd, newPwd; not LDAP's pwdAccountLockedTime).
func SecretName(name string) bool { return lex.SecretName(name) }
