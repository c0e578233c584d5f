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
		if b.set[i] == nil {
			continue
		}
		if n > 0 {
			out = append(out, ',')
		}
		n++
		out = append(out, '"')
		out = append(out, canonical.Fields[i].Name...)
		out = append(out, `":`...)
		out = append(out, b.set[i]...)
	}
	out = b.emitExtensions(out, n > 0)
	out = append(out, `},"unset":[`...)
	n = 0
	for i := range canonical.Fields {
		if b.unset&(1<<i) == 0 {
			continue
		}
		if n > 0 {
			out = append(out, ',')
		}
		n++
		out = append(out, '"')
		out = append(out, canonical.Fields[i].Name...)
		out = append(out, '"')
	}
	for _, list := range [2][]extEntry{b.ruleExt, b.extraExt} {
		for _, e := range list {
			if !e.unset {
				continue
			}
			if n > 0 {
				out = append(out, ',')
			}
			n++
			out = lex.AppendJSONString(out, "extensions."+e.name)
		}
	}
	return append(out, "]}"...)
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

// emitExtensions writes "extensions":{...}: the own dialect's members
// first (rules' and the client's), then other dialects' members set by rules.
func (b *builder) emitExtensions(out []byte, comma bool) []byte {
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
	if comma {
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
					if groups > 0 {
						out = append(out, ',')
					}
					groups++
					out = lex.AppendJSONString(out, d)
					out = append(out, `:{`...)
				} else {
					out = append(out, ',')
				}
				m++
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
