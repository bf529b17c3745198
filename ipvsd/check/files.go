package check

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
)

// fileCache reads each file that definitions name once per Set, however
// many definitions name it: a thousand HTTPS checks with one CA file
// parse it once.
type fileCache struct {
	pools map[string]poolOrErr
	pairs map[[2]string]pairOrErr
}

type poolOrErr struct {
	pool *x509.CertPool
	err  error
}

type pairOrErr struct {
	cert tls.Certificate
	err  error
}

// newFileCache returns an empty fileCache.
func newFileCache() *fileCache {
	return &fileCache{pools: map[string]poolOrErr{}, pairs: map[[2]string]pairOrErr{}}
}

// certPool returns the certificates of the PEM file path as a pool.
func (f *fileCache) certPool(path string) (*x509.CertPool, error) {
	if p, ok := f.pools[path]; ok {
		return p.pool, p.err
	}
	var p poolOrErr
	pem, err := os.ReadFile(path)
	switch {
	case err != nil:
		p.err = err
	default:
		p.pool = x509.NewCertPool()
		if !p.pool.AppendCertsFromPEM(pem) {
			p.pool, p.err = nil, errors.New("holds no PEM certificate")
		}
	}
	f.pools[path] = p
	return p.pool, p.err
}

// keyPair returns the certificate and key of the PEM files cert and key.
func (f *fileCache) keyPair(cert, key string) (tls.Certificate, error) {
	k := [2]string{cert, key}
	if p, ok := f.pairs[k]; ok {
		return p.cert, p.err
	}
	var p pairOrErr
	p.cert, p.err = tls.LoadX509KeyPair(cert, key)
	f.pairs[k] = p
	return p.cert, p.err
}
