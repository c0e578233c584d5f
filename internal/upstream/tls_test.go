package upstream

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/userbridge/userbridge/config"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// writePEM writes PEM blocks to a file in dir and returns its path.
func writePEM(t *testing.T, dir, name, typ string, der ...[]byte) string {
	t.Helper()
	var b []byte
	for _, d := range der {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: d})...)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// serverCAFile writes a TLS test server's certificate as a CA bundle.
func serverCAFile(t *testing.T, srv *httptest.Server) string {
	return writePEM(t, t.TempDir(), "ca.pem", "CERTIFICATE", srv.Certificate().Raw)
}

func TestTLSCustomCA(t *testing.T) {
	up := &testUpstream{conns: map[string]bool{}}
	up.Server = httptest.NewTLSServer(up.record(ok))
	t.Cleanup(up.Close)

	c := newClient(t, up.URL, func(cfg *setup) { cfg.TLS.CAFile = serverCAFile(t, up.Server) })
	res, err := patch(t, c, patchCall("1"))
	if err != nil || res.Status != 200 {
		t.Fatalf("with the CA: %v", err)
	}

	// The system roots do not know httptest's CA: refused, not retried.
	res, err = patch(t, newClient(t, up.URL), patchCall("1"))
	wantCode(t, err, canonical.BadGateway)
	if err.Message != "the upstream's TLS certificate is not trusted" || res.Attempts != 1 {
		t.Errorf("message %q attempts %d", err.Message, res.Attempts)
	}

	// The name checked can be overridden: httptest's certificate is for example.com.
	c = newClient(t, up.URL, func(cfg *setup) {
		cfg.TLS.CAFile = serverCAFile(t, up.Server)
		cfg.TLS.ServerName = "not-example.org"
	})
	_, err = patch(t, c, patchCall("1"))
	wantCode(t, err, canonical.BadGateway)
	c = newClient(t, up.URL, func(cfg *setup) {
		cfg.TLS.CAFile = serverCAFile(t, up.Server)
		cfg.TLS.ServerName = "example.com"
	})
	if _, err = patch(t, c, patchCall("1")); err != nil {
		t.Errorf("ServerName example.com: %v", err)
	}
}

func TestTLSClientCertificate(t *testing.T) {
	dir := t.TempDir()
	caCert, caKey := newCA(t)
	certDER, keyDER := newLeaf(t, caCert, caKey, "userbridge")
	certFile := writePEM(t, dir, "client.pem", "CERTIFICATE", certDER)
	keyFile := writePEM(t, dir, "client-key.pem", "PRIVATE KEY", keyDER)

	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	var peer atomic.Value // string
	up := &testUpstream{conns: map[string]bool{}}
	up.Server = httptest.NewUnstartedServer(up.record(func(_ int, w http.ResponseWriter, r *http.Request) {
		peer.Store(r.TLS.PeerCertificates[0].Subject.CommonName)
		reply(w, 200, userJSON)
	}))
	up.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS12}
	up.StartTLS()
	t.Cleanup(up.Close)
	caFile := serverCAFile(t, up.Server)

	c := newClient(t, up.URL, func(cfg *setup) {
		cfg.TLS = config.TLS{CAFile: caFile, CertFile: certFile, KeyFile: keyFile}
	})
	if _, err := patch(t, c, patchCall("1")); err != nil {
		t.Fatalf("with the client certificate: %v", err)
	}
	if p := peer.Load(); p != "userbridge" {
		t.Errorf("the upstream saw client %v", p)
	}

	res, err := patch(t, newClient(t, up.URL, func(cfg *setup) { cfg.TLS.CAFile = caFile }), patchCall("1"))
	wantCode(t, err, canonical.BadGateway)
	if up.hits.Load() != 1 || res.Attempts != 1 {
		t.Errorf("without a client certificate: hits %d attempts %d", up.hits.Load(), res.Attempts)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	for _, tc := range []struct {
		tls  config.TLS
		want string
	}{
		{config.TLS{CAFile: filepath.Join(dir, "missing.pem")}, "upstream.tls.caFile:"},
		{config.TLS{CAFile: notPEM}, "holds no PEM certificate"},
		{config.TLS{CertFile: notPEM}, "CertFile and KeyFile go together"},
		{config.TLS{CertFile: notPEM, KeyFile: notPEM}, "upstream.tls.certFile:"},
	} {
		_, err := New(config.Upstream{URL: "https://idp.internal", TLS: tc.tls}, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.tls, err, tc.want)
		}
	}
}

func newCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// newLeaf issues a client certificate; it returns the certificate and the
// PKCS #8 key, both DER.
func newLeaf(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string) (cert, key []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if cert, err = x509.CreateCertificate(rand.Reader, tpl, ca, &k.PublicKey, caKey); err != nil {
		t.Fatal(err)
	}
	if key, err = x509.MarshalPKCS8PrivateKey(k); err != nil {
		t.Fatal(err)
	}
	return cert, key
}
