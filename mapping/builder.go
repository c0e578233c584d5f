package mapping

import (
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/tidwall/gjson"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// builderPool recycles builders: one is about three kilobytes.
var builderPool = sync.Pool{New: func() any {
	b := &builder{}
	b.ruleExt, b.extraExt, b.members = b.ruleBuf[:0], b.extraBuf[:0], b.memBuf[:0]
	return b
}}

// release clears the builder (it must not keep the body alive) and pools it.
func (b *builder) release() {
	b.reset()
	builderPool.Put(b)
}

// reset clears what a translation wrote, and only that: the builder is a
// few kilobytes, and its member list holds offsets, no pointers.
func (b *builder) reset() {
	for m := b.used; m != 0; m &= m - 1 {
		i := bits.TrailingZeros32(m)
		b.set[i], b.from[i] = nil, ""
	}
	clear(b.ruleExt)
	clear(b.extraExt)
	// A list that outgrew its buffer left the buffer's first entries
	// behind: they point into an old body too.
	if cap(b.ruleExt) > len(b.ruleBuf) {
		clear(b.ruleBuf[:])
	}
	if cap(b.extraExt) > len(b.extraBuf) {
		clear(b.extraBuf[:])
	}
	// A list that grew past 64 goes back to its buffer; one within its
	// buffer's capacity is the buffer (lists are only appended to).
	if cap(b.ruleExt) > 64 {
		b.ruleExt = b.ruleBuf[:0]
	}
	if cap(b.extraExt) > 64 {
		b.extraExt = b.extraBuf[:0]
	}
	if cap(b.members) > 256 {
		b.members = b.memBuf[:0]
	}
	// One reslice each: a slice resliced into itself is stored without a
	// write barrier.
	b.ruleExt = b.ruleExt[:0]
	b.extraExt = b.extraExt[:0]
	b.members = b.members[:0]
	b.p, b.body, b.keyAt, b.keyEnd, b.unset, b.used = nil, nil, 0, 0, 0, 0
}

// builder accumulates one translation. reset clears it field by field:
// a field added here must be cleared there too.
type builder struct {
	p     *Program
	body  []byte
	set   [len(canonical.Fields)][]byte
	from  [len(canonical.Fields)]string
	unset uint32
	used  uint32 // the fields whose set or from a translation wrote
	// ruleExt holds extension members set by rules (few); extraExt the
	// client's unknown top-level fields, kept under the own dialect.
	ruleExt  []extEntry
	extraExt []extEntry
	ruleBuf  [4]extEntry
	extraBuf [8]extEntry
	// keyAt and keyEnd are where the raw JSON of the top-level key being
	// translated is in body (offsets: no pointer for the pool to clear;
	// keyEnd 0 when there is none).
	keyAt, keyEnd int
	members       []topMember
	memBuf        [16]topMember
}

type extEntry struct {
	name  string // dialect.name
	key   []byte // the member name as a JSON string, when taken from the body
	raw   []byte // the value; unused when unset
	from  string
	unset bool
}

func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func (b *builder) setSlot(s slot, raw []byte, from string) *canonical.Error {
	if s.field < 0 {
		return b.putExt(extEntry{name: s.ext, raw: raw, from: from})
	}
	bit := uint32(1) << s.field
	if b.set[s.field] != nil || b.unset&bit != 0 {
		return b.clash(s.name, from, b.from[s.field])
	}
	b.set[s.field], b.from[s.field] = raw, from
	b.used |= bit
	return nil
}

func (b *builder) unsetSlot(s slot, from string) *canonical.Error {
	if s.field < 0 {
		return b.putExt(extEntry{name: s.ext, from: from, unset: true})
	}
	bit := uint32(1) << s.field
	if b.set[s.field] != nil || b.unset&bit != 0 {
		return b.clash(s.name, from, b.from[s.field])
	}
	b.unset |= bit
	b.used |= bit
	b.from[s.field] = from
	return nil
}

// shortName is a field name as an error shows it: whole up to 128 bytes,
// else its first 64 and an ellipsis (a key may be as long as the body).
func shortName(k string) string {
	if len(k) <= 128 {
		return k
	}
	return strings.ToValidUTF8(k[:64], "") + "…"
}

// maxExtDepth is the deepest a value kept under extensions.<dialect>.<name>
// may be nested: the update adds four levels above it (the document, set,
// extensions, the dialect's object), and the contract allows 32 in all.
const maxExtDepth = canonical.MaxDepth - 4

// extDepthOK reports whether the (valid) JSON value raw is nested at most
// maxExtDepth deep.
func extDepthOK(raw []byte) bool {
	return len(raw) == 0 || (raw[0] != '{' && raw[0] != '[') || canonical.WithinDepth(raw, maxExtDepth)
}

func (b *builder) putExt(e extEntry) *canonical.Error {
	if !e.unset && !extDepthOK(e.raw) {
		return canonical.FieldError(e.from, e.from+" is nested too deeply to be kept: at most "+strconv.Itoa(maxExtDepth)+" levels")
	}
	for _, list := range [2][]extEntry{b.ruleExt, b.extraExt} {
		for _, x := range list {
			if x.name == e.name {
				return b.clash("extensions."+e.name, e.from, x.from)
			}
		}
	}
	b.ruleExt = append(b.ruleExt, e)
	return nil
}

// putExtra keeps an unknown top-level field under extensions.<dialect>.
// Top-level keys are unique (the guard refuses duplicates), so it is checked
// only against the members rules set. A key that cannot name an extension
// member is refused: it could be neither kept nor dropped silently.
func (b *builder) putExtra(k string, v gjson.Result) *canonical.Error {
	if v.Type == gjson.Null {
		return b.putExtraEntry(k, nil, true)
	}
	return b.putExtraEntry(k, b.raw(v), false)
}

// putExtraRaw keeps raw, a JSON value userbridge built, as the unknown
// field k.
func (b *builder) putExtraRaw(k string, raw []byte) *canonical.Error {
	return b.putExtraEntry(k, raw, false)
}

func (b *builder) putExtraEntry(k string, raw []byte, unset bool) *canonical.Error {
	if len(k) > 128 {
		short := shortName(k)
		return canonical.FieldError(short, short+" is not a field of this API (unknown fields are kept only with names of at most 128 characters)")
	}
	if !canonical.ValidMemberName(k) {
		return canonical.FieldError(k, k+" is not a field of this API (unknown fields are kept only when named with letters, digits, '_' or '-')")
	}
	if !unset && !extDepthOK(raw) {
		return canonical.FieldError(k, k+" is nested too deeply to be kept: at most "+strconv.Itoa(maxExtDepth)+" levels")
	}
	var key []byte
	if b.keyEnd > 0 {
		key = b.body[b.keyAt:b.keyEnd]
	}
	e := extEntry{name: b.p.name + "." + k, key: key, from: k, unset: unset, raw: raw}
	for _, x := range b.ruleExt {
		if x.name == e.name {
			return b.clash("extensions."+e.name, e.from, x.from)
		}
	}
	b.extraExt = append(b.extraExt, e)
	return nil
}

func (b *builder) clash(field, from, other string) *canonical.Error {
	if other == from {
		return canonical.FieldError(from, from+" sets "+field+" twice")
	}
	return canonical.FieldError(from, from+" and "+other+" both set "+field+"; send only one")
}
