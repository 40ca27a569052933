package transport

import (
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCACertAndInsecure: a server with a private certificate is refused by default, trusted
// with its CA given (CACertFile), and reached unchecked only when Insecure says so; a file
// without a PEM certificate is an error that names it.
func TestCACertAndInsecure(t *testing.T) {
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer ts.Close()
	get := func(o TLS) error {
		tr, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := (&http.Client{Transport: tr}).Get(ts.URL)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(TLS{}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a private certificate was trusted by default: %v", err)
	}
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	der := ts.Certificate().Raw
	if _, err := x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := get(TLS{CACertFile: ca}); err != nil {
		t.Errorf("with its CA: %v", err)
	}
	if err := get(TLS{Insecure: true}); err != nil {
		t.Errorf("insecure: %v", err)
	}
	junk := filepath.Join(dir, "junk.pem")
	_ = os.WriteFile(junk, []byte("not a certificate"), 0o600)
	if _, err := New(TLS{CACertFile: junk}); err == nil || !strings.Contains(err.Error(), junk) {
		t.Errorf("a file without a certificate: %v", err)
	}
}
