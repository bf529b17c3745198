//go:build integration && linux

package keepalived_test

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs/internal/netns"
)

// The kernel tests run keepalived 2.2.7 (which vm/run.sh puts in the
// guest) and ipvsd, each as a director in a network namespace of its
// own, in front of the same backends: HTTP servers, each in a namespace
// of its own, that every director reaches over a veth pair of its own.
//
//	client k ── director k ── backend i      (k = 1, 2; i = 1..n)
//	10.9k.0.2   10.9k.0.1
//	            10.10k.i.1 ── 10.10k.i.2, and 10.96.0.i on its lo
//
// A backend's address, 10.96.0.i, is the same for every director, so
// that their tables compare line for line; it answers each director's
// checks and clients by the link they came over.

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "the integration tests need root and ip_vs: run them with make integration")
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// vip is the virtual address every director serves.
const vip = "10.99.1.1"

// lab is a set of backends, and the directors in front of them.
type lab struct {
	t        *testing.T
	backends []*backend
	nextDir  int
}

// backend is an HTTP server on port 80 of 10.96.0.i, in a namespace of
// its own. It counts the requests it answers by their source address.
type backend struct {
	t    *testing.T
	id   int
	ns   *netns.NS
	addr netip.Addr

	mu       sync.Mutex
	srv      *http.Server
	requests map[netip.Addr]int
}

func newLab(t *testing.T, n int) *lab {
	t.Helper()
	l := &lab{t: t}
	for i := 1; i <= n; i++ {
		ns, err := netns.New()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ns.Close() })
		b := &backend{t: t, id: i, ns: ns, addr: netip.AddrFrom4([4]byte{10, 96, 0, byte(i)}), requests: map[netip.Addr]int{}}
		if out, err := ns.Sh(fmt.Sprintf("ip addr add %s/32 dev lo", b.addr)); err != nil {
			t.Fatalf("backend %d: %v: %s", i, err, out)
		}
		b.up()
		t.Cleanup(b.down)
		l.backends = append(l.backends, b)
	}
	return l
}

// up starts the backend's server, if it is not running.
func (b *backend) up() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		return
	}
	var ln net.Listener
	if err := b.ns.Do(func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(b.addr, 80).String())
		return err
	}); err != nil {
		b.t.Fatalf("backend %d: %v", b.id, err)
	}
	b.srv = &http.Server{Handler: http.HandlerFunc(b.serve), ReadHeaderTimeout: 5 * time.Second}
	go func(srv *http.Server) { _ = srv.Serve(ln) }(b.srv)
}

// down stops the backend's server: new connections are refused, and
// those open are closed.
func (b *backend) down() {
	b.mu.Lock()
	srv := b.srv
	b.srv = nil
	b.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

func (b *backend) serve(w http.ResponseWriter, r *http.Request) {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		b.mu.Lock()
		b.requests[ap.Addr().Unmap()]++
		b.mu.Unlock()
	}
	fmt.Fprintf(w, "backend %d\n", b.id)
}

// requestsFrom returns how many requests came from addr.
func (b *backend) requestsFrom(addr netip.Addr) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.requests[addr]
}

// waitRequests waits until n requests have come from addr, and fails
// the test after within.
func (b *backend) waitRequests(addr netip.Addr, n int, within time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(within)
	for b.requestsFrom(addr) < n {
		if time.Now().After(deadline) {
			b.t.Fatalf("backend %d: %d requests from %s in %s, want %d", b.id, b.requestsFrom(addr), addr, within, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// director is a namespace in front of every backend, with a client of
// its own; a keepalived or an ipvsd runs in it.
type director struct {
	t      *testing.T
	k      int
	ns     *netns.NS
	client *netns.NS
	dir    string // where its daemon's files go
	lab    *lab
	daemon string // the name of the daemon it runs
}

// director makes the next director: its namespace, linked to every
// backend and to a client, serving vip.
func (l *lab) director() *director {
	t := l.t
	t.Helper()
	l.nextDir++
	k := l.nextDir
	d := &director{t: t, k: k, dir: t.TempDir(), lab: l}
	var err error
	if d.ns, err = netns.New(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.ns.Close() })
	if d.client, err = netns.New(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.client.Close() })
	p := func(s string) netip.Prefix { return netip.MustParsePrefix(s) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(d.ns.Link("c0", p(fmt.Sprintf("10.%d.0.1/24", 90+k)), d.client, "d0", p(fmt.Sprintf("10.%d.0.2/24", 90+k))))
	must(sh(d.client, fmt.Sprintf("ip route add 10.99.0.0/16 via 10.%d.0.1", 90+k)))
	must(sh(d.ns, fmt.Sprintf("ip addr add %s/32 dev lo && echo 1 > /proc/sys/net/ipv4/ip_forward", vip)))
	for _, b := range l.backends {
		must(d.ns.Link(fmt.Sprintf("b%d", b.id), p(fmt.Sprintf("10.%d.%d.1/24", 100+k, b.id)),
			b.ns, fmt.Sprintf("d%d", k), p(fmt.Sprintf("10.%d.%d.2/24", 100+k, b.id))))
		must(sh(d.ns, fmt.Sprintf("ip route add %s/32 via 10.%d.%d.2", b.addr, 100+k, b.id)))
		must(sh(b.ns, fmt.Sprintf("ip route add 10.%d.0.0/24 via 10.%d.%d.1", 90+k, 100+k, b.id)))
	}
	return d
}

// checkSource is the address director k's checks reach backend i from.
func (d *director) checkSource(b *backend) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(100 + d.k), byte(b.id), 1})
}

// clientAddr is the address of director k's client.
func (d *director) clientAddr() netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(90 + d.k), 0, 2})
}

func sh(ns *netns.NS, cmd string) error {
	if out, err := ns.Sh(cmd); err != nil {
		return fmt.Errorf("%s: %v: %s", cmd, err, out)
	}
	return nil
}

// table returns the director's IPVS table as ipvsadm -Sn prints it,
// with its services and each service's real servers sorted, so that two
// tables compare as text.
func (d *director) table() string {
	d.t.Helper()
	out, err := d.ns.Sh("ipvsadm -Sn")
	if err != nil {
		d.t.Fatalf("ipvsadm -Sn: %v: %s", err, out)
	}
	return normalize(out)
}

// normalize sorts the services of ipvsadm -Sn's output, and the real
// servers of each.
func normalize(out string) string {
	var services [][]string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		switch {
		case strings.HasPrefix(line, "-A "):
			services = append(services, []string{line})
		case strings.HasPrefix(line, "-a ") && len(services) > 0:
			services[len(services)-1] = append(services[len(services)-1], line)
		}
	}
	var b strings.Builder
	slices.SortFunc(services, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	for _, s := range services {
		slices.Sort(s[1:])
		for _, line := range s {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// waitTable waits until the director's table is want, and returns how
// long it took; it fails the test after within.
func (d *director) waitTable(want string, within time.Duration) time.Duration {
	d.t.Helper()
	start := time.Now()
	for {
		got := d.table()
		if got == want {
			return time.Since(start)
		}
		if time.Since(start) > within {
			d.t.Fatalf("director %d: the table is not as wanted after %s:\n%s\nwant:\n%s", d.k, within, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
