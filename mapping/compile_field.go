package mapping

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/userbridge/userbridge/mapping/canonical"
)

type jsonType uint8

const (
	typeAny jsonType = iota
	typeString
	typeBool
	typeNumber
	typeInteger
	typeObject
	typeArray
)

var typeNames = map[string]jsonType{"": typeAny, "any": typeAny, "string": typeString, "boolean": typeBool,
	"number": typeNumber, "integer": typeInteger, "object": typeObject, "array": typeArray}

func (t jsonType) String() string {
	for k, v := range typeNames {
		if v == t && k != "" && k != "any" {
			return k
		}
	}
	return "any"
}

type policy uint8

const (
	polKeep policy = iota
	polUnset
	polReject
	polIgnore
)

// slot is a canonical destination: a field index, or an extension member.
type slot struct {
	field int    // index in canonical.Fields, or -1
	ext   string // "dialect.name" when field is -1
	name  string // the canonical name, for messages and unset
}

type assign struct {
	to  slot
	raw []byte
}

type fieldRule struct {
	source   string // as written
	key      string // top-level key
	sub      string // gjson path under key, or ""
	to       slot
	hasTo    bool
	typ      jsonType
	required bool
	empty    policy
	null     policy
	enum     map[string][]assign
	enumList string
	wrap     string
	list     bool
	uuid     bool // normalize: uuid
	items    *itemsRule
	v        validators
}

type itemsRule struct {
	wrap     string
	keep     map[string]bool
	required []string
	ignore   map[string]bool
}

func parsePolicy(s string, def policy, allowed ...policy) (policy, bool) {
	m := map[string]policy{"keep": polKeep, "unset": polUnset, "reject": polReject, "ignore": polIgnore}
	if s == "" {
		return def, true
	}
	v, ok := m[s]
	if !ok {
		return def, false
	}
	for _, a := range allowed {
		if a == v {
			return v, true
		}
	}
	return def, false
}

func (p *Program) compileField(pr *problems, where string, r *FieldRule) *fieldRule {
	fr := &fieldRule{source: r.Source, required: r.Required, wrap: r.Wrap, list: r.List}
	if r.Source == "" {
		pr.addf(where+".source", "missing")
		return nil
	}
	fr.key, fr.sub, _ = strings.Cut(r.Source, ".")
	if fr.sub != "" {
		for _, seg := range strings.Split(fr.sub, ".") {
			if _, err := strconv.Atoi(seg); err == nil || seg == "" || strings.ContainsAny(seg, "*?#|@!\\") {
				pr.addf(where+".source", "%q: a dotted source names object members (profile.city); %q is no member name (an array is read whole, with type array)", r.Source, seg)
				break
			}
		}
	}
	t, ok := typeNames[r.Type]
	if !ok {
		pr.addf(where+".type", "%q: expected string, boolean, number, integer, object, array or any", r.Type)
	}
	fr.typ = t
	var ok1, ok2 bool
	fr.empty, ok1 = parsePolicy(r.Empty, polKeep, polKeep, polUnset, polReject)
	fr.null, ok2 = parsePolicy(r.Null, polReject, polReject, polUnset, polIgnore)
	if !ok1 {
		pr.addf(where+".empty", "%q: expected keep, unset or reject", r.Empty)
	}
	if !ok2 {
		pr.addf(where+".null", "%q: expected reject, unset or ignore", r.Null)
	}
	if r.Target != "" {
		s, err := p.resolveSlot(r.Target)
		if err != nil {
			pr.addf(where+".target", "%v", err)
		}
		fr.to, fr.hasTo = s, err == nil
	}
	if len(r.Enum) > 0 {
		fr.enum = map[string][]assign{}
		var names []string
		for val, sets := range r.Enum {
			names = append(names, val)
			if why := enumKeyProblem(fr.typ, val); why != "" {
				pr.addf(where+".enum."+val, "%s", why)
			}
			keys := make([]string, 0, len(sets))
			for k := range sets {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				s, err := p.resolveSlot(k)
				if err != nil {
					pr.addf(where+".enum."+val, "%v", err)
					continue
				}
				raw, err := json.Marshal(sets[k])
				if err != nil {
					pr.addf(where+".enum."+val+"."+k, "%v", err)
					continue
				}
				if err := checkKind(s, raw); err != nil {
					pr.addf(where+".enum."+val+"."+k, "%v", err)
				}
				fr.enum[val] = append(fr.enum[val], assign{to: s, raw: raw})
			}
		}
		sort.Strings(names)
		fr.enumList = strings.Join(names, ", ")
	} else if !fr.hasTo && r.Target == "" {
		pr.addf(where+".target", "missing (a field rule needs a target or an enum)")
	}
	if r.Target == "" && len(r.Enum) > 0 {
		// translate's apply unsets only a target: an enum's fields are set
		// by its values, never unset.
		if fr.null == polUnset {
			pr.addf(where+".null", "unset needs a target: an enum-only rule has no field to unset (reject or ignore)")
		}
		if fr.empty == polUnset {
			pr.addf(where+".empty", "unset needs a target: an enum-only rule has no field to unset (keep or reject)")
		}
		// They shape the value written to the target; an enum-only rule
		// writes its constants, so they would do nothing.
		for _, k := range []struct {
			key string
			set bool
		}{{"wrap", r.Wrap != ""}, {"list", r.List}, {"items", r.Items != nil}, {"normalize", r.Normalize != ""}} {
			if k.set {
				pr.addf(where+"."+k.key, "shapes the value written to target, and this enum-only rule has none: remove it or add a target")
			}
		}
	}
	if r.Empty != "" && t != typeString && t != typeAny {
		pr.addf(where+".empty", "says what \"\" means, and a value of type %s is never \"\": empty applies to type string or any", t)
	}
	if r.Wrap != "" && t != typeString && !(fr.hasTo && fr.to.field >= 0) { // checkShape covers a canonical field
		pr.addf(where+".wrap", "turns a string into an object: wrap needs type: string, not %s", t)
	}
	if r.Items != nil {
		fr.items = &itemsRule{wrap: r.Items.Wrap, keep: map[string]bool{}, ignore: map[string]bool{}}
		for _, k := range r.Items.Keep {
			fr.items.keep[k] = true
		}
		for _, k := range r.Items.Ignore {
			fr.items.ignore[k] = true
		}
		for _, k := range r.Items.Required {
			if !fr.items.keep[k] {
				pr.addf(where+".items.required", "%q is not a kept key", k)
			}
			fr.items.required = append(fr.items.required, k)
		}
		if fr.typ != typeArray {
			pr.addf(where+".items", "items needs type: array")
		}
	}
	switch r.Normalize {
	case "":
	case "uuid":
		fr.uuid = true
		if fr.typ != typeString {
			pr.addf(where+".normalize", "uuid needs type: string")
		}
	default:
		pr.addf(where+".normalize", "%q: expected uuid", r.Normalize)
	}
	fr.v = compileValidators(pr, where+".validate", &r.Validate)
	checkValidatorTypes(pr, where+".validate", t, &r.Validate)
	if fr.typ == typeString { // the checks run before the enum: a value they refuse is never matched
		for _, k := range slices.Sorted(maps.Keys(r.Enum)) {
			if msg := fr.v.refusal(k); msg != "" {
				pr.addf(where+".enum."+k, "%q is never accepted: %s; drop it, or change the check", k, msg)
			}
		}
	}
	if fr.hasTo && fr.to.field >= 0 {
		p.checkShape(pr, where, fr)
	}
	return fr
}

// checkShape makes sure a rule can only produce what its canonical field
// holds, so that every update the engine lets through is valid.
func (p *Program) checkShape(pr *problems, where string, fr *fieldRule) {
	kind := canonical.Fields[fr.to.field].Kind
	var ok bool
	switch {
	case fr.wrap != "" && fr.list:
		// {"description": x} alone would be a role that names nothing.
		ok = kind == canonical.KindRoles && fr.typ == typeString && isIDOrName(fr.wrap)
	case fr.wrap != "":
		ok = kind == canonical.KindObject && fr.typ == typeString
	case fr.items != nil:
		ok = kind == canonical.KindRoles && fr.items.rolesOnly()
	case kind == canonical.KindString:
		ok = fr.typ == typeString
	case kind == canonical.KindBool:
		ok = fr.typ == typeBool
	case kind == canonical.KindObject:
		ok = fr.typ == typeObject
	}
	if !ok {
		pr.addf(where, "type %s (wrap %q, list %v) cannot produce canonical %s, %s", fr.typ, fr.wrap, fr.list, fr.to.name, aOrAn(kind.String()))
	}
}

// aOrAn is word with its indefinite article.
func aOrAn(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an " + word
	}
	return "a " + word
}

// enumKeyProblem says why an enum value can never match a value of the
// rule's type (an enum matches the value's text: true and false for a
// boolean, the digits of an integer), "" when it can: such a rule would
// refuse every value, as one of another type and as none of the enum's.
func enumKeyProblem(t jsonType, key string) string {
	switch t {
	case typeBool:
		if key != "true" && key != "false" {
			return "a boolean rule's enum values are true and false: " + strconv.Quote(key) + " never matches (use type string)"
		}
	case typeInteger:
		if !integerText.MatchString(key) {
			return "an integer rule's enum values are integers written plainly (42, -1): " + strconv.Quote(key) + " never matches"
		}
	case typeNumber:
		if f, err := strconv.ParseFloat(key, 64); err != nil || strconv.FormatFloat(f, 'f', -1, 64) != key {
			return "a number rule's enum values are numbers written plainly (42, 1.5): " + strconv.Quote(key) + " never matches"
		}
	case typeObject, typeArray:
		return "an enum needs values of type string, boolean, integer or number: a value of type " + t.String() + " never matches"
	}
	return ""
}

// integerText is an integer as JSON writes it.
var integerText = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)

func isRoleKey(k string) bool { return k == "id" || k == "name" || k == "description" }

func (it *itemsRule) rolesOnly() bool {
	if it.wrap != "" && !isIDOrName(it.wrap) {
		return false
	}
	for k := range it.keep {
		if !isRoleKey(k) {
			return false
		}
	}
	return len(it.keep) > 0 || it.wrap != ""
}

// checkKind checks an enum constant against its canonical field (an
// extension member holds any JSON value but one no backend could hold,
// which the contract refuses everywhere).
func checkKind(s slot, raw []byte) error {
	if s.field < 0 {
		d, n, _ := strings.Cut(s.ext, ".")
		doc := append(append([]byte(`{"set":{"extensions":{"`+d+`":{"`+n+`":`), raw...), "}}}}"...)
		if err := canonical.ValidateUpdate(doc); err != nil {
			return fmt.Errorf("%s: %s does not fit: %w", s.name, raw, err)
		}
		return nil
	}
	kind := canonical.Fields[s.field].Kind
	c := raw[0]
	ok := (kind == canonical.KindString && c == '"') || (kind == canonical.KindBool && (c == 't' || c == 'f')) ||
		(kind == canonical.KindObject && c == '{') || (kind == canonical.KindRoles && c == '[')
	if !ok {
		return fmt.Errorf("%s is a %s; %s does not fit", s.name, kind, raw)
	}
	// Each role a non-empty id or name, a username one userbridge can
	// address, no value a backend cannot hold: as the contract says.
	if kind == canonical.KindRoles || kind == canonical.KindString || kind == canonical.KindObject {
		doc := append(append([]byte(`{"set":{"`+s.name+`":`), raw...), "}}"...)
		if err := canonical.ValidateUpdate(doc); err != nil {
			return fmt.Errorf("%s: %s does not fit: %w", s.name, raw, err)
		}
	}
	return nil
}

// validatorTypes says which value type each validator checks (see
// validators.run): the others are never run on it.
var validatorTypes = []struct {
	name string
	typ  jsonType
	set  func(v *Validators) bool
}{
	{"nonEmpty", typeString, func(v *Validators) bool { return v.NonEmpty }},
	{"pattern", typeString, func(v *Validators) bool { return v.Pattern != "" }},
	{"minLength", typeString, func(v *Validators) bool { return v.MinLength != 0 }},
	{"maxLength", typeString, func(v *Validators) bool { return v.MaxLength != 0 }},
	{"oneOf", typeString, func(v *Validators) bool { return len(v.OneOf) > 0 }},
	{"uuid", typeString, func(v *Validators) bool { return v.UUID }},
	{"email", typeString, func(v *Validators) bool { return v.Email }},
	{"password", typeString, func(v *Validators) bool { return v.Password != nil }},
	{"maxPairs", typeObject, func(v *Validators) bool { return v.MaxPairs != 0 }},
	{"keyPattern", typeObject, func(v *Validators) bool { return v.KeyPattern != "" }},
	{"keyMaxLength", typeObject, func(v *Validators) bool { return v.KeyMaxLength != 0 }},
	{"valueMaxLength", typeObject, func(v *Validators) bool { return v.ValueMaxLength != 0 }},
	{"valueType", typeObject, func(v *Validators) bool { return v.ValueType != "" }},
	{"maxItems", typeArray, func(v *Validators) bool { return v.MaxItems != 0 }},
}

// checkValidatorTypes refuses a validator the rule's type never gives a
// value to check (type any may receive anything).
func checkValidatorTypes(pr *problems, where string, t jsonType, v *Validators) {
	if t == typeAny {
		return
	}
	for _, vt := range validatorTypes {
		if vt.set(v) && vt.typ != t {
			pr.addf(where+"."+vt.name, "checks %s and never applies to type %s: it needs type %s or any", plural(vt.typ), t, vt.typ)
		}
	}
}
