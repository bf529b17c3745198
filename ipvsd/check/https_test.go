package check

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// authority is a certificate authority made for a test.
type authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // its certificate, PEM
}

var serial atomic.Int64

// newAuthority makes a self-signed authority and writes its certificate
// to a file.
func newAuthority(t *testing.T, name string) *authority {
	t.Helper()
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: name}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, key := sign(t, tmpl, nil, nil)
	cert, _ := x509.ParseCertificate(der)
	a := &authority{cert: cert, key: key, file: filepath.Join(t.TempDir(), name+".pem")}
	writePEM(t, a.file, "CERTIFICATE", der)
	return a
}

// issue makes a certificate for the names and addresses given, signed by
// a, and returns it and the files of its certificate and key.
func (a *authority) issue(t *testing.T, usage x509.ExtKeyUsage, names []string, ips ...net.IP) (tls.Certificate, string, string) {
	t.Helper()
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: "leaf"}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{usage}, DNSNames: names, IPAddresses: ips}
	der, key := sign(t, tmpl, a.cert, a.key)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, keyFile, "EC PRIVATE KEY", kder)
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return pair, certFile, keyFile
}

// sign makes a key and a certificate of tmpl for it, valid for an hour
// around now, signed by parent's key (self-signed when parent is nil).
func sign(t *testing.T, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(serial.Add(1))
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

func writePEM(t *testing.T, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestHTTPS(t *testing.T) {
	ca := newAuthority(t, "backends")
	clientCA := newAuthority(t, "probes")
	serverCert, _, _ := ca.issue(t, x509.ExtKeyUsageServerAuth, []string{"backend.test"}, net.IPv4(127, 0, 0, 1))
	_, clientCertFile, clientKeyFile := clientCA.issue(t, x509.ExtKeyUsageClientAuth, nil)
	_, strangerCertFile, strangerKeyFile := newAuthority(t, "stranger").issue(t, x509.ExtKeyUsageClientAuth, nil)

	var resumed atomic.Int64
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS.DidResume {
			resumed.Add(1)
		}
		w.Write([]byte("secure " + r.TLS.ServerName))
	})
	start := func(clientAuth tls.ClientAuthType) *httptest.Server {
		srv := httptest.NewUnstartedServer(handler)
		pool := x509.NewCertPool()
		pool.AddCert(clientCA.cert)
		srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientAuth: clientAuth, ClientCAs: pool}
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return srv
	}
	open := serverAddr(t, start(tls.NoClientCert))
	mutual := serverAddr(t, start(tls.RequireAndVerifyClientCert))

	tests := []struct {
		name string
		tls  TLSOptions
		host string
		mtls bool
		err  string // "" passes
		body string // the body's regex, with the server name the server saw
	}{
		{"ca and server name", TLSOptions{CAFile: ca.file, ServerName: "backend.test"}, "", false, "", "^secure backend.test$"},
		{"ca and address", TLSOptions{CAFile: ca.file}, "", false, "", "^secure $"},
		{"server name from host", TLSOptions{CAFile: ca.file}, "backend.test:8443", false, "", "^secure backend.test$"},
		{"unknown authority", TLSOptions{}, "", false, "tls handshake: tls: failed to verify certificate", ""},
		{"wrong name", TLSOptions{CAFile: ca.file, ServerName: "other.test"}, "", false, "tls handshake: tls: failed to verify certificate", ""},
		{"skip verify", TLSOptions{SkipVerify: true}, "", false, "", ""},
		{"client certificate", TLSOptions{CAFile: ca.file, CertFile: clientCertFile, KeyFile: clientKeyFile}, "", true, "", ""},
		{"no client certificate", TLSOptions{CAFile: ca.file}, "", true, "read response: ", ""},
		{"client certificate of a stranger", TLSOptions{CAFile: ca.file, CertFile: strangerCertFile, KeyFile: strangerKeyFile}, "", true, "read response: ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := open
			if tt.mtls {
				addr = mutual
			}
			d := Definition{Kind: KindHTTPS, Target: addr, Timeout: 5 * time.Second,
				HTTP: HTTPCheck{Host: tt.host, Regex: "^secure", TLS: tt.tls}}
			if tt.body != "" {
				d.HTTP.Regex = tt.body
			}
			out := Probe(context.Background(), d)
			switch {
			case tt.err == "" && out.Err != nil:
				t.Fatalf("probe: %v", out.Err)
			case tt.err != "" && (out.Err == nil || !strings.HasPrefix(out.Err.Error(), tt.err)):
				t.Fatalf("probe: %v, want %q", out.Err, tt.err)
			}
		})
	}

	// A scheduled check resumes its TLS session on later probes.
	s, err := prepare(Definition{Kind: KindHTTPS, Target: open, Timeout: 5 * time.Second,
		HTTP: HTTPCheck{TLS: TLSOptions{CAFile: ca.file, ServerName: "backend.test"}}})
	if err != nil {
		t.Fatal(err)
	}
	before := resumed.Load()
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out := s.probe(ctx)
		cancel()
		if out.Err != nil {
			t.Fatal(out.Err)
		}
	}
	if n := resumed.Load() - before; n != 2 {
		t.Errorf("%d of 3 probes resumed their session, want 2", n)
	}
}
