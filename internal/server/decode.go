package server

import (
	"bytes"
	"html"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The decoded views of a message that redaction searches. An upstream
// that quotes a request may show a secret in any encoding: inside the
// request's JSON (\" \\ \/ \u00e9 \uD83D\uDE00, non-ASCII escaped or not),
// %-encoded, as a form, as HTML, in base64 or hex, or one inside another
// (a JSON body in a JSON string, base64 of a JSON body). Rather than
// encoding each secret every way one can think of, the message is decoded:
// each decoder turns every escape it knows into the bytes it stands for
// and keeps every other byte as it is, remembering for each byte of its
// output the span of the message it came from. A secret is then looked for
// in each view's decoded bytes, and the span it came from is redacted, so
// that a secret is found in whatever form of an escape the sender chose
// (either hex case, a needless escape, a surrogate pair).

// span is a half-open byte range of the message.
type span struct{ from, to int32 }

// view is a decoding of a message: its bytes, and for each the span of the
// message it came from (spans never go backwards).
type view struct {
	text []byte
	src  []span
	// depth is the layers of decoding under it, a base64 or hex one
	// counting two: its bytes are noise where they encode nothing, and
	// decoding noise again finds nothing but more noise.
	depth  int
	binary bool
}

// rawView is the message as it is.
func rawView(msg string) *view {
	v := &view{text: []byte(msg), src: make([]span, len(msg))}
	for i := range v.src {
		v.src[i] = span{int32(i), int32(i + 1)}
	}
	return v
}

// decoder decodes one layer of v; it returns nil when v holds nothing it
// decodes.
type decoder func(v *view) *view

// maxDepth bounds how deep a secret is looked for: three text encodings one
// inside another (a JSON body %-encoded inside a JSON string), or a base64
// or hex one with one text encoding inside or around it (a JSON body in
// base64, base64 with its '/' escaped).
const maxDepth = 3

// views are msg and its decodings, up to maxDepth deep, each distinct.
func views(msg string) []*view {
	all := []*view{rawView(msg)}
	seen := map[string]bool{msg: true}
	for i := 0; i < len(all); i++ { // breadth first: all grows behind i
		v := all[i]
		for _, d := range decoders(v) {
			if w := d(v); w != nil && w.depth <= maxDepth && !seen[string(w.text)] {
				seen[string(w.text)] = true
				all = append(all, w)
			}
		}
	}
	return all
}

// decoders are the decoders that may apply to v within maxDepth: the text
// ones, then base64 and hex (at each alignment) unless v is binary.
func decoders(v *view) []decoder {
	var ds []decoder
	if v.depth+1 <= maxDepth {
		ds = append(ds, unescapeBackslash, percentDecoder(false), percentDecoder(true), unescapeHTML)
	}
	if !v.binary && v.depth+2 <= maxDepth {
		for k := 0; k < 4; k++ {
			ds = append(ds, base64Decoder(k))
		}
		ds = append(ds, hexDecoder(0), hexDecoder(1))
	}
	return ds
}

// builder makes a view from an input view.
type builder struct {
	in      *view
	out     view
	changed bool
}

func newBuilder(in *view) *builder {
	return &builder{in: in, out: view{text: make([]byte, 0, len(in.text)), src: make([]span, 0, len(in.text)),
		depth: in.depth + 1, binary: in.binary}}
}

// binaryLayer marks the view being built as a base64 or hex decoding.
func (b *builder) binaryLayer() {
	b.out.binary = true
	b.out.depth = b.in.depth + 2
}

// keep copies the input's byte i.
func (b *builder) keep(i int) {
	b.out.text = append(b.out.text, b.in.text[i])
	b.out.src = append(b.out.src, b.in.src[i])
}

// keepRange copies the input's bytes [from, to).
func (b *builder) keepRange(from, to int) {
	b.out.text = append(b.out.text, b.in.text[from:to]...)
	b.out.src = append(b.out.src, b.in.src[from:to]...)
}

// keepUntil copies the input's bytes from i up to the next byte for which
// stop is true (or the end), and returns that byte's index.
func (b *builder) keepUntil(i int, stop func(byte) bool) int {
	j := i
	for j < len(b.in.text) && !stop(b.in.text[j]) {
		j++
	}
	b.keepRange(i, j)
	return j
}

// emit adds decoded bytes that came from the input's bytes [from, to).
func (b *builder) emit(p []byte, from, to int) {
	s := span{b.in.src[from].from, b.in.src[to-1].to}
	for _, c := range p {
		b.out.text = append(b.out.text, c)
		b.out.src = append(b.out.src, s)
	}
	b.changed = true
}

func (b *builder) emitRune(r rune, from, to int) {
	var buf [utf8.UTFMax]byte
	b.emit(buf[:utf8.EncodeRune(buf[:], r)], from, to)
}

func (b *builder) done() *view {
	if !b.changed {
		return nil
	}
	return &b.out
}

// hexAt reads n hex digits at t[i:], or -1.
func hexAt(t []byte, i, n int) rune {
	if i+n > len(t) {
		return -1
	}
	var r rune
	for _, c := range t[i : i+n] {
		d := unhex(c)
		if d < 0 {
			return -1
		}
		r = r<<4 | rune(d)
	}
	return r
}

func isBackslash(c byte) bool { return c == '\\' }

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// unescapeBackslash decodes backslash escapes: JSON's (\" \\ \/ \b \f \n
// \r \t \uXXXX, a surrogate pair as one character), and those of the
// languages an upstream may quote with (\xHH, \u{H…}, \UHHHHHHHH, \a \v,
// and a backslash before any other byte, which stands for that byte).
func unescapeBackslash(v *view) *view {
	t := v.text
	if bytes.IndexByte(t, '\\') < 0 {
		return nil
	}
	b := newBuilder(v)
	for i := 0; i < len(t); {
		if t[i] != '\\' {
			i = b.keepUntil(i, isBackslash)
			continue
		}
		if i+1 == len(t) {
			b.keep(i)
			i++
			continue
		}
		n, r, raw := backslashEscape(t, i)
		switch {
		case raw >= 0:
			b.emit([]byte{byte(raw)}, i, i+n)
		default:
			b.emitRune(r, i, i+n)
		}
		i += n
	}
	return b.done()
}

// backslashEscape reads the escape at t[i] ('\\', with a byte after it):
// its length, and the character (raw < 0) or the byte (raw) it stands for.
func backslashEscape(t []byte, i int) (n int, r rune, raw int) {
	c := t[i+1]
	switch c {
	case 'b':
		return 2, 0, '\b'
	case 'f':
		return 2, 0, '\f'
	case 'n':
		return 2, 0, '\n'
	case 'r':
		return 2, 0, '\r'
	case 't':
		return 2, 0, '\t'
	case 'v':
		return 2, 0, '\v'
	case 'a':
		return 2, 0, '\a'
	case 'x':
		if h := hexAt(t, i+2, 2); h >= 0 {
			return 4, 0, int(h)
		}
	case 'U':
		if h := hexAt(t, i+2, 8); h >= 0 && utf8.ValidRune(h) {
			return 10, h, -1
		}
	case 'u':
		if i+2 < len(t) && t[i+2] == '{' {
			if end := bytes.IndexByte(t[i+3:min(len(t), i+12)], '}'); end > 0 {
				if h := hexAt(t, i+3, end); h >= 0 && utf8.ValidRune(h) {
					return end + 4, h, -1
				}
			}
		}
		h := hexAt(t, i+2, 4)
		if h < 0 {
			break
		}
		if utf16.IsSurrogate(h) && i+11 < len(t) && t[i+6] == '\\' && t[i+7] == 'u' {
			if lo := hexAt(t, i+8, 4); lo >= 0 {
				if p := utf16.DecodeRune(h, lo); p != utf8.RuneError {
					return 12, p, -1
				}
			}
		}
		return 6, h, -1 // a lone surrogate is U+FFFD, as JSON decoders make it
	}
	return 2, 0, int(c)
}

// percentDecoder decodes %HH (and the old %uHHHH); with plus, '+' is a
// space, as in a form.
func percentDecoder(plus bool) decoder {
	return func(v *view) *view {
		t := v.text
		if bytes.IndexByte(t, '%') < 0 && (!plus || bytes.IndexByte(t, '+') < 0) {
			return nil
		}
		b := newBuilder(v)
		for i := 0; i < len(t); {
			switch {
			case t[i] == '+' && plus:
				b.emit([]byte{' '}, i, i+1)
				i++
				continue
			case t[i] != '%' && !(plus && t[i] == '+'):
				i = b.keepUntil(i, func(c byte) bool { return c == '%' || plus && c == '+' })
				continue
			case hexAt(t, i+1, 2) >= 0:
				b.emit([]byte{byte(hexAt(t, i+1, 2))}, i, i+3)
				i += 3
				continue
			case i+1 < len(t) && t[i+1] == 'u' && hexAt(t, i+2, 4) >= 0:
				b.emitRune(hexAt(t, i+2, 4), i, i+6)
				i += 6
				continue
			}
			b.keep(i)
			i++
		}
		return b.done()
	}
}

// unescapeHTML decodes HTML character references (&quot; &#34; &#x22; and
// every named one html knows), each ended by ';'.
func unescapeHTML(v *view) *view {
	t := v.text
	if bytes.IndexByte(t, '&') < 0 {
		return nil
	}
	b := newBuilder(v)
	for i := 0; i < len(t); {
		if t[i] != '&' {
			i = b.keepUntil(i, func(c byte) bool { return c == '&' })
			continue
		}
		if end := refEnd(t[i+1 : min(len(t), i+40)]); end > 0 {
			ref := string(t[i : i+end+2])
			if r, ok := numericRef(ref); ok {
				b.emitRune(r, i, i+end+2)
				i += end + 2
				continue
			}
			if dec := html.UnescapeString(ref); dec != ref {
				b.emit([]byte(dec), i, i+end+2)
				i += end + 2
				continue
			}
		}
		b.keep(i)
		i++
	}
	return b.done()
}

// refEnd is the index of the ';' that ends the name of a character
// reference at the start of t (letters, digits, '#'), or -1.
func refEnd(t []byte) int {
	for i, c := range t {
		switch {
		case c == ';':
			return i
		case c == '#' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
			continue
		}
		return -1
	}
	return -1
}

// numericRef reads a numeric character reference (&#233; &#xE9;) as the
// code point it names, as an encoder wrote it: html.UnescapeString would
// read &#0; and &#128;-&#159; as the HTML spec's replacements.
func numericRef(ref string) (rune, bool) {
	num, ok := strings.CutPrefix(ref[:len(ref)-1], "&#")
	if !ok {
		return 0, false
	}
	base := 10
	if h, ok := strings.CutPrefix(strings.ToLower(num), "x"); ok {
		num, base = h, 16
	}
	n, err := strconv.ParseUint(num, base, 32)
	if err != nil || !utf8.ValidRune(rune(n)) {
		return 0, false
	}
	return rune(n), true
}

// base64Value is the value of a base64 digit, standard or URL alphabet, or
// -1.
func base64Value(c byte) int {
	switch {
	case 'A' <= c && c <= 'Z':
		return int(c - 'A')
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 26
	case '0' <= c && c <= '9':
		return int(c-'0') + 52
	case c == '+' || c == '-':
		return 62
	case c == '/' || c == '_':
		return 63
	}
	return -1
}

// minBase64Run is the shortest run of base64 digits decoded: the encoding
// of a secret of minSecretLen bytes is at least this long.
const minBase64Run = (minSecretLen*8 + 5) / 6

// base64Decoder decodes each run of base64 digits (either alphabet) of at
// least minBase64Run from its k-th digit on, in groups of four: where a
// secret's encoding starts in a longer run is not known, so each of the four
// alignments is a view. A decoded byte comes from the two digits that hold
// its bits, so a redacted span leaves no bit of a secret.
func base64Decoder(k int) decoder {
	return runDecoder(k, minBase64Run, func(c byte) bool { return base64Value(c) >= 0 },
		func(b *builder, t []byte, j, end int) int {
			for ; end-j >= 2; j += 4 {
				g := min(4, end-j)
				var bits uint32
				for q := 0; q < 4; q++ {
					bits <<= 6
					if q < g {
						bits |= uint32(base64Value(t[j+q]))
					}
				}
				for q := 0; q < g-1; q++ { // 2 digits: 1 byte, 3: 2, 4: 3
					c := byte(bits >> (16 - 8*q))
					b.emit([]byte{c}, j+q, j+q+2)
				}
			}
			return j
		})
}

// minHexRun is the shortest run of hex digits decoded.
const minHexRun = 2 * minSecretLen

// hexDecoder decodes each run of hex digits of at least minHexRun, in
// pairs from its k-th digit on.
func hexDecoder(k int) decoder {
	return runDecoder(k, minHexRun, func(c byte) bool { return unhex(c) >= 0 },
		func(b *builder, t []byte, j, end int) int {
			for ; j+1 < end; j += 2 {
				b.emit([]byte{byte(unhex(t[j])<<4 | unhex(t[j+1]))}, j, j+2)
			}
			return j
		})
}

// longRun reports whether t has a run of at least minRun digits.
func longRun(t []byte, minRun int, digit func(byte) bool) bool {
	n := 0
	for _, c := range t {
		if !digit(c) {
			n = 0
		} else if n++; n >= minRun {
			return true
		}
	}
	return false
}

// runDecoder is a binary layer's decoder: each run of digit bytes at least
// minRun long is decoded by decode from its k-th byte on (decode returns
// where it stopped; what is left of the run is kept as it is); every other
// byte, and every shorter run, is kept.
func runDecoder(k, minRun int, digit func(byte) bool, decode func(b *builder, t []byte, j, end int) int) decoder {
	return func(v *view) *view {
		t := v.text
		if !longRun(t, minRun, digit) {
			return nil // nothing to decode: no view to build
		}
		b := newBuilder(v)
		b.binaryLayer()
		for i := 0; i < len(t); {
			end := i
			for end < len(t) && digit(t[end]) {
				end++
			}
			if end-i < minRun {
				end = min(end+1, len(t))
				b.keepRange(i, end)
				i = end
				continue
			}
			b.keepRange(i, i+k)
			if j := decode(b, t, i+k, end); j < end {
				b.keepRange(j, end) // a digit short of a byte
			}
			i = end
		}
		return b.done()
	}
}
