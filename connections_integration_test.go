//go:build integration && linux

package ipvs_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ipvs-go/ipvs"
)

// connLab is a director namespace with a client namespace over veth, in
// IPv4 and IPv6 (see clientNS), and services whose destinations are the
// director itself, so that real TCP and UDP connections complete.
type connLab struct {
	ns, client *netNS
	c          *ipvs.Client
	ctx        context.Context
}

var (
	labTCP  = ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.99.1.1"), Port: 80, Scheduler: "rr"}
	labUDP  = ipvs.Service{Protocol: ipvs.ProtocolUDP, Address: netip.MustParseAddr("10.99.1.1"), Port: 53, Scheduler: "rr"}
	labTCP6 = ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("fd00:99:1::1"), Port: 80, Scheduler: "rr"}
	labHere = netip.MustParseAddr("10.99.0.1")
)

func newConnLab(t *testing.T) *connLab {
	ns, c := newClient(t)
	client := ns.clientNS()
	// IPv6 without duplicate address detection, which would hold the
	// addresses back for a second or more.
	for _, side := range []struct {
		ns   *netNS
		cmds string
	}{
		{ns, "ip -6 addr add fd00:99::1/64 dev dir0 && ip -6 addr add fd00:99:1::1/64 dev lo"},
		{client, "ip -6 addr add fd00:99::2/64 dev $IF && ip -6 route add fd00:99:1::/64 via fd00:99::1"},
	} {
		side.ns.sh("for f in /proc/sys/net/ipv6/conf/*/accept_dad; do echo 0 > $f; done")
		ifname := "dir0"
		if side.ns == client {
			ifname = linkOtherThanLo(t, client)
		}
		side.ns.sh("IF=" + ifname + "; " + side.cmds)
	}
	lab := &connLab{ns, client, c, ctxT(t)}
	for _, svc := range []ipvs.Service{labTCP, labUDP, labTCP6} {
		here := labHere
		if svc.Address.Is6() {
			here = netip.MustParseAddr("fd00:99::1")
		}
		lab.serve(t, svc, ipvs.Destination{Address: here, Port: svc.Port})
	}
	return lab
}

// serve creates svc with the one destination dst, of weight 1.
func (lab *connLab) serve(t *testing.T, svc ipvs.Service, dst ipvs.Destination) {
	dst.Weight = 1
	must(t, lab.c.CreateService(lab.ctx, svc))
	must(t, lab.c.CreateDestination(lab.ctx, svc, dst))
}

// settle waits for at least n entries, dumps the tables as name (see
// dumpTables) and returns the entries.
func (lab *connLab) settle(t *testing.T, name string, n int) []ipvs.Connection {
	var all []ipvs.Connection
	eventually(t, fmt.Sprintf("%d entries", n), func() bool {
		all = lab.conns(t, ipvs.ConnectionFilter{})
		return len(all) >= n
	})
	lab.dumpTables(t, name)
	return all
}

func linkOtherThanLo(t *testing.T, ns *netNS) string {
	var name string
	must(t, ns.in(func() error {
		ifs, err := net.Interfaces()
		for _, ifi := range ifs {
			if ifi.Name != "lo" {
				name = ifi.Name
			}
		}
		return err
	}))
	return name
}

// listen starts a TCP server on port in the director, which accepts and
// holds connections until the test ends.
func (lab *connLab) listen(t *testing.T, port int) {
	var l net.Listener
	must(t, lab.ns.in(func() (err error) {
		l, err = net.Listen("tcp", fmt.Sprintf(":%d", port))
		return err
	}))
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
}

// dial connects from the client namespace, with the socket's mark set
// if mark is not 0, from ns (the client's if nil).
func dial(t *testing.T, ns *netNS, network, addr string, mark int) net.Conn {
	var c net.Conn
	must(t, ns.in(func() (err error) {
		d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if mark != 0 {
				_ = rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, mark) })
			}
			return serr
		}}
		c, err = d.Dial(network, addr)
		return err
	}))
	t.Cleanup(func() { c.Close() })
	return c
}

// conns reads the table with f, failing the test on an error.
func (lab *connLab) conns(t *testing.T, f ipvs.ConnectionFilter) []ipvs.Connection {
	t.Helper()
	var out []ipvs.Connection
	for c, err := range lab.c.Connections(lab.ctx, f) {
		if err != nil {
			t.Fatalf("Connections(%+v): %v", f, err)
		}
		out = append(out, c)
	}
	return out
}

// dumpTables prints both tables raw, for testdata/connections, when
// IPVS_CONN_DUMP is set.
func (lab *connLab) dumpTables(t *testing.T, name string) {
	if os.Getenv("IPVS_CONN_DUMP") == "" {
		return
	}
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	for _, file := range []string{"ip_vs_conn", "ip_vs_conn_sync"} {
		out := lab.ns.sh("cat /proc/net/" + file)
		fmt.Printf("=== DUMP %s %s %s\n%s=== END\n", unix.ByteSliceToString(uts.Release[:]), name, file, out)
	}
}

func findConn(conns []ipvs.Connection, client netip.AddrPort) (ipvs.Connection, bool) {
	i := slices.IndexFunc(conns, func(c ipvs.Connection) bool { return c.Client == client })
	if i < 0 {
		return ipvs.Connection{}, false
	}
	return conns[i], true
}

func TestKernelConnections(t *testing.T) {
	lab := newConnLab(t)
	lab.listen(t, 80)
	open := dial(t, lab.client, "tcp", "10.99.1.1:80", 0)
	closed := dial(t, lab.client, "tcp", "10.99.1.1:80", 0)
	must(t, closed.Close())
	open6 := dial(t, lab.client, "tcp", "[fd00:99:1::1]:80", 0)
	udp := dial(t, lab.client, "udp", "10.99.1.1:53", 0)
	if _, err := udp.Write([]byte("query")); err != nil {
		t.Fatal(err)
	}
	addrPort := func(a net.Addr) netip.AddrPort { return netip.MustParseAddrPort(a.String()) }
	want := map[netip.AddrPort]ipvs.Connection{
		addrPort(open.LocalAddr()): {Protocol: ipvs.ProtocolTCP, Client: addrPort(open.LocalAddr()),
			Virtual: netip.AddrPortFrom(labTCP.Address, 80), Destination: netip.AddrPortFrom(labHere, 80), State: "ESTABLISHED"},
		addrPort(open6.LocalAddr()): {Protocol: ipvs.ProtocolTCP, Client: addrPort(open6.LocalAddr()),
			Virtual: netip.AddrPortFrom(labTCP6.Address, 80), Destination: netip.MustParseAddrPort("[fd00:99::1]:80"), State: "ESTABLISHED"},
		addrPort(udp.LocalAddr()): {Protocol: ipvs.ProtocolUDP, Client: addrPort(udp.LocalAddr()),
			Virtual: netip.AddrPortFrom(labUDP.Address, 53), Destination: netip.AddrPortFrom(labHere, 53), State: "UDP"},
	}
	closedClient := addrPort(closed.LocalAddr())
	var all []ipvs.Connection
	eventually(t, "the connections in the table", func() bool {
		all = lab.conns(t, ipvs.ConnectionFilter{})
		c, ok := findConn(all, closedClient)
		return len(all) >= 4 && ok && c.State != "ESTABLISHED"
	})
	lab.dumpTables(t, "basic")
	for client, w := range want {
		got, ok := findConn(all, client)
		if !ok {
			t.Errorf("no entry for client %v in %+v", client, all)
			continue
		}
		if got.Expires <= 0 || got.Expires > 15*time.Minute || got.Synced || got.PersistenceEngine != "" {
			t.Errorf("entry %+v: expiry, origin or engine wrong", got)
		}
		got.Expires = 0
		if got != w {
			t.Errorf("entry\n%+v, want\n%+v", got, w)
		}
	}
	if c, _ := findConn(all, closedClient); !slices.Contains([]string{"FIN_WAIT", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK"}, c.State) {
		t.Errorf("closed connection in state %q", c.State)
	}

	// Filters.
	for _, tt := range []struct {
		f    ipvs.ConnectionFilter
		want int
	}{
		{ipvs.ConnectionFilter{Service: labTCP}, 2},
		{ipvs.ConnectionFilter{Service: ipvs.Service{Protocol: ipvs.ProtocolTCP}}, 3},
		{ipvs.ConnectionFilter{Service: labUDP}, 1},
		{ipvs.ConnectionFilter{Service: ipvs.Service{Address: labTCP.Address}}, 3},
		{ipvs.ConnectionFilter{Service: ipvs.Service{Protocol: ipvs.ProtocolUDP, Address: labTCP.Address, Port: 80}}, 0},
		{ipvs.ConnectionFilter{Destination: netip.AddrPortFrom(labHere, 0)}, 3},
		{ipvs.ConnectionFilter{Destination: netip.AddrPortFrom(labHere, 53)}, 1},
		{ipvs.ConnectionFilter{Service: labTCP6, Destination: netip.MustParseAddrPort("[fd00:99::1]:80")}, 1},
	} {
		if got := lab.conns(t, tt.f); len(got) != tt.want {
			t.Errorf("filter %+v: %d entries, want %d: %+v", tt.f, len(got), tt.want, got)
		}
	}
	states, err := lab.c.ConnectionStates(lab.ctx, ipvs.ConnectionFilter{Service: ipvs.Service{Protocol: ipvs.ProtocolTCP}})
	must(t, err)
	if states["ESTABLISHED"] != 2 || len(states) != 2 {
		t.Errorf("states %v, want 2 ESTABLISHED and the closed one's", states)
	}

	// Namespace isolation: B has the same addresses and its own entry.
	labB := newConnLab(t)
	labB.listen(t, 80)
	openB := dial(t, labB.client, "tcp", "10.99.1.1:80", 0)
	clientB := addrPort(openB.LocalAddr())
	var inB []ipvs.Connection
	eventually(t, "B's entry", func() bool { inB = labB.conns(t, ipvs.ConnectionFilter{}); return len(inB) > 0 })
	if len(inB) != 1 || inB[0].Client != clientB {
		t.Errorf("B sees %+v, want only its client %v", inB, clientB)
	}
	if _, ok := findConn(lab.conns(t, ipvs.ConnectionFilter{}), clientB); ok && clientB != addrPort(open.LocalAddr()) {
		t.Errorf("A sees B's client %v", clientB)
	}
	if n := len(lab.conns(t, ipvs.ConnectionFilter{})); n != len(all) {
		t.Errorf("A has %d entries after B's connection, %d before", n, len(all))
	}
}

// TestKernelConnPersistence: templates of a persistent fwmark service and
// of a SIP one, and an IPv4 service tunnelled to an IPv6 destination.
func TestKernelConnPersistence(t *testing.T) {
	lab := newConnLab(t)

	lab.listen(t, 82)
	// Fwmark 7: marked by the socket, so only from the director itself
	// (a mark does not cross namespaces).
	fwm := ipvs.Service{Family: ipvs.FamilyIPv4, FWMark: 7, Scheduler: "rr", Flags: ipvs.FlagPersistent, Timeout: 120 * time.Second}
	lab.serve(t, fwm, ipvs.Destination{Address: labHere, Port: 82})
	dial(t, lab.ns, "tcp", "10.99.1.4:82", 7)

	sip := ipvs.Service{Protocol: ipvs.ProtocolUDP, Address: netip.MustParseAddr("10.99.1.3"), Port: 5060, Scheduler: "rr",
		PersistenceEngine: "sip", Flags: ipvs.FlagPersistent, Timeout: 60 * time.Second, Netmask: ipvs.PrefixMask(32)}
	lab.serve(t, sip, ipvs.Destination{Address: labHere, Port: 5060})
	const callID = "a84b4c76e66710@pc33.example"
	invite := "INVITE sip:bob@example SIP/2.0\r\nVia: SIP/2.0/UDP 10.99.0.2:5060\r\nFrom: <sip:alice@example>\r\n" +
		"To: <sip:bob@example>\r\nCall-ID: " + callID + "\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
	if _, err := dial(t, lab.client, "udp", "10.99.1.3:5060", 0).Write([]byte(invite)); err != nil {
		t.Fatal(err)
	}

	mixed := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.99.1.2"), Port: 81, Scheduler: "rr"}
	lab.serve(t, mixed, ipvs.Destination{Address: netip.MustParseAddr("fd00:99::3"), Port: 81, Forward: ipvs.ForwardTunnel})
	lab.client.synTo(t, "10.99.1.2:81")

	all := lab.settle(t, "persistence", 5)
	var fwmTemplate, sipTemplate, sipConn, tunnelled bool
	for _, e := range all {
		switch {
		case e.Protocol == 0:
			// A template's state is NONE until a connection it made is
			// established, then ASSURED; its port is the mark's 0.
			fwmTemplate = e.Virtual == netip.MustParseAddrPort("0.0.0.7:0") && e.Destination == netip.AddrPortFrom(labHere, 0) &&
				e.State == "ASSURED" && e.Client == netip.MustParseAddrPort("10.99.1.1:0")
		case e.Virtual.Addr() == sip.Address && e.Client.Port() == 0:
			sipTemplate = e.PersistenceEngine == "sip" && e.PEData == callID && e.State == "NONE"
		case e.Virtual.Addr() == sip.Address:
			// The engine's data is the template's only.
			sipConn = e.PersistenceEngine == "" && e.State == "UDP"
		case e.Virtual == netip.AddrPortFrom(mixed.Address, 81):
			tunnelled = e.Destination == netip.MustParseAddrPort("[fd00:99::3]:81") && e.Client.Addr() == netip.MustParseAddr("10.99.0.2")
		}
	}
	if !fwmTemplate || !sipTemplate || !sipConn || !tunnelled {
		t.Errorf("fwmark template %v, sip template %v, sip connection %v, tunnelled %v in\n%+v", fwmTemplate, sipTemplate, sipConn, tunnelled, all)
	}
	// A fwmark service selects its template and what goes to its destinations.
	got := lab.conns(t, ipvs.ConnectionFilter{Service: fwm})
	if len(got) != 2 || !slices.ContainsFunc(got, func(e ipvs.Connection) bool { return e.Protocol == 0 }) {
		t.Errorf("fwmark filter: %+v, want its template and its connection", got)
	}
	if strings.Contains(fmt.Sprint(lab.conns(t, ipvs.ConnectionFilter{Service: sip})), "0.0.0.7") {
		t.Errorf("the sip filter selected the fwmark template")
	}
}

// synTo sends a SYN to addr from the namespace, through a tunnel to no
// one: only the entry it makes matters.
func (ns *netNS) synTo(t *testing.T, addr string) {
	must(t, ns.in(func() error {
		d := net.Dialer{Timeout: 200 * time.Millisecond}
		if c, err := d.Dial("tcp", addr); err == nil {
			c.Close()
		}
		return nil
	}))
}

// TestKernelConnIPv6: an IPv6 fwmark service's template, and an IPv6
// service tunnelled to an IPv4 destination.
func TestKernelConnIPv6(t *testing.T) {
	lab := newConnLab(t)

	lab.listen(t, 83)
	fwm := ipvs.Service{Family: ipvs.FamilyIPv6, FWMark: 8, Scheduler: "rr", Flags: ipvs.FlagPersistent, Timeout: 120 * time.Second}
	here6 := netip.MustParseAddr("fd00:99::1")
	lab.serve(t, fwm, ipvs.Destination{Address: here6, Port: 83})
	dial(t, lab.ns, "tcp", "[fd00:99:1::1]:83", 8)

	mixed := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("fd00:99:1::1"), Port: 84, Scheduler: "rr"}
	lab.serve(t, mixed, ipvs.Destination{Address: netip.MustParseAddr("10.99.0.5"), Port: 84, Forward: ipvs.ForwardTunnel})
	lab.client.synTo(t, "[fd00:99:1::1]:84")

	all := lab.settle(t, "ipv6", 3)
	var template, tunnelled bool
	for _, e := range all {
		switch {
		case e.Protocol == 0:
			// The mark in the first four bytes of the address.
			template = e.Virtual == netip.MustParseAddrPort("[0:8::]:0") && e.Destination == netip.AddrPortFrom(here6, 0)
		case e.Virtual == netip.AddrPortFrom(mixed.Address, 84):
			tunnelled = e.Destination == netip.MustParseAddrPort("10.99.0.5:84") && e.Client.Addr() == netip.MustParseAddr("fd00:99::2")
		}
	}
	if !template || !tunnelled {
		t.Errorf("template %v, tunnelled %v in\n%+v", template, tunnelled, all)
	}
	if got := lab.conns(t, ipvs.ConnectionFilter{Service: fwm}); len(got) != 2 {
		t.Errorf("fwmark filter: %+v, want its template and its connection", got)
	}
}
