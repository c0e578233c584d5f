package server

import (
	"errors"
	"io"
	"strconv"

	"github.com/userbridge/userbridge/mapping/canonical"
)

// readBody reads the body into *bp, within server.maxBodyBytes: a body of
// up to 16 KiB with a Content-Length in one allocation of its size, others
// grown as they arrive (a declared length is not trusted with memory before
// its bytes come). A body shorter than its Content-Length (the client
// closed its side early) or cut by the read timeout is unreadable, never
// forwarded.
func (h *handler) readBody(x *exchange, bp *[]byte) ([]byte, *canonical.Error) {
	r := x.c.Request
	if r.ContentLength > h.maxBody {
		return nil, tooLarge(h.maxBody)
	}
	if cap(*bp) == 0 {
		size := int64(1024) // chunked: grown as it comes
		if r.ContentLength > 0 {
			size = min(r.ContentLength+1, 16<<10) // +1: the read that sees EOF needs room
		}
		*bp = make([]byte, 0, size)
	}
	buf, err := readAtMost(r.Body, *bp, h.maxBody)
	*bp = buf
	if err != nil {
		return nil, canonical.Errorf(canonical.BadRequest, "the request body could not be read")
	}
	if int64(len(buf)) > h.maxBody {
		return nil, tooLarge(h.maxBody)
	}
	x.body = buf
	return buf, nil
}

// readAtMost appends what r yields to buf until EOF, reading no more than
// limit+1 bytes: a result longer than limit is a body over it.
func readAtMost(r io.Reader, buf []byte, limit int64) ([]byte, error) {
	lr := io.LimitedReader{R: r, N: limit + 1}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func tooLarge(limit int64) *canonical.Error {
	return canonical.Errorf(canonical.PayloadTooLarge, "the request body is larger than "+strconv.FormatInt(limit, 10)+" bytes")
}
