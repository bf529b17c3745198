//go:build integration && linux

package ipvs_test

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ipvs-go/ipvs"
)

// ctLab is the setting of the conntrack tests: a director namespace
// that holds the virtual address 10.99.1.1 and masquerades for IPVS, a
// client namespace (10.99.0.2), and two real servers (A 10.97.0.2, B
// 10.96.0.2) in namespaces of their own, each over a veth pair, routing
// their replies through the director. The director tracks connections,
// as a kube-proxy node does: netfilter tracks none in a namespace until
// a rule needs it (see TestKernelConntrackNeedsARule), so it has one,
// which matches but changes nothing.
type ctLab struct {
	t      *testing.T
	dir    *netNS
	client *netNS
	rs     [2]*netNS
	real   [2]netip.Addr
	c      *ipvs.Client
	ctx    context.Context
}

var ctVIP = netip.MustParseAddr("10.99.1.1")

// ctTrackRule makes a namespace track connections, and does nothing else.
const ctTrackRule = "iptables -A INPUT -m conntrack --ctstate INVALID -j ACCEPT"

func newCTLab(t *testing.T) *ctLab { return newCTLabWith(t, true) }

// newCTLabWith makes the lab, with the director's rule that makes it
// track connections or without.
func newCTLabWith(t *testing.T, track bool) *ctLab {
	dir, c := newClient(t)
	lab := &ctLab{t: t, dir: dir, client: dir.clientNS(), c: c, ctx: ctxT(t)}
	for i, net := range []string{"10.97", "10.96"} {
		rs, err := dir.ClientOn(netip.MustParsePrefix(net + ".0.0/16"))
		if err != nil {
			t.Fatalf("real server namespace: %v", err)
		}
		t.Cleanup(func() { _ = rs.Close() })
		lab.rs[i] = &netNS{t, rs}
		lab.rs[i].sh("ip route add default via " + net + ".0.1")
		lab.real[i] = netip.MustParseAddr(net + ".0.2")
	}
	dir.sh("echo 1 > /proc/sys/net/ipv4/ip_forward")
	if track {
		dir.sh(ctTrackRule)
	}
	return lab
}

// serve creates svc in the director with A and B as masquerading real
// servers of weight 1.
func (lab *ctLab) serve(svc ipvs.Service) {
	lab.t.Helper()
	must(lab.t, lab.c.CreateService(lab.ctx, svc))
	for _, a := range lab.real {
		must(lab.t, lab.c.CreateDestination(lab.ctx, svc, ipvs.Destination{Address: a, Forward: ipvs.ForwardMasquerade, Weight: 1}))
	}
}

// arrival is a message a real server received: the sequence number the
// client wrote in it, and when.
type arrival struct {
	seq int
	at  time.Time
}

// sink records what each real server receives.
type sink struct {
	mu  sync.Mutex
	got [2][]arrival
}

func (s *sink) add(i int, payload []byte) {
	seq, err := strconv.Atoi(strings.TrimPrefix(string(payload), "seq "))
	if err != nil {
		return
	}
	s.mu.Lock()
	s.got[i] = append(s.got[i], arrival{seq, time.Now()})
	s.mu.Unlock()
}

// where returns the server (0 or 1) that received seq, or -1.
func (s *sink) where(seq int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.got {
		for _, a := range s.got[i] {
			if a.seq == seq {
				return i
			}
		}
	}
	return -1
}

// first returns the lowest sequence number from seq on that server i
// received, or -1.
func (s *sink) first(i, seq int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	low := -1
	for _, a := range s.got[i] {
		if a.seq >= seq && (low < 0 || a.seq < low) {
			low = a.seq
		}
	}
	return low
}

// count returns how many messages from seq on server i received.
func (s *sink) count(i, from int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, a := range s.got[i] {
		if a.seq >= from {
			n++
		}
	}
	return n
}

// listen starts a server of the protocol on port in each real server,
// recording into s; UDP and SCTP echo what they receive.
func (lab *ctLab) listen(proto ipvs.Protocol, port int, s *sink) {
	lab.t.Helper()
	for i, rs := range lab.rs {
		switch proto {
		case ipvs.ProtocolUDP:
			var pc net.PacketConn
			must(lab.t, rs.in(func() (err error) { pc, err = net.ListenPacket("udp4", fmt.Sprintf(":%d", port)); return err }))
			lab.t.Cleanup(func() { pc.Close() })
			go func() {
				b := make([]byte, 1500)
				for {
					n, from, err := pc.ReadFrom(b)
					if err != nil {
						return
					}
					s.add(i, b[:n])
					_, _ = pc.WriteTo(b[:n], from)
				}
			}()
		case ipvs.ProtocolTCP:
			var l net.Listener
			must(lab.t, rs.in(func() (err error) { l, err = net.Listen("tcp4", fmt.Sprintf(":%d", port)); return err }))
			lab.t.Cleanup(func() { l.Close() })
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						b := make([]byte, 1500)
						for {
							n, err := c.Read(b)
							if err != nil {
								return
							}
							s.add(i, b[:n])
						}
					}()
				}
			}()
		case ipvs.ProtocolSCTP:
			var fd int
			must(lab.t, rs.in(func() (err error) {
				fd, err = sctpSocket(netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(port)))
				if err == nil {
					err = unix.Listen(fd, 16)
				}
				return err
			}))
			stop := make(chan struct{})
			done := make(chan struct{})
			lab.t.Cleanup(func() { close(stop); <-done; unix.Close(fd) })
			go func() {
				defer close(done)
				b := make([]byte, 1500)
				for {
					select {
					case <-stop:
						return
					default:
					}
					n, from, err := unix.Recvfrom(fd, b, 0)
					if err != nil {
						continue // the receive timeout, to look at stop
					}
					s.add(i, b[:n])
					_ = unix.Sendto(fd, b[:n], unix.MSG_DONTWAIT, from)
				}
			}()
		}
	}
}

// sctpSocket returns a one-to-many SCTP socket bound to addr, whose
// reads time out every 100 ms.
func sctpSocket(addr netip.AddrPort) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, unix.IPPROTO_SCTP)
	if err != nil {
		return -1, fmt.Errorf("sctp socket: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100_000})
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: addr.Addr().As4(), Port: int(addr.Port())}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("sctp bind %s: %w", addr, err)
	}
	return fd, nil
}

// flowClient sends numbered messages from one fixed source port of the
// client namespace to a virtual service, as a DNS resolver, a syslog
// forwarder or a game client does: UDP datagrams and SCTP messages on
// one socket; for TCP, each message on a new connection from the same
// port, the previous one reset.
type flowClient struct {
	t     *testing.T
	proto ipvs.Protocol
	to    netip.AddrPort
	local netip.AddrPort
	ns    *netNS
	udp   *net.UDPConn
	sctp  int
	tcp   net.Conn
}

func (lab *ctLab) flowClient(proto ipvs.Protocol, to netip.AddrPort, port uint16) *flowClient {
	lab.t.Helper()
	fc := &flowClient{t: lab.t, proto: proto, to: to, local: netip.AddrPortFrom(netip.MustParseAddr("10.99.0.2"), port), ns: lab.client, sctp: -1}
	switch proto {
	case ipvs.ProtocolUDP:
		must(lab.t, lab.client.in(func() (err error) {
			fc.udp, err = net.DialUDP("udp4", net.UDPAddrFromAddrPort(fc.local), net.UDPAddrFromAddrPort(to))
			return err
		}))
	case ipvs.ProtocolSCTP:
		must(lab.t, lab.client.in(func() (err error) { fc.sctp, err = sctpSocket(fc.local); return err }))
	}
	lab.t.Cleanup(fc.close)
	return fc
}

func (fc *flowClient) close() {
	if fc.udp != nil {
		fc.udp.Close()
	}
	if fc.sctp >= 0 {
		unix.Close(fc.sctp)
		fc.sctp = -1
	}
	fc.resetTCP()
}

// resetTCP ends the TCP connection with a RST, which frees the port at
// once, where a FIN would hold it in TIME_WAIT.
func (fc *flowClient) resetTCP() {
	if fc.tcp != nil {
		_ = fc.tcp.(*net.TCPConn).SetLinger(0)
		fc.tcp.Close()
		fc.tcp = nil
	}
}

// send sends message seq; a send that fails (a TCP connect that times
// out, a full SCTP queue) is a message lost, as the network's are.
func (fc *flowClient) send(seq int) {
	msg := []byte("seq " + strconv.Itoa(seq))
	switch fc.proto {
	case ipvs.ProtocolUDP:
		_, _ = fc.udp.Write(msg)
	case ipvs.ProtocolSCTP:
		sa := &unix.SockaddrInet4{Addr: fc.to.Addr().As4(), Port: int(fc.to.Port())}
		_ = unix.Sendto(fc.sctp, msg, unix.MSG_DONTWAIT, sa)
	case ipvs.ProtocolTCP:
		fc.resetTCP()
		_ = fc.ns.in(func() error {
			d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(fc.local), Timeout: 150 * time.Millisecond,
				Control: func(_, _ string, rc syscall.RawConn) error {
					return rc.Control(func(fd uintptr) { _ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1) })
				}}
			c, err := d.Dial("tcp4", fc.to.String())
			if err != nil {
				return err
			}
			fc.tcp = c
			_, err = c.Write(msg)
			return err
		})
	}
}

// entries summarizes the IPVS and conntrack entries of the client's
// flow, as ipvsadm -Lnc and conntrack -L list them: for each, its state
// and the real server it goes to ("old", "new" the other one), or
// "none".
func (lab *ctLab) entries(port uint16, old int) (ipvsSummary, ctSummary string) {
	lab.t.Helper()
	name := func(addr string) string {
		switch addr {
		case lab.real[old].String():
			return "old"
		case lab.real[1-old].String():
			return "new"
		}
		return ""
	}
	client := fmt.Sprintf("10.99.0.2:%d", port)
	var ipvsRows []string
	for _, l := range strings.Split(lab.dir.sh("ipvsadm -Lnc"), "\n") {
		f := strings.Fields(l)
		// pro expire state source virtual destination
		if len(f) == 6 && f[3] == client {
			ipvsRows = append(ipvsRows, f[2]+"→"+cmp.Or(name(strings.Split(f[5], ":")[0]), f[5]))
		}
	}
	var ctRows []string
	srcRe := regexp.MustCompile(`src=(\S+)`)
	for _, l := range strings.Split(lab.dir.sh("conntrack -L 2>/dev/null || true"), "\n") {
		if !strings.Contains(l, fmt.Sprintf("sport=%d ", port)) {
			continue
		}
		srcs := srcRe.FindAllStringSubmatch(l, -1)
		if len(srcs) < 2 {
			continue
		}
		state := ""
		if f := strings.Fields(l); len(f) > 3 && f[0] == "tcp" {
			state = f[3] + " "
		}
		// Only the flow's entries to a real server count: a flushed SCTP
		// association's next chunk may make one of the director's own.
		if n := name(srcs[1][1]); n != "" {
			ctRows = append(ctRows, state+"reply "+n)
		}
	}
	return summary(ipvsRows), summary(ctRows)
}

func summary(rows []string) string {
	if len(rows) == 0 {
		return "none"
	}
	slices.Sort(rows)
	return strings.Join(slices.Compact(rows), ",")
}
