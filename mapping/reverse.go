package mapping

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/userbridge/userbridge/internal/lex"
)

// reverseEnum is a request enum read backwards, for the enum:SOURCE
// filter: the dialect value whose canonical fields the user holds. Its
// entries are in the rule file's order; the first whose every field the
// user holds, with the value the entry sets, is rendered.
type reverseEnum struct {
	source  string
	where   string // request.fields[i], for problems
	entries []reverseEntry
	checked bool // the round trip was checked (once, whatever the uses)
}

type reverseEntry struct {
	name   string // the request value, as written in the enum
	out    []byte // what it renders: JSON, typed as the rule's source
	fields []enumField
}

// enumField is one canonical field an enum value sets: its gjson path in
// the canonical user, and the value (JSON).
type enumField struct {
	path string
	raw  []byte
}

// reverseEnums compiles every request enum for reading backwards, by the
// source of its rule. Problems of the enums themselves are compileField's.
func (p *Program) reverseEnums() map[string]*reverseEnum {
	out := map[string]*reverseEnum{}
	for i, r := range p.file.Request.Fields {
		if len(r.Enum) == 0 {
			continue
		}
		where := fmt.Sprintf("request.fields[%d]", i)
		re := &reverseEnum{source: r.Source, where: where}
		for val, sets := range r.Enum {
			e := reverseEntry{name: val, out: enumValueJSON(r.Type, val)}
			for _, k := range slices.Sorted(maps.Keys(sets)) {
				s, err := p.resolveSlot(k)
				raw, jerr := json.Marshal(sets[k])
				if err != nil || jerr != nil {
					continue // reported by compileField
				}
				path := s.name
				if s.field < 0 {
					path = "extensions." + gjsonEscape(s.ext)
				}
				e.fields = append(e.fields, enumField{path: path, raw: raw})
			}
			re.entries = append(re.entries, e)
		}
		line := func(e reverseEntry) int { return LineOf(p.file.root, where+".enum."+e.name) }
		sort.SliceStable(re.entries, func(a, b int) bool {
			la, lb := line(re.entries[a]), line(re.entries[b])
			if la != lb {
				return la < lb
			}
			return re.entries[a].name < re.entries[b].name
		})
		if _, dup := out[r.Source]; !dup {
			out[r.Source] = re
		}
	}
	return out
}

// enumValueJSON is a request enum value as the source's type writes it:
// a boolean or a number as itself, anything else as a string.
func enumValueJSON(typ, val string) []byte {
	switch typ {
	case "boolean", "number", "integer":
		if gjson.Valid(val) {
			return []byte(val)
		}
	}
	return lex.AppendJSONString(nil, val)
}

// match is the first entry whose fields the user holds, or nil.
func (re *reverseEnum) match(user gjson.Result) *reverseEntry {
	for i := range re.entries {
		e := &re.entries[i]
		ok := len(e.fields) > 0
		for _, f := range e.fields {
			if !sameJSON(user.Get(f.path), f.raw) {
				ok = false
				break
			}
		}
		if ok {
			return e
		}
	}
	return nil
}

// render is the dialect value of the canonical user whose JSON text is
// user: absent when no entry matches.
func (re *reverseEnum) render(user string) value {
	if e := re.match(gjson.Parse(user)); e != nil {
		return value{ok: true, raw: string(e.out)}
	}
	return value{}
}

// checkRoundTrip reports, once, each value the request accepts that would
// not render back as itself: a user holding exactly the fields the value
// sets must render it, so that a client reading its answer reads what it
// wrote. An earlier entry setting a subset of a later one's fields takes
// the later one's users; two setting the same fields cannot be told apart.
func (re *reverseEnum) checkRoundTrip(pr *problems, at place, text string) {
	if re.checked {
		return
	}
	re.checked = true
	for _, e := range re.entries {
		obj := []byte("{}")
		for _, f := range e.fields {
			obj = setPath(obj, f.path, f.raw)
		}
		got := re.match(gjson.ParseBytes(obj))
		switch {
		case got == nil:
			pr.addAt(at, "${%s}: %s's enum value %q sets no field a user can hold, so it never renders back", text, re.source, e.name)
		case got.name != e.name:
			pr.addAt(at, "${%s}: %s's enum value %q would render back as %q, which sets a subset of its fields (or the same): list %q first, or make the values set different fields, so that each renders back as itself",
				text, re.source, e.name, got.name, e.name)
		}
	}
}

// setPath writes raw at a dotted gjson path of the JSON object obj,
// creating the objects on the way.
func setPath(obj []byte, path string, raw []byte) []byte {
	var m map[string]any
	_ = json.Unmarshal(obj, &m)
	var v any
	_ = json.Unmarshal(raw, &v)
	segs := strings.Split(strings.ReplaceAll(path, `\.`, "\x00"), ".")
	cur := m
	for i, s := range segs {
		s = strings.ReplaceAll(s, "\x00", ".")
		if i == len(segs)-1 {
			cur[s] = v
			break
		}
		next, ok := cur[s].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[s] = next
		}
		cur = next
	}
	out, _ := json.Marshal(m)
	return out
}

// sameJSON reports whether r holds the JSON value raw (compared as
// values: key order and number spelling aside).
func sameJSON(r gjson.Result, raw []byte) bool {
	if !r.Exists() {
		return false
	}
	var a, b any
	if json.Unmarshal([]byte(r.Raw), &a) != nil || json.Unmarshal(raw, &b) != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}

// filterNames lists a dialect template's filters, for messages.
const filterNames = "epoch3, default, firstOf, query, path, string, number, not, enum"

// compileEnumFilter resolves enum:SOURCE in ${user|enum:SOURCE} to the
// request enum of the field rule whose source is SOURCE, and checks that
// every value of it renders back as itself.
func compileEnumFilter(pr *problems, at place, e *expr, source string) *reverseEnum {
	if pr.enums == nil {
		pr.addAt(at, "${%s}: unknown filter %q (%s)", e.text, "enum", filterNames)
		return nil
	}
	if e.src != srcUser || e.path != "" {
		pr.addAt(at, "${%s}: enum:%s reads the whole user: write ${user|enum:%s}", e.text, source, source)
	}
	if len(e.filters) > 0 {
		pr.addAt(at, "${%s}: enum:%s comes first, right after ${user", e.text, source)
	}
	re := pr.enums[source]
	if re == nil {
		pr.addAt(at, "${%s}: no request field rule with source %q has an enum (%s)", e.text, source, strings.Join(slices.Sorted(maps.Keys(pr.enums)), ", "))
		return nil
	}
	re.checkRoundTrip(pr, at, e.text)
	return re
}

// not is a boolean's negation; anything else is absent.
func not(v value) value {
	switch {
	case !v.ok || v.isStr:
		return value{}
	case v.raw == "true":
		return value{ok: true, raw: "false"}
	case v.raw == "false":
		return value{ok: true, raw: "true"}
	}
	return value{}
}
