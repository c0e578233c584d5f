package migrate

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
	v, err := NewVendor(config.Legacy{URL: srv.URL, Mode: config.LegacyShadow, Timeout: config.Duration(5 * time.Second)}, nil)
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
	}{{"gzip", gzipped(t, plain)}, {"deflate", zlibbed(t, plain)}, {"identity", plain}, {"br", nil}} {
		if c.body == nil { // an empty body is empty in any coding: comparable
			a := call(t, vendorAnswering(t, c.enc, nil))
			if a.Uncomparable != nil || len(Compare(a, &Answer{Status: 200}, nil)) != 0 {
				t.Errorf("empty %s body: %v", c.enc, a.Uncomparable)
			}
			continue
		}
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

// TestVendorSame: two vendors are the same (a reload keeps the running one)
// only when built from equal legacy blocks whose TLS files hold the same
// bytes; the breaker's settings are compared by value, not by pointer.
func TestVendorSame(t *testing.T) {
	certOf := func() []byte {
		s := httptest.NewTLSServer(http.NotFoundHandler())
		defer s.Close()
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, certOf(), 0o600); err != nil {
		t.Fatal(err)
	}
	on1, on2, off := true, true, false
	block := func(edit func(*config.Legacy)) config.Legacy {
		l := config.Legacy{URL: "https://vendor.example/api", Mode: config.LegacyShadow, Timeout: config.Duration(time.Second),
			Ignore: []string{"_links"}, TLS: config.TLS{CAFile: ca}, Breaker: config.Breaker{Enabled: &on1}}
		if edit != nil {
			edit(&l)
		}
		return l
	}
	vendor := func(l config.Legacy) *Vendor {
		v, err := NewVendor(l, nil)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	first := vendor(block(nil))
	if !first.Same(vendor(block(func(l *config.Legacy) { l.Breaker.Enabled = &on2 }))) {
		t.Error("equal blocks: not the same vendor")
	}
	for name, edit := range map[string]func(*config.Legacy){
		"timeout": func(l *config.Legacy) { l.Timeout = config.Duration(2 * time.Second) },
		"ignore":  func(l *config.Legacy) { l.Ignore = append(l.Ignore, "user.updatedAt") },
		"url":     func(l *config.Legacy) { l.URL = "https://vendor.example/v2" },
		"breaker": func(l *config.Legacy) { l.Breaker.Enabled = &off },
		"mode":    func(l *config.Legacy) { l.Mode = config.LegacyPrimary },
	} {
		if first.Same(vendor(block(edit))) {
			t.Errorf("%s changed: still the same vendor", name)
		}
	}
	// The same certificate twice: other bytes, a bundle the vendor still takes.
	if err := os.WriteFile(ca, append(certOf(), certOf()...), 0o600); err != nil {
		t.Fatal(err)
	}
	if first.Same(vendor(block(nil))) {
		t.Error("the CA file's bytes changed: still the same vendor")
	}
	if first.Same(nil) || (*Vendor)(nil).Same(first) {
		t.Error("a vendor is the same as none")
	}
}
