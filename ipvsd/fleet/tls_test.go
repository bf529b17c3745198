package fleet

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs/ipvsd/fleet/etcdtest"
)

// pki is a CA and the files of certificates it signed.
type pki struct {
	t    *testing.T
	dir  string
	ca   *x509.Certificate
	key  *ecdsa.PrivateKey
	next int64
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{t: t, dir: t.TempDir(), next: 2}
	var err error
	if p.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	if p.ca, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	p.write("ca.pem", "CERTIFICATE", der)
	return p
}

func (p *pki) write(name, kind string, der []byte) string {
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		p.t.Fatal(err)
	}
	return path
}

// issue returns the files of a certificate for name (a server's, on
// 127.0.0.1, or a client's) and its key.
func (p *pki) issue(name string, server bool) (cert, key string) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		p.t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(p.next), Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	p.next++
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &k.PublicKey, p.key)
	if err != nil {
		p.t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		p.t.Fatal(err)
	}
	return p.write(name+".pem", "CERTIFICATE", der), p.write(name+"-key.pem", "EC PRIVATE KEY", kder)
}

// TestTLSClientCertificates: an etcd that asks for client certificates
// takes a director's signed by its CA, and refuses one without.
func TestTLSClientCertificates(t *testing.T) {
	if _, err := etcdtest.Binary(); err != nil {
		etcdtest.New(t) // skips, or fails under CI
	}
	p := newPKI(t)
	serverCert, serverKey := p.issue("etcd", true)
	clientCert, clientKey := p.issue("lb1", false)
	ca := filepath.Join(p.dir, "ca.pem")
	pair, err := tls.LoadX509KeyPair(clientCert, clientKey)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(p.ca)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, err := etcdtest.Start(ctx, etcdtest.Options{Dir: t.TempDir(), TLS: &etcdtest.TLSFiles{Cert: serverCert, Key: serverKey, CA: ca},
		ClientTLS: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Kill)
	l := testLayout(t)
	good, err := Connection{Endpoints: []string{e.Endpoint()}, CAFile: ca, CertFile: clientCert, KeyFile: clientKey}.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	w := &Writer{Client: good, Layout: l}
	apply(t, w, file(vsYAML("web", 80, "")))
	if _, err := ReadFleet(ctx, good, l); err != nil {
		t.Errorf("with a client certificate: %v", err)
	}
	bad, err := Connection{Endpoints: []string{e.Endpoint()}, CAFile: ca}.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	short, cancel2 := context.WithTimeout(ctx, 3*time.Second)
	defer cancel2()
	if _, err := bad.Get(short, "/x"); err == nil {
		t.Error("etcd answered a client without a certificate")
	}
	if _, err := (Connection{Endpoints: []string{e.Endpoint()}, CertFile: clientCert}).Client(); err == nil {
		t.Error("a certificate without its key was taken")
	}
}
