//go:build integration && linux

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/internal/netns"
	"github.com/ipvs-go/ipvs/ipvsd/fleet"
	"github.com/ipvs-go/ipvs/ipvsd/fleet/etcdtest"
)

// The fleet's lab: etcd in a namespace of its own (10.202.0.1 on its
// lo), the backends in another (10.201.0.N:8080 on its lo), and three
// directors, each in its namespace with two links: one to etcd's
// namespace (10.200.N.0/24, ctlN there, etcd0 in the director's) and one
// to the backends' (10.210.N.0/24, dataN there, be0 in the director's),
// so that a director can be cut off from etcd alone. Each runs ipvsd (this
// binary again) with --etcd.endpoints; the test writes the fleet's
// configuration from etcd's namespace and reads the three kernels'
// tables. A client namespace behind d3 (10.99.0.2, the virtual addresses
// on d3's lo) sends requests through d3's kernel, to see it serve while
// it is cut off; the backends route the client's replies back through
// d3.

const fleetEtcd = "10.202.0.1"

type fleetLab struct {
	t         *testing.T
	dir       string
	etcdNS    *netns.NS
	backendNS *netns.NS
	etcd      *etcdtest.Server
	cli       *clientv3.Client
	writer    *fleet.Writer
	directors []*fleetDirector
	backends  map[int]*http.Server
	// client is d3's client namespace; web fetches through it.
	client *netns.NS
	web    *http.Client
}

type fleetDirector struct {
	name  string
	ns    *netns.NS
	table *ipvs.Client
	cmd   *exec.Cmd
	log   *os.File
	api   *http.Client
	base  string
	state string
}

func newFleetLab(t *testing.T) *fleetLab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the kernel tests need root and ip_vs: run them in the VM")
	}
	l := &fleetLab{t: t, dir: t.TempDir(), backends: map[int]*http.Server{}}
	l.etcdNS = newNS(t)
	l.backendNS = newNS(t)
	mustSh(t, l.etcdNS, "ip addr add "+fleetEtcd+"/32 dev lo")
	var err error
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l.etcd, err = etcdtest.Start(ctx, etcdtest.Options{Dir: filepath.Join(l.dir, "etcd"), Host: fleetEtcd, ClientPort: 2379, PeerPort: 2380,
		Start: func(cmd *exec.Cmd) error { return l.etcdNS.Do(cmd.Start) }, Dial: l.dialEtcdNS})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		l.etcd.Kill()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(l.dir, "etcd", "etcd.log"))
			t.Logf("etcd's log (end):\n%s", b[max(0, len(b)-6000):])
		}
	})
	l.cli = l.etcdClient()
	l.writer = l.newWriter(l.cli, "test")
	for n := 1; n <= 3; n++ {
		l.directors = append(l.directors, l.newDirector(n))
	}
	d3 := l.directors[2]
	if l.client, err = d3.ns.Client(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.client.Close() })
	mustSh(t, d3.ns, "echo 1 > /proc/sys/net/ipv4/ip_forward")
	mustSh(t, l.backendNS, "ip route add 10.99.0.0/16 via 10.210.3.2")
	l.web = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := l.client.Do(func() (err error) { c, err = (&net.Dialer{}).DialContext(ctx, network, addr); return err })
			return c, err
		}}}
	return l
}

// etcdClient returns a client of etcd from etcd's namespace, closed
// when the test ends.
func (l *fleetLab) etcdClient() *clientv3.Client {
	l.t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{l.etcd.Endpoint()}, Logger: zap.NewNop(), DialTimeout: 10 * time.Second,
		DialOptions: []grpc.DialOption{grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return l.dialEtcdNS(ctx, "tcp", addr)
		})}})
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { cli.Close() })
	return cli
}

// newWriter returns a writer of the fleet's configuration, as the
// operator by runs `ipvsd fleet apply`.
func (l *fleetLab) newWriter(cli *clientv3.Client, by string) *fleet.Writer {
	layout, _ := fleet.NewLayout(fleet.DefaultPrefix)
	return &fleet.Writer{Client: cli, Layout: layout, By: by}
}

// serves fetches n times (each over a connection of its own) from
// 10.99.1.1:port through d3's kernel, and fails the test unless every
// request is answered by a backend.
func (l *fleetLab) serves(what string, port, n int) {
	l.t.Helper()
	for i := range n {
		resp, err := l.web.Get(fmt.Sprintf("http://10.99.1.1:%d/", port))
		if err != nil {
			l.t.Fatalf("%s: request %d of %d through d3: %v", what, i+1, n, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || string(b) != "ok\n" {
			l.t.Fatalf("%s: request %d of %d through d3: %s %q %v", what, i+1, n, resp.Status, b, err)
		}
	}
}

func newNS(t *testing.T) *netns.NS {
	t.Helper()
	ns, err := netns.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ns.Close() })
	return ns
}

func mustSh(t *testing.T, ns *netns.NS, script string) string {
	t.Helper()
	out, err := ns.Sh(script)
	if err != nil {
		t.Fatalf("%s: %v: %s", script, err, out)
	}
	return out
}

// dialEtcdNS dials from etcd's namespace, where the test's client and
// writers are.
func (l *fleetLab) dialEtcdNS(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := l.etcdNS.Do(func() (err error) { c, err = (&net.Dialer{}).DialContext(ctx, network, addr); return err })
	return c, err
}

// wire links a (the hub, .1, its end named link) and b (.2, its end
// named peer) with a veth pair on the /24 subnet; b routes route through
// a.
func wire(t *testing.T, a, b *netns.NS, link, peer, subnet, route string) {
	t.Helper()
	if err := a.Link(link, netip.MustParsePrefix(subnet+".1/24"), b, peer, netip.MustParsePrefix(subnet+".2/24")); err != nil {
		t.Fatal(err)
	}
	mustSh(t, b, fmt.Sprintf("ip route add %s via %s.1", route, subnet))
}

// newDirector makes director n's namespace, wired to etcd and to the
// backends, and starts ipvsd there.
