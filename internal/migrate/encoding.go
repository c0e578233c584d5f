package migrate

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"strings"
)

// EncodingError says why a vendor's answer body cannot be compared: its
// Content-Encoding is one userbridge does not decode (br, or unknown), the
// body does not decode, or it decodes past the size limit. The client
// still gets the body as sent.
type EncodingError struct {
	// Encoding is the content coding at fault, as the vendor named it
	// (lowercased, at most 32 characters).
	Encoding string
	// TooLarge is set when the body decoded past maxAnswerBytes.
	TooLarge bool
}

func (e *EncodingError) Error() string {
	if e.TooLarge {
		return fmt.Sprintf("migrate: answer encoding %s decodes past %d bytes", e.Encoding, maxAnswerBytes)
	}
	return fmt.Sprintf("migrate: answer encoding %s not comparable", e.Encoding)
}

// Note is the diff log's note for the error: a few fixed words and the
// bounded coding name.
func (e *EncodingError) Note() string {
	if e.TooLarge {
		return "answer encoding " + e.Encoding + " over the size limit"
	}
	return "answer encoding " + e.Encoding + " not comparable"
}

// decodeBody decodes body by its Content-Encoding header values (codings
// applied in order, so undone last first), each step bounded by
// maxAnswerBytes. It returns body itself when there is nothing to undo: an
// empty body (a 204 that names a coding) is empty in any.
func decodeBody(contentEncoding []string, body []byte) ([]byte, error) {
	if len(body) == 0 {
		return body, nil
	}
	var codings []string
	for _, v := range contentEncoding {
		for _, c := range strings.Split(v, ",") {
			if c = strings.ToLower(strings.TrimSpace(c)); c != "" && c != "identity" {
				codings = append(codings, c)
			}
		}
	}
	out := body
	for i := len(codings) - 1; i >= 0; i-- {
		c := codings[i]
		var err error
		if out, err = decodeOne(c, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// decodeOne undoes one content coding, reading at most maxAnswerBytes.
func decodeOne(coding string, b []byte) ([]byte, error) {
	name := coding
	if len(name) > 32 {
		name = name[:32]
	}
	var r io.Reader
	switch coding {
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, &EncodingError{Encoding: name}
		}
		r = zr
	case "deflate":
		// HTTP's deflate is zlib-wrapped; some servers send it raw.
		if zr, err := zlib.NewReader(bytes.NewReader(b)); err == nil {
			r = zr
		} else {
			r = flate.NewReader(bytes.NewReader(b))
		}
	default:
		return nil, &EncodingError{Encoding: name}
	}
	out, err := io.ReadAll(io.LimitReader(r, maxAnswerBytes+1))
	switch {
	case err != nil:
		return nil, &EncodingError{Encoding: name}
	case len(out) > maxAnswerBytes:
		return nil, &EncodingError{Encoding: name, TooLarge: true}
	}
	return out, nil
}
