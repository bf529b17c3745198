//go:build integration && linux

package ipvs_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/ipvs-go/ipvs"
)

// TestKernelCaptureReplies prints the kernel's raw replies for a fixed
// configuration, one "CAPTURE dir/name hex" line per message, for make
// capture to store under testdata/replies. TestCapturedReplies, a unit
// test, decodes them on any machine. It runs only with IPVS_CAPTURE=1.
func TestKernelCaptureReplies(t *testing.T) {
	if os.Getenv("IPVS_CAPTURE") != "1" {
		t.Skip("set IPVS_CAPTURE=1 (make capture)")
	}
	ns, c := newClient(t)
	ctx := ctxT(t)
	ns.sh("ip link add sync0 type dummy && ip link set sync0 up")
	tcp, udp6, fwm, sip := fixtureServices()
	for _, s := range []ipvs.Service{tcp, udp6, fwm, sip} {
		must(t, c.CreateService(ctx, s))
	}
	for _, d := range []ipvs.Destination{
		{Address: netip.MustParseAddr("192.168.7.2"), Port: 8080, Forward: ipvs.ForwardMasquerade, Weight: 3},
		{Address: netip.MustParseAddr("192.168.7.4"), Port: 80, Forward: ipvs.ForwardTunnel, Weight: 2, TunnelType: ipvs.TunnelGUE, TunnelPort: 6080, TunnelFlags: ipvs.TunnelChecksum},
	} {
		must(t, c.CreateDestination(ctx, tcp, d))
	}
	must(t, c.CreateDestination(ctx, udp6, ipvs.Destination{Address: netip.MustParseAddr("2001:db8::2"), Port: 53,
		Forward: ipvs.ForwardDirectRoute, Weight: 100, UpperThreshold: 1000, LowerThreshold: 800}))
	must(t, c.SetTimeouts(ctx, ipvs.Timeouts{TCP: 1000 * time.Second, TCPFin: 20 * time.Second, UDP: 30 * time.Second}))
	must(t, c.StartDaemon(ctx, ipvs.Daemon{State: ipvs.DaemonMaster, Interface: "sync0", SyncID: 7, MaxLength: 1000,
		Group: netip.MustParseAddr("239.1.2.3"), Port: 12345, TTL: 2}))
	must(t, c.StartDaemon(ctx, ipvs.Daemon{State: ipvs.DaemonBackup, Interface: "sync0", SyncID: 9,
		Group: netip.MustParseAddr("ff02::81"), Port: 8849, TTL: 1}))

	rel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	var major, minor int
	fmt.Sscanf(string(rel), "%d.%d", &major, &minor)
	dir := fmt.Sprintf("linux-%d.%d", major, minor)

	var gc *genetlink.Conn
	var fam genetlink.Family
	must(t, ns.in(func() error {
		var err error
		if gc, err = genetlink.Dial(nil); err != nil {
			return err
		}
		fam, err = gc.GetFamily("IPVS")
		return err
	}))
	defer gc.Close()
	emit := func(name string, cmd uint8, flags netlink.HeaderFlags, attrs ...rawAttr) {
		ae := netlink.NewAttributeEncoder()
		for _, a := range attrs {
			a(ae)
		}
		b, err := ae.Encode()
		must(t, err)
		msgs, err := gc.Execute(genetlink.Message{Header: genetlink.Header{Command: cmd, Version: fam.Version}, Data: b}, fam.ID, netlink.Request|flags)
		must(t, err)
		for i, m := range msgs {
			raw, err := m.MarshalBinary()
			must(t, err)
			n := name
			if len(msgs) > 1 {
				n = fmt.Sprintf("%s_%d", name, i)
			}
			fmt.Printf("CAPTURE %s/%s %s\n", dir, n, strings.ToUpper(hex.EncodeToString(raw)))
		}
	}
	key4 := func(proto uint16, addr string, port uint16) rawAttr {
		return nest(1, u16Attr(1, 2), u16Attr(2, proto), bytesAttr(3, addrBytes(addr)), be16Attr(4, port))
	}
	key6 := nest(1, u16Attr(1, 10), u16Attr(2, 17), bytesAttr(3, addrBytes("2001:db8::1")), be16Attr(4, 53))
	fwmKey := nest(1, u16Attr(1, 2), u32Attr(5, 7))
	emit("daemons", 11, netlink.Dump)
	// A mixed-family destination can exist only while no daemon runs.
	must(t, c.StopDaemon(ctx, ipvs.DaemonMaster))
	must(t, c.StopDaemon(ctx, ipvs.DaemonBackup))
	must(t, c.CreateDestination(ctx, tcp, ipvs.Destination{Address: netip.MustParseAddr("2001:db8::7"), Port: 80,
		Forward: ipvs.ForwardTunnel, Weight: 1, TunnelType: ipvs.TunnelGRE}))
	emit("service_tcp4", 4, 0, key4(6, "10.0.0.1", 80))
	emit("service_udp6", 4, 0, key6)
	emit("service_fwmark4", 4, 0, fwmKey)
	emit("service_sip4", 4, 0, key4(17, "10.0.0.5", 5060))
	// Destinations of one service come newest first.
	emit("dests_tcp4", 8, netlink.Dump, key4(6, "10.0.0.1", 80))
	emit("dests_udp6", 8, netlink.Dump, key6)
	emit("info", 15, 0)
	emit("timeouts", 13, 0)
}

// request is a captured netlink request to the IPVS family.
type request struct {
	flags uint16
	cmd   uint8
	attrs []byte
}

// capture reads every netlink message of a namespace off an nlmon device.
type capture struct {
	fd     int
	family uint16
}

func startCapture(t *testing.T, ns *netNS, c *ipvs.Client) *capture {
	t.Helper()
	ns.sh("ip link add nlmon0 type nlmon && ip link set nlmon0 up")
	var fd int
	must(t, ns.in(func() error {
		ifi, err := net.InterfaceByName("nlmon0")
		if err != nil {
			return err
		}
		proto := int(htons(unix.ETH_P_ALL))
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: uint16(proto), Ifindex: ifi.Index})
	}))
	t.Cleanup(func() { _ = unix.Close(fd) })
	// The family's ID is the same in every namespace: learn it from the
	// library's own first request.
	return &capture{fd: fd}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// requests drains the capture and returns the IPVS requests in it, those
// of type family if it is known, and remembers the family otherwise from
// the first request whose genl version is 1 and type is above nlctrl's.
func (c *capture) requests() []request {
	var out []request
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(c.fd, buf, 0)
		if err != nil {
			return out
		}
		b := buf[:n]
		for len(b) >= 16 {
			l := int(binary.NativeEndian.Uint32(b))
			if l < 16 || l > len(b) {
				break
			}
			typ := binary.NativeEndian.Uint16(b[4:])
			flags := binary.NativeEndian.Uint16(b[6:])
			if flags&unix.NLM_F_REQUEST != 0 && typ > unix.GENL_ID_CTRL && l >= 20 && (c.family == 0 || typ == c.family) {
				c.family = typ
				out = append(out, request{flags: flags, cmd: b[16], attrs: bytes.Clone(b[20:l])})
			}
			b = b[min((l+3)&^3, len(b)):]
		}
	}
}

// attrNode is a decoded attribute tree, for comparing requests.
type attrNode struct {
	typ    uint16
	nested bool // NLA_F_NESTED was set
	data   []byte
	kids   []attrNode
}

// nestTypes are the attribute types that hold nests at the top level.
var nestTypes = map[uint16]bool{1: true, 2: true, 3: true}

func parseAttrs(b []byte, top bool) []attrNode {
	var out []attrNode
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b))
		raw := binary.NativeEndian.Uint16(b[2:])
		if l < 4 || l > len(b) {
			break
		}
		n := attrNode{typ: raw & 0x3fff, nested: raw&0x8000 != 0, data: b[4:l]}
		if top && nestTypes[n.typ] {
			n.kids = parseAttrs(n.data, false)
		}
		out = append(out, n)
		b = b[min((l+3)&^3, len(b)):]
	}
	return out
}

// addrTypes are the address attributes inside the SERVICE and DEST nests.
var addrTypes = map[[2]uint16]bool{{1, 3}: true, {2, 1}: true}

// diffRequests lists how ipvsadm's request differs from the library's.
// A difference in value of an attribute both send is an error, except an
// IPv4 address sent as 4 bytes by one and 16 zero-padded by the other,
// which the kernel reads alike.
func diffRequests(t *testing.T, name string, adm, lib request) []string {
	var notes []string
	if adm.cmd != lib.cmd {
		t.Errorf("%s: ipvsadm sent command %d, the library %d", name, adm.cmd, lib.cmd)
	}
	if adm.flags != lib.flags {
		notes = append(notes, fmt.Sprintf("header flags: ipvsadm %#x, library %#x", adm.flags, lib.flags))
	}
	var walk func(path string, parent uint16, a, l []attrNode)
	walk = func(path string, parent uint16, a, l []attrNode) {
		order := func(ns []attrNode) []uint16 {
			var o []uint16
			for _, n := range ns {
				o = append(o, n.typ)
			}
			return o
		}
		ao, lo := order(a), order(l)
		common := func(o, other []uint16) []uint16 {
			var c []uint16
			for _, t := range o {
				if slices.Contains(other, t) {
					c = append(c, t)
				}
			}
			return c
		}
		if !slices.Equal(common(ao, lo), common(lo, ao)) {
			notes = append(notes, fmt.Sprintf("%sattribute order: ipvsadm %v, library %v", path, ao, lo))
		}
		for _, an := range a {
			i := slices.IndexFunc(l, func(n attrNode) bool { return n.typ == an.typ })
			if i < 0 {
				notes = append(notes, fmt.Sprintf("%sonly ipvsadm sends type %d (% x)", path, an.typ, an.data))
				continue
			}
			ln := l[i]
			if an.nested != ln.nested {
				notes = append(notes, fmt.Sprintf("%stype %d: NLA_F_NESTED ipvsadm %v, library %v", path, an.typ, an.nested, ln.nested))
			}
			if an.kids != nil || ln.kids != nil {
				walk(fmt.Sprintf("%snest %d: ", path, an.typ), an.typ, an.kids, ln.kids)
				continue
			}
			if bytes.Equal(an.data, ln.data) {
				continue
			}
			if addrTypes[[2]uint16{parent, an.typ}] && len(an.data) != len(ln.data) {
				short, long := an.data, ln.data
				if len(short) > len(long) {
					short, long = long, short
				}
				if bytes.Equal(long[:len(short)], short) && bytes.Count(long[len(short):], []byte{0}) == len(long)-len(short) {
					notes = append(notes, fmt.Sprintf("%stype %d: address of %d bytes from ipvsadm, %d from the library", path, an.typ, len(an.data), len(ln.data)))
					continue
				}
			}
			t.Errorf("%s: %stype %d differs: ipvsadm % x, library % x", name, path, an.typ, an.data, ln.data)
		}
		for _, ln := range l {
			if !slices.ContainsFunc(a, func(n attrNode) bool { return n.typ == ln.typ }) {
				notes = append(notes, fmt.Sprintf("%sonly the library sends type %d (% x)", path, ln.typ, ln.data))
			}
		}
	}
	walk("", 0, parseAttrs(adm.attrs, true), parseAttrs(lib.attrs, true))
	return notes
}

// TestKernelIpvsadmRequestBytes runs the same commands through ipvsadm and
// the library, each in a namespace of its own, captures both requests
// from nlmon devices, compares them, and checks that both namespaces end
// in the same state: the kernel accepted both forms alike.
func TestKernelIpvsadmRequestBytes(t *testing.T) {
	if !moduleBuilt("nlmon") {
		t.Skip("this kernel has no nlmon")
	}
	admNS, admC := newClient(t)
	libNS, libC := newClient(t)
	ctx := ctxT(t)
	for _, ns := range []*netNS{admNS, libNS} {
		ns.sh("ip link add sync0 type dummy && ip link set sync0 up")
	}
	admCap := startCapture(t, admNS, admC)
	libCap := startCapture(t, libNS, libC)

	tcp := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "rr"}
	udp6 := ipvs.Service{Protocol: ipvs.ProtocolUDP, Address: netip.MustParseAddr("2001:db8::1"), Port: 53, Scheduler: "wlc",
		Flags: ipvs.FlagPersistent, Timeout: 300 * time.Second, Netmask: ipvs.PrefixMask(64)}
	fwm := ipvs.Service{Family: ipvs.FamilyIPv4, FWMark: 7, Scheduler: "sh", Flags: ipvs.FlagSHFallback | ipvs.FlagSHPort}
	masq := ipvs.Destination{Address: netip.MustParseAddr("192.168.7.2"), Port: 8080, Forward: ipvs.ForwardMasquerade, Weight: 3}
	gue := ipvs.Destination{Address: netip.MustParseAddr("192.168.7.4"), Port: 80, Forward: ipvs.ForwardTunnel, Weight: 2,
		TunnelType: ipvs.TunnelGUE, TunnelPort: 6080, TunnelFlags: ipvs.TunnelChecksum}
	steps := []struct {
		name, adm string
		lib       func() error
	}{
		{"new service tcp4", "ipvsadm -A -t 10.0.0.1:80 -s rr", func() error { return libC.CreateService(ctx, tcp) }},
		{"new service udp6 persistent", "ipvsadm -A -u [2001:db8::1]:53 -s wlc -p 300 -M 64", func() error { return libC.CreateService(ctx, udp6) }},
		{"new service fwmark", "ipvsadm -A -f 7 -s sh -b sh-fallback,sh-port", func() error { return libC.CreateService(ctx, fwm) }},
		{"set service", "ipvsadm -E -t 10.0.0.1:80 -s wrr", func() error { s := tcp; s.Scheduler = "wrr"; return libC.UpdateService(ctx, s) }},
		{"new dest masq", "ipvsadm -a -t 10.0.0.1:80 -r 192.168.7.2:8080 -m -w 3", func() error { return libC.CreateDestination(ctx, tcp, masq) }},
		{"new dest gue", "ipvsadm -a -t 10.0.0.1:80 -r 192.168.7.4:80 -i -w 2 --tun-type gue --tun-port 6080 --tun-csum", func() error { return libC.CreateDestination(ctx, tcp, gue) }},
		{"set dest", "ipvsadm -e -t 10.0.0.1:80 -r 192.168.7.2:8080 -m -w 0", func() error { d := masq; d.Weight = 0; return libC.UpdateDestination(ctx, tcp, d) }},
		{"del dest", "ipvsadm -d -t 10.0.0.1:80 -r 192.168.7.4:80", func() error { return libC.RemoveDestination(ctx, tcp, gue) }},
		{"zero service", "ipvsadm -Z -t 10.0.0.1:80", func() error { return libC.ZeroServiceStats(ctx, tcp) }},
		{"zero all", "ipvsadm -Z", func() error { return libC.ZeroStats(ctx) }},
		{"set config", "ipvsadm --set 900 120 300", func() error {
			return libC.SetTimeouts(ctx, ipvs.Timeouts{TCP: 900 * time.Second, TCPFin: 120 * time.Second, UDP: 300 * time.Second})
		}},
		{"new daemon", "ipvsadm --start-daemon master --mcast-interface sync0 --syncid 7", func() error {
			return libC.StartDaemon(ctx, ipvs.Daemon{State: ipvs.DaemonMaster, Interface: "sync0", SyncID: 7})
		}},
		{"del daemon", "sleep 0.2; ipvsadm --stop-daemon master", func() error { time.Sleep(200 * time.Millisecond); return libC.StopDaemon(ctx, ipvs.DaemonMaster) }},
		{"del service", "ipvsadm -D -t 10.0.0.1:80", func() error { return libC.RemoveService(ctx, tcp) }},
		{"flush", "ipvsadm -C", func() error { return libC.Flush(ctx) }},
	}
	var report []string
	for _, st := range steps {
		admCap.requests()
		libCap.requests()
		admNS.sh(st.adm)
		must(t, st.lib())
		libReqs := libCap.requests()
		if len(libReqs) == 0 {
			t.Fatalf("%s: no library request captured", st.name)
		}
		lib := libReqs[0]
		admCap.family = libCap.family
		var adm *request
		for _, r := range admCap.requests() {
			if r.cmd == lib.cmd {
				adm = &r
				break
			}
		}
		if adm == nil {
			t.Errorf("%s: ipvsadm sent no command %d", st.name, lib.cmd)
			continue
		}
		for _, n := range diffRequests(t, st.name, *adm, lib) {
			report = append(report, st.name+": "+n)
		}
		// The kernel took both alike. Dumps of two namespaces list the same
		// services in different orders: the hash key includes the namespace.
		a, _ := admC.Services(ctx)
		l, _ := libC.Services(ctx)
		byName := func(a, b ipvs.Service) int { return strings.Compare(a.String(), b.String()) }
		slices.SortFunc(a, byName)
		slices.SortFunc(l, byName)
		if diff := cmp.Diff(a, l, addrCmp, cmp.AllowUnexported(ipvs.Netmask{})); diff != "" {
			t.Errorf("%s: the namespaces differ (-ipvsadm +library):\n%s", st.name, diff)
		}
		for _, s := range a {
			ad, _ := admC.Destinations(ctx, s)
			ld, _ := libC.Destinations(ctx, s)
			sortDests(ad)
			sortDests(ld)
			if diff := cmp.Diff(ad, ld, addrCmp); diff != "" {
				t.Errorf("%s: destinations of %s differ (-ipvsadm +library):\n%s", st.name, s, diff)
			}
		}
		at, _ := admC.Timeouts(ctx)
		lt, _ := libC.Timeouts(ctx)
		ad, _ := admC.Daemons(ctx)
		ld, _ := libC.Daemons(ctx)
		if at != lt || !cmp.Equal(ad, ld, addrCmp) {
			t.Errorf("%s: timeouts or daemons differ: %+v %+v / %+v %+v", st.name, at, lt, ad, ld)
		}
	}
	t.Logf("differences between ipvsadm's requests and the library's:\n%s", strings.Join(report, "\n"))
}
