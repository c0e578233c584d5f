package migrate

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/userbridge/userbridge/config"
)

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zlibbed(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

// vendorAnswering is a vendor answering body with Content-Encoding enc.
func vendorAnswering(t *testing.T, enc string, body []byte) *Vendor {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if enc != "" {
			w.Header().Set("Content-Encoding", enc)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	v, err := NewVendor(config.Legacy{URL: srv.URL, Mode: config.LegacyShadow, Timeout: config.Duration(5 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func call(t *testing.T, v *Vendor) *Answer {
	t.Helper()
	r := httptest.NewRequest("PATCH", "/users/1", nil)
	r.Header.Set("Accept-Encoding", "gzip, deflate, br")
	a, err := v.Call(context.Background(), r, Hop{RequestID: "rid", Scheme: "http", Host: "ub.example"}, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// A compressed answer is relayed as sent and compared decoded; one in a
// coding userbridge cannot read, or that decodes past the limit, is not
// comparable.
func TestVendorAnswerEncoding(t *testing.T) {
	plain := []byte(`{"id":"1","name":"jane"}`)
	cand := &Answer{Status: 200, Body: plain}
	for _, c := range []struct {
		enc  string
		body []byte
	}{{"gzip", gzipped(t, plain)}, {"deflate", zlibbed(t, plain)}, {"identity", plain}} {
		a := call(t, vendorAnswering(t, c.enc, c.body))
		if !bytes.Equal(a.Body, c.body) || a.Uncomparable != nil {
			t.Errorf("%s: relayed body changed or not comparable: %v", c.enc, a.Uncomparable)
		}
		if ds := Compare(a, cand, nil); len(ds) != 0 {
			t.Errorf("%s: diffs %+v", c.enc, ds)
		}
	}
	var enc *EncodingError
	a := call(t, vendorAnswering(t, "br", []byte("\x0b\x02\x80")))
	if !errors.As(a.Uncomparable, &enc) || enc.Note() != "answer encoding br not comparable" {
		t.Errorf("br: %v", a.Uncomparable)
	}
	bomb := gzipped(t, make([]byte, 2*maxAnswerBytes))
	a = call(t, vendorAnswering(t, "gzip", bomb))
	if !errors.As(a.Uncomparable, &enc) || !enc.TooLarge || !bytes.Equal(a.Body, bomb) {
		t.Errorf("bomb: %v", a.Uncomparable)
	}
}
