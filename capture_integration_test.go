//go:build integration && linux

package ipvs_test

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"

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
