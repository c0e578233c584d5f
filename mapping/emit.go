package mapping

import (
	"slices"

	"github.com/userbridge/userbridge/internal/lex"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// emit writes {"set":{...},"unset":[...]} in canonical field order.
func (b *builder) emit(hint int) []byte {
	out := make([]byte, 0, b.size(hint))
	out = append(out, `{"set":{`...)
	n := 0
	for i := range b.set {
		if b.set[i] != nil {
			out = append(appendFieldName(comma(out, &n), i), ':')
			out = append(out, b.set[i]...)
		}
	}
	out = b.emitExtensions(out, n > 0)
	out = append(out, `},"unset":[`...)
	n = 0
	for i := range canonical.Fields {
		if b.unset&(1<<i) != 0 {
			out = appendFieldName(comma(out, &n), i)
		}
	}
	for _, list := range [2][]extEntry{b.ruleExt, b.extraExt} {
		for _, e := range list {
			if e.unset {
				out = lex.AppendJSONString(comma(out, &n), "extensions."+e.name)
			}
		}
	}
	return append(out, "]}"...)
}

// comma appends the ',' that goes before each item of a list but the
// first; n counts the items written.
func comma(out []byte, n *int) []byte {
	if *n > 0 {
		out = append(out, ',')
	}
	*n++
	return out
}

// appendFieldName appends the name of canonical field i, quoted (a plain
// name: no escape).
func appendFieldName(out []byte, i int) []byte {
	out = append(out, '"')
	out = append(out, canonical.Fields[i].Name...)
	return append(out, '"')
}

// size is about what emit writes, so that it is written into one
// allocation: the values (at most the body's length, hint) and the names
// and punctuation around them. An escape in an extension's name can take it
// past this; append then grows the buffer.
func (b *builder) size(hint int) int {
	n := hint + len(`{"set":{},"unset":[]}`) + len(`"extensions":{}`)
	for i := range b.set {
		if b.set[i] != nil || b.unset&(1<<i) != 0 {
			n += len(canonical.Fields[i].Name) + len(`"":,`)
		}
	}
	for _, list := range [2][]extEntry{b.ruleExt, b.extraExt} {
		for _, e := range list {
			n += len(e.name) + len(`,"extensions.":{}`)
		}
	}
	return n
}

// emitExtensions writes "extensions":{...} (with a ',' first when it comes
// after a member): the own dialect's members first (rules' and the
// client's), then other dialects' members set by rules.
func (b *builder) emitExtensions(out []byte, after bool) []byte {
	own := b.p.name
	var dialects [4]string
	others := dialects[:0]
	any := false
	for _, list := range [2][]extEntry{b.ruleExt, b.extraExt} {
		for _, e := range list {
			if e.unset {
				continue
			}
			any = true
			if d := dialectOf(e.name); d != own && !slices.Contains(others, d) {
				others = append(others, d)
			}
		}
	}
	if !any {
		return out
	}
	if after {
		out = append(out, ',')
	}
	out = append(out, `"extensions":{`...)
	groups := 0
	for _, d := range append([]string{own}, others...) {
		m := 0
		for _, list := range [2][]extEntry{b.ruleExt, b.extraExt} {
			for _, e := range list {
				if e.unset || dialectOf(e.name) != d {
					continue
				}
				if m == 0 {
					out = lex.AppendJSONString(comma(out, &groups), d)
					out = append(out, `:{`...)
				}
				out = comma(out, &m)
				if e.key != nil {
					out = append(out, e.key...)
				} else {
					out = lex.AppendJSONString(out, e.name[len(d)+1:])
				}
				out = append(out, ':')
				out = append(out, e.raw...)
			}
		}
		if m > 0 {
			out = append(out, '}')
		}
	}
	return append(out, '}')
}

func dialectOf(name string) string {
	for i := 0; i < len(name); i++ {
		if name[i] == '.' {
			return name[:i]
		}
	}
	return name
}
