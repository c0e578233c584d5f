package mapping

import (
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/tidwall/gjson"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// validators is a rule's compiled validate block.
type validators struct {
	nonEmpty       bool
	pattern        *pattern
	patternSrc     string
	minLen, maxLen int
	oneOf          []string
	uuid, email    bool
	maxPairs       int
	keyPattern     *pattern
	keyPatternSrc  string
	keyMaxLen      int
	valueMaxLen    int
	valueType      jsonType
	maxItems       int
	password       *PasswordPolicy
}

func compileValidators(pr *problems, where string, v *Validators) validators {
	out := validators{nonEmpty: v.NonEmpty, minLen: v.MinLength, maxLen: v.MaxLength, oneOf: v.OneOf,
		uuid: v.UUID, email: v.Email, maxPairs: v.MaxPairs, keyMaxLen: v.KeyMaxLength,
		valueMaxLen: v.ValueMaxLength, maxItems: v.MaxItems, password: v.Password}
	if v.Pattern != "" {
		re, err := compilePattern(v.Pattern)
		if err != nil {
			pr.addf(where+".pattern", "%v", err)
		}
		out.pattern, out.patternSrc = re, v.Pattern
	}
	if v.KeyPattern != "" {
		re, err := compilePattern(v.KeyPattern)
		if err != nil {
			pr.addf(where+".keyPattern", "%v", err)
		}
		out.keyPattern, out.keyPatternSrc = re, v.KeyPattern
	}
	t, ok := typeNames[v.ValueType]
	if !ok {
		pr.addf(where+".valueType", "%q is not a JSON type", v.ValueType)
	}
	out.valueType = t
	if v.MinLength < 0 || v.MaxLength < 0 || (v.MaxLength > 0 && v.MinLength > v.MaxLength) {
		pr.addf(where, "minLength %d and maxLength %d do not make a range", v.MinLength, v.MaxLength)
	}
	if pw := v.Password; pw != nil && pw.NotContainUsername && pw.UsernameField == "" {
		pr.addf(where+".password.usernameField", "needed by notContainUsername")
	}
	if pw := v.Password; pw != nil && !pw.NotContainUsername && pw.UsernameField != "" {
		pr.addf(where+".password.usernameField", "read only by notContainUsername, which is not set")
	}
	if pw := v.Password; pw != nil && pw.MinLength < 0 {
		pr.addf(where+".password.minLength", "%d: a length is 0 (no minimum) or more", pw.MinLength)
	}
	// A oneOf value the rule's other string checks refuse is never
	// accepted: the list says it is, so the file is wrong.
	others := out
	others.oneOf = nil
	for i, s := range v.OneOf {
		if msg := others.refusal(s); msg != "" {
			pr.addf(where+".oneOf["+strconv.Itoa(i)+"]", "%q is never accepted: %s; drop it, or change the check", s, msg)
		}
	}
	return out
}

// refusal is why the string checks refuse s ("the value must match
// [a-z]+"), "" when they accept it; a password policy is not asked (its
// username check needs a request). For a value the file itself lists
// (oneOf, an enum), which a refusal makes one no request can send.
func (v validators) refusal(s string) string {
	v.password = nil
	if e := v.run("the value", gjson.Result{Type: gjson.String, Str: s}, nil); e != nil {
		return e.Message
	}
	return ""
}

func typeOf(v gjson.Result) jsonType {
	switch v.Type {
	case gjson.String:
		return typeString
	case gjson.True, gjson.False:
		return typeBool
	case gjson.Number:
		return typeNumber
	case gjson.JSON:
		if strings.HasPrefix(v.Raw, "[") {
			return typeArray
		}
		return typeObject
	}
	return typeAny
}

// checkType reports whether v is of type want.
func checkType(want jsonType, v gjson.Result) bool { return typeIs(want, typeOf(v), v.Raw) }

// typeIs reports whether a value of type got, whose JSON text is raw, is
// of type want: integer is a number that ParseInt takes, any is anything.
func typeIs(want, got jsonType, raw string) bool {
	if want == typeInteger {
		return got == typeNumber && isInt64(raw)
	}
	return want == typeAny || got == want
}

// isInt64 reports whether the number raw is an integer that fits an int64.
func isInt64(raw string) bool {
	_, err := strconv.ParseInt(raw, 10, 64)
	return err == nil
}

// textType is typeOf of the value whose text is x, valid JSON: told by its
// first byte (null: typeAny, as typeOf has it).
func textType(x string) jsonType {
	switch x[0] {
	case '"':
		return typeString
	case 't', 'f':
		return typeBool
	case '{':
		return typeObject
	case '[':
		return typeArray
	case 'n':
		return typeAny
	}
	return typeNumber
}

func plural(t jsonType) string {
	if t == typeBool {
		return "booleans"
	}
	return t.String() + "s"
}

func article(t jsonType) string { return aOrAn(t.String()) }

// run applies the value checks; field is the caller's name for the value,
// sum (or nil) what the guard learnt of it when it is an object.
func (v *validators) run(field string, val gjson.Result, sum *objectSum) *canonical.Error {
	if val.Type == gjson.String {
		s := val.Str
		if v.nonEmpty && s == "" {
			return canonical.FieldError(field, field+" must not be empty")
		}
		if v.minLen > 0 && runesBelow(s, v.minLen) {
			return canonical.FieldError(field, field+" must be at least "+strconv.Itoa(v.minLen)+" characters long")
		}
		if v.maxLen > 0 && runesAbove(s, v.maxLen) {
			return canonical.FieldError(field, field+" must be at most "+strconv.Itoa(v.maxLen)+" characters long")
		}
		if v.pattern != nil && !v.pattern.MatchString(s) {
			return canonical.FieldError(field, field+" must match "+v.patternSrc)
		}
		if len(v.oneOf) > 0 && !slices.Contains(v.oneOf, s) {
			return canonical.FieldError(field, field+" must be one of "+strings.Join(v.oneOf, ", "))
		}
		if v.uuid && !IsUUID(s) {
			return canonical.FieldError(field, field+" must be a UUID")
		}
		if v.email && !isEmail(s) {
			return canonical.FieldError(field, field+" must be an email address")
		}
		if v.password != nil {
			if msg := checkPassword(v.password, s); msg != "" {
				return canonical.FieldError(field, field+" "+msg)
			}
		}
	}
	if val.IsObject() && (v.maxPairs > 0 || v.keyPattern != nil || v.keyMaxLen > 0 || v.valueMaxLen > 0 || v.valueType != typeAny) {
		if sum != nil && v.fits(sum) {
			return nil
		}
		return v.runMap(field, val)
	}
	if v.maxItems > 0 && val.IsArray() {
		if n := len(val.Array()); n > v.maxItems {
			return canonical.FieldError(field, field+" may hold at most "+strconv.Itoa(v.maxItems)+" items")
		}
	}
	return nil
}

// runMap applies the map validators to the members of val, an object of
// a body the guard accepted: its text is valid JSON, which objectWalk reads
// without checking. Lengths are counted in characters of the decoded key or
// string value (a value of another type: the bytes of its JSON text), as
// gjson decodes them; a key an error names is decoded so too.
func (v *validators) runMap(field string, val gjson.Result) *canonical.Error {
	pairs := 0
	w := walkObject(val.Raw)
	for {
		qkey, kesc, x, ok := w.next()
		if !ok {
			return nil
		}
		pairs++
		if v.maxPairs > 0 && pairs > v.maxPairs {
			return canonical.FieldError(field, field+" may hold at most "+strconv.Itoa(v.maxPairs)+" pairs")
		}
		raw := qkey[1 : len(qkey)-1]
		if v.keyMaxLen > 0 && decodedAbove(raw, v.keyMaxLen) {
			key := decodedKey(qkey, kesc)
			return canonical.FieldError(field+"."+key, field+" keys must be at most "+strconv.Itoa(v.keyMaxLen)+" characters long")
		}
		if v.keyPattern != nil {
			if key := decodedKey(qkey, kesc); !v.keyPattern.MatchString(key) {
				return canonical.FieldError(field+"."+key, field+" key "+strconv.Quote(key)+" must match "+v.keyPatternSrc)
			}
		}
		if v.valueType != typeAny && !typeIs(v.valueType, textType(x), x) {
			return canonical.FieldError(field+"."+decodedKey(qkey, kesc), field+" values must be "+plural(v.valueType))
		}
		if v.valueMaxLen > 0 && valueAbove(x, v.valueMaxLen) {
			return canonical.FieldError(field+"."+decodedKey(qkey, kesc), field+" values must be at most "+strconv.Itoa(v.valueMaxLen)+" characters long")
		}
	}
}

// fits reports whether every member of the object sum describes passes the
// map validators, from its lengths as written and its types: the walk
// (runMap) would find nothing. false tells nothing: runMap must walk it.
// keyPattern and integer values are checked only by walking.
func (v *validators) fits(sum *objectSum) bool {
	if v.keyPattern != nil || (v.valueType == typeInteger && sum.pairs > 0) {
		return false
	}
	return (v.maxPairs <= 0 || sum.pairs <= v.maxPairs) &&
		(v.keyMaxLen <= 0 || sum.keyLen <= v.keyMaxLen) &&
		(v.valueMaxLen <= 0 || sum.valLen <= v.valueMaxLen) &&
		(v.valueType == typeAny || sum.types&^(1<<v.valueType) == 0)
}

// decodedKey is the key whose JSON string (quotes included) is qkey,
// decoded as gjson decodes it when it holds an escape (esc), else a view of
// qkey.
func decodedKey(qkey string, esc bool) string {
	if esc {
		return gjson.Parse(qkey).Str
	}
	return qkey[1 : len(qkey)-1]
}

// valueAbove reports whether the JSON value x is longer than n: a string
// in characters once decoded, any other value in bytes of its text.
func valueAbove(x string, n int) bool {
	if x[0] == '"' {
		return decodedAbove(x[1:len(x)-1], n)
	}
	return len(x) > n
}

// runesBelow reports whether s has fewer than n characters, counting them
// only when its length in bytes cannot tell (a character is 1 to 4 bytes).
func runesBelow(s string, n int) bool {
	switch {
	case len(s) < n:
		return true
	case (len(s)+3)/4 >= n:
		return false
	}
	return utf8.RuneCountInString(s) < n
}

// runesAbove reports whether s has more than n characters, counting them
// only when its length in bytes cannot tell.
func runesAbove(s string, n int) bool {
	if len(s) <= n {
		return false
	}
	return utf8.RuneCountInString(s) > n
}

// IsUUID reports whether s has the 8-4-4-4-12 hexadecimal shape of a UUID
// or GUID (either case, optionally in braces as .NET writes them).
// uuid.Validate also accepts the urn:uuid: form and 32 hex digits without
// hyphens: no dialect writes its ids so, and a username may look like them
// (by: auto would take it for an id), so only the two lengths of the
// hyphenated forms are asked of it.
func IsUUID(s string) bool {
	return (len(s) == 36 || len(s) == 38) && uuid.Validate(s) == nil
}

// CanonicalUUID returns s in the canonical form of a UUID, lower case
// without braces (RFC 9562), when IsUUID(s); any other s unchanged.
func CanonicalUUID(s string) string {
	if !IsUUID(s) {
		return s
	}
	if s[0] == '{' {
		s = s[1:37]
	}
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'F' {
			return strings.ToLower(s)
		}
	}
	return s
}

func isEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.ContainsAny(s, " \t\r\n<>") {
		return false
	}
	return strings.Contains(s[at+1:], ".")
}

// checkPassword returns "" when s passes the policy's own checks (the
// username check is separate: it may need the stored user).
func checkPassword(p *PasswordPolicy, s string) string {
	if p.MinLength > 0 && utf8.RuneCountInString(s) < p.MinLength {
		return "must be at least " + strconv.Itoa(p.MinLength) + " characters long"
	}
	var up, low, dig, spec bool
	for _, r := range s {
		switch {
		case unicode.IsUpper(r):
			up = true
		case unicode.IsLower(r):
			low = true
		case unicode.IsDigit(r):
			dig = true
		}
		if p.Special != "" && strings.ContainsRune(p.Special, r) {
			spec = true
		}
	}
	var missing []string
	if p.Digit && !dig {
		missing = append(missing, "one number")
	}
	if p.Upper && !up {
		missing = append(missing, "one upper case letter")
	}
	if p.Lower && !low {
		missing = append(missing, "one lower case letter")
	}
	if p.Special != "" && !spec {
		missing = append(missing, "one special character ("+p.Special+")")
	}
	if len(missing) > 0 {
		return "must contain at least " + strings.Join(missing, ", ")
	}
	return ""
}

// containsUsername is the "must not contain the username" check.
func containsUsername(password, username string) bool {
	return username != "" && strings.Contains(strings.ToLower(password), strings.ToLower(username))
}
