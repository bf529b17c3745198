package fleet

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// reconnectMax is the longest wait between two attempts to reach etcd.
const reconnectMax = 5 * time.Second

// Connection is how to reach etcd: its endpoints, and TLS as etcd and
// etcdctl take it (a CA file, and a client certificate and key).
type Connection struct {
	// Endpoints are etcd's client URLs, such as https://10.0.0.1:2379.
	Endpoints []string
	// CAFile verifies etcd's certificate (etcdctl's --cacert); CertFile
	// and KeyFile are the client's certificate (--cert, --key), for an
	// etcd started with --client-cert-auth.
	CAFile, CertFile, KeyFile string
	// DialTimeout bounds each attempt to connect; default 5s.
	DialTimeout time.Duration
}

// Client returns an etcd client of c. It does not wait for etcd to
// answer: requests do, each bounded by its context.
func (c Connection) Client() (*clientv3.Client, error) {
	var eps []string
	for _, e := range c.Endpoints {
		for _, p := range strings.Split(e, ",") {
			if p = strings.TrimSpace(p); p != "" {
				eps = append(eps, p)
			}
		}
	}
	if len(eps) == 0 {
		return nil, errors.New("etcd: no endpoints")
	}
	var tlsConfig *tls.Config
	if c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" {
		if (c.CertFile == "") != (c.KeyFile == "") {
			return nil, errors.New("etcd: a client certificate needs both --etcd.cert and --etcd.key")
		}
		info := transport.TLSInfo{CertFile: c.CertFile, KeyFile: c.KeyFile, TrustedCAFile: c.CAFile}
		var err error
		if tlsConfig, err = info.ClientConfig(); err != nil {
			return nil, fmt.Errorf("etcd TLS: %w", err)
		}
	}
	dial := c.DialTimeout
	if dial <= 0 {
		dial = 5 * time.Second
	}
	return clientv3.New(clientv3.Config{
		Endpoints:   eps,
		TLS:         tlsConfig,
		DialTimeout: dial,
		// A connection that stops answering (a cut link) is found dead
		// within seconds, rather than at the kernel's TCP timeout.
		DialKeepAliveTime:    5 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
		// Errors come back to the caller, who logs them as ipvsd logs.
		Logger: zap.NewNop(),
		// The default is every message to any size; a key is at most
		// MaxValue, a page of a read a few hundred of them.
		MaxCallRecvMsgSize: 64 << 20,
		// gRPC waits up to two minutes between attempts to connect once
		// many have failed: a director cut off for a few minutes would
		// stay behind that long after etcd is back. Attempts at most
		// reconnectMax apart, each bounded as the first is.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: time.Second, Multiplier: 1.6, Jitter: 0.2, MaxDelay: reconnectMax},
			MinConnectTimeout: dial,
		})},
	})
}
