//go:build linux

package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ipvs-go/ipvs/internal/netns"
)

// The keepalived suite runs keepalived 2.2.7's checker and ipvsd, one
// after the other, on the same configuration: services virtual servers
// of dests real servers each, with an HTTP check every second. The real
// servers are HTTP servers in dests backend namespaces, each on
// ksPorts ports, so that each endpoint serves services/ksPorts virtual
// servers with the same check: ipvsd probes it once a second, keepalived
// once per virtual server. Each daemon runs in a director namespace of
// its own, linked to every backend, and is measured for:
//   - steady: the CPU time of its processes and the probes the backends
//     received over a window, and its processes' peak RSS;
//   - failure: from an endpoint's listener closing to the kernel's
//     change of a virtual server that uses it;
//   - reload: from SIGHUP with one real server's weight changed to the
//     kernel's change.
//
// ipvsd's configuration is keepalived's, imported by ipvsd
// import-keepalived, with ipvsd's default sync interval.
func init() {
	registerSuite("keepalived", keepalivedSuite)
	suiteTitles["keepalived"] = "ipvsd against keepalived 2.2.7: the same configuration, checks every second against real backends"
	suiteTables["keepalived"] = keepalivedReport
	moreTargets = append(moreTargets, keepalivedTargets)
}

const (
	ksPorts    = 10               // ports per backend
	ksWindow   = 30 * time.Second // the steady window
	ksSettle   = 10 * time.Second // after the table is complete, before the window
	ksSamples  = 3                // failures and reloads measured
	ksBasePort = 8000
)

func keepalivedSuite(services, dests, rep int) error {
	// As systemd gives a service (LimitNOFILE's default hard limit):
	// keepalived raises its own to what its checkers need, ipvsd has Go
	// raise it to the hard limit.
	lim := syscall.Rlimit{Cur: 1 << 19, Max: 1 << 19}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("open files limit: %w", err)
	}
	backends, err := ksBackends(dests)
	if err != nil {
		return err
	}
	defer func() {
		for _, b := range backends {
			b.close()
		}
	}()
	// A daemon that fails its run does not keep the other from its own:
	// what one measured is printed, and the suite fails at the end.
	var errs []error
	for k, daemon := range []string{"keepalived", "ipvsd"} {
		d, err := ksDirector(k+1, backends)
		if err != nil {
			return err
		}
		err = ksMeasure(daemon, d, backends, services, dests, rep)
		d.ns.Close()
		os.RemoveAll(d.dir)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", daemon, err))
		}
	}
	return errors.Join(errs...)
}

// ksBackend is a backend namespace with an HTTP server on each of its
// ports; it counts the requests it answers by their source.
type ksBackend struct {
	id   int
	ns   *netns.NS
	addr netip.Addr
	mu   sync.Mutex
	lns  map[uint16]net.Listener
	hits map[netip.Addr]int
}

func ksBackends(n int) ([]*ksBackend, error) {
	var out []*ksBackend
	for i := 1; i <= n; i++ {
		ns, err := netns.New()
		if err != nil {
			return nil, err
		}
		b := &ksBackend{id: i, ns: ns, addr: netip.AddrFrom4([4]byte{10, 96, 0, byte(i)}), lns: map[uint16]net.Listener{}, hits: map[netip.Addr]int{}}
		out = append(out, b)
		if _, err := ns.Sh(fmt.Sprintf("ip addr add %s/32 dev lo", b.addr)); err != nil {
			return nil, err
		}
		for p := range ksPorts {
			if err := b.listen(uint16(ksBasePort + p)); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func (b *ksBackend) listen(port uint16) error {
	var ln net.Listener
	if err := b.ns.Do(func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(b.addr, port).String())
		return err
	}); err != nil {
		return err
	}
	b.mu.Lock()
	b.lns[port] = ln
	b.mu.Unlock()
	go serveChecks(ln, b.count)
	return nil
}

// count counts a connection by its source.
func (b *ksBackend) count(c net.Conn) string {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		b.mu.Lock()
		b.hits[ap.Addr()]++
		b.mu.Unlock()
	}
	return httpOK
}

// stop closes the listener of port: new connections are refused.
func (b *ksBackend) stop(port uint16) {
	b.mu.Lock()
	ln := b.lns[port]
	delete(b.lns, port)
	b.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
}

func (b *ksBackend) hitsFrom(a netip.Addr) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.hits[a]
}

func (b *ksBackend) close() {
	for p := range ksPorts {
		b.stop(uint16(ksBasePort + p))
	}
	b.ns.Close()
}

// ksDir is a director namespace, linked to every backend.
type ksDir struct {
	k   int
	ns  *netns.NS
	dir string
}

// source is the address director k's checks reach backend b from.
func (d *ksDir) source(b *ksBackend) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(100 + d.k), byte(b.id), 1})
}

func ksDirector(k int, backends []*ksBackend) (*ksDir, error) {
	ns, err := netns.New()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ksdir")
	if err != nil {
		return nil, err
	}
	d := &ksDir{k: k, ns: ns, dir: dir}
	for _, b := range backends {
		if err := ns.Link(fmt.Sprintf("b%d", b.id), netip.PrefixFrom(d.source(b), 24), b.ns, fmt.Sprintf("d%d", k),
			netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(100 + k), byte(b.id), 2}), 24)); err != nil {
			return nil, err
		}
		if _, err := ns.Sh(fmt.Sprintf("ip route add %s/32 via 10.%d.%d.2", b.addr, 100+k, b.id)); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// ksConf is the keepalived configuration, with weight w for the first
// real server of the first virtual server.
func ksConf(services, dests int, w int) string {
	var b strings.Builder
	for i := range services {
		fmt.Fprintf(&b, "virtual_server %s 80 {\n delay_loop 1\n lb_algo wlc\n lb_kind NAT\n protocol TCP\n", svcAddr(i))
		for j := range dests {
			weight := 1
			if i == 0 && j == 0 {
				weight = w
			}
			fmt.Fprintf(&b, " real_server 10.96.0.%d %d {\n  weight %d\n  HTTP_GET {\n   url {\n    path /health\n   }\n   connect_timeout 1\n   retry 0\n  }\n }\n",
				j+1, ksBasePort+i%ksPorts, weight)
		}
		b.WriteString("}\n")
	}
	return b.String()
}
