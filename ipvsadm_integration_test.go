//go:build integration && linux

package ipvs_test

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ipvs-go/ipvs"
)

// ipvsadm is the second oracle: it must read exactly what the library
// writes, the library must read exactly what it writes, and its requests,
// captured from an nlmon device, must match the library's attribute for
// attribute, but for the differences listed in testdata/README.

// TestKernelIpvsadmReadsLibrary writes with the library and reads with
// ipvsadm -Sn.
func TestKernelIpvsadmReadsLibrary(t *testing.T) {
	ns, c := newClient(t)
	ctx := ctxT(t)
	tcp, udp6, fwm, sip := fixtureServices()
	for _, s := range []ipvs.Service{tcp, udp6, fwm, sip} {
		must(t, c.CreateService(ctx, s))
	}
	for _, d := range []ipvs.Destination{
		{Address: netip.MustParseAddr("192.168.7.2"), Port: 8080, Forward: ipvs.ForwardMasquerade, Weight: 3},
		{Address: netip.MustParseAddr("192.168.7.3"), Port: 80, Forward: ipvs.ForwardDirectRoute, Weight: 1, UpperThreshold: 100, LowerThreshold: 50},
		{Address: netip.MustParseAddr("192.168.7.4"), Port: 80, Forward: ipvs.ForwardTunnel, Weight: 2, TunnelType: ipvs.TunnelGUE, TunnelPort: 6080, TunnelFlags: ipvs.TunnelChecksum},
		{Address: netip.MustParseAddr("192.168.7.5"), Port: 80, Forward: ipvs.ForwardTunnel, Weight: 2, TunnelType: ipvs.TunnelGRE, TunnelFlags: ipvs.TunnelRemoteChecksum},
	} {
		must(t, c.CreateDestination(ctx, tcp, d))
	}
	must(t, c.CreateDestination(ctx, fwm, ipvs.Destination{Address: netip.MustParseAddr("10.0.0.9"), Forward: ipvs.ForwardDirectRoute, Weight: 1}))
	// ipvsadm -S leaves thresholds out (ipvsadm 1.31): -L shows them.
	if out := ns.sh("ipvsadm -Ln --thresholds"); !strings.Contains(strings.Join(strings.Fields(out), " "), "-> 192.168.7.3:80 100 50 0 0") {
		t.Errorf("ipvsadm -Ln --thresholds:\n%s", out)
	}
	got := sortedLines(ns.sh("ipvsadm -Sn"))
	want := sortedLines(`-A -t 10.0.0.1:80 -s rr
-a -t 10.0.0.1:80 -r 192.168.7.2:8080 -m -w 3
-a -t 10.0.0.1:80 -r 192.168.7.3:80 -g -w 1
-a -t 10.0.0.1:80 -r 192.168.7.4:80 -i -w 2 --tun-type gue --tun-port 6080 --tun-csum
-a -t 10.0.0.1:80 -r 192.168.7.5:80 -i -w 2 --tun-type gre --tun-remcsum
-A -u [2001:db8::1]:53 -s wlc -p 300 -M 64
-A -f 7 -s sh -b sh-fallback,sh-port
-a -f 7 -r 10.0.0.9:0 -g -w 1
-A -u 10.0.0.5:5060 -s rr -p 60 -M 255.255.255.0 --pe sip`)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("ipvsadm -Sn (-want +got):\n%s", diff)
	}
	must(t, c.SetTimeouts(ctx, ipvs.Timeouts{TCP: 1000 * time.Second, TCPFin: 20 * time.Second, UDP: 30 * time.Second}))
	if out := ns.sh("ipvsadm -L --timeout"); !strings.Contains(out, "Timeout (tcp tcpfin udp): 1000 20 30") {
		t.Fatalf("ipvsadm -L --timeout:\n%s", out)
	}
	ns.sh("ip link add sync0 type dummy && ip link set sync0 up")
	must(t, c.StartDaemon(ctx, ipvs.Daemon{State: ipvs.DaemonMaster, Interface: "sync0", SyncID: 5, Group: netip.MustParseAddr("239.9.9.9"), Port: 4000, TTL: 3, MaxLength: 1200}))
	if out := ns.sh("ipvsadm -L --daemon"); !strings.Contains(out, "master sync daemon (mcast=sync0, syncid=5, maxlen=1200, group=239.9.9.9, port=4000, ttl=3)") {
		t.Fatalf("ipvsadm -L --daemon:\n%s", out)
	}
	must(t, c.StopDaemon(ctx, ipvs.DaemonMaster))
}

func sortedLines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		out = append(out, strings.TrimSpace(l))
	}
	slices.Sort(out)
	return out
}

// TestKernelLibraryReadsIpvsadm configures with ipvsadm and reads with the library.
func TestKernelLibraryReadsIpvsadm(t *testing.T) {
	ns, c := newClient(t)
	ctx := ctxT(t)
	ns.sh("ip link add sync0 type dummy && ip link set sync0 up")
	ns.sh(`ipvsadm -A -t 10.1.1.1:80 -s wlc -p 120 -M 255.255.255.0 &&
ipvsadm -a -t 10.1.1.1:80 -r 10.1.1.2:8080 -m -w 5 -x 10 -y 5 &&
ipvsadm -a -t 10.1.1.1:80 -r 10.1.1.3:80 -i -w 1 --tun-type gue --tun-port 7000 --tun-remcsum &&
ipvsadm -A -u [2001:db8::5]:53 -s rr -o &&
ipvsadm -A -f 9 -6 -s mh -b mh-port &&
ipvsadm -E -t 10.1.1.1:80 -s lc -p 60 -M 255.255.0.0 &&
ipvsadm -e -t 10.1.1.1:80 -r 10.1.1.2:8080 -m -w 7 -x 20 -y 10 &&
ipvsadm --set 111 22 33 &&
ipvsadm --start-daemon backup --mcast-interface sync0 --syncid 4 --mcast-group ff02::99 --mcast-port 5000 --mcast-ttl 4`)
	svcs, err := c.Services(ctx)
	must(t, err)
	want := []ipvs.Service{
		{Family: ipvs.FamilyIPv4, Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.1.1.1"), Port: 80, Scheduler: "lc",
			Flags: ipvs.FlagPersistent | ipvs.FlagHashed, Timeout: 60 * time.Second, Netmask: ipvs.PrefixMask(16)},
		{Family: ipvs.FamilyIPv6, Protocol: ipvs.ProtocolUDP, Address: netip.MustParseAddr("2001:db8::5"), Port: 53, Scheduler: "rr",
			Flags: ipvs.FlagOnePacket | ipvs.FlagHashed},
		{Family: ipvs.FamilyIPv6, FWMark: 9, Scheduler: "mh", Flags: ipvs.FlagSched2 | ipvs.FlagHashed},
	}
	slices.SortFunc(svcs, func(a, b ipvs.Service) int { return strings.Compare(a.String(), b.String()) })
	slices.SortFunc(want, func(a, b ipvs.Service) int { return strings.Compare(a.String(), b.String()) })
	if diff := cmp.Diff(want, svcs, addrCmp, cmp.AllowUnexported(ipvs.Netmask{})); diff != "" {
		t.Fatalf("services (-want +got):\n%s", diff)
	}
	dests, err := c.Destinations(ctx, want[1]) // tcp 10.1.1.1:80
	must(t, err)
	sortDests(dests)
	wantDests := []ipvs.Destination{
		{Family: ipvs.FamilyIPv4, Address: netip.MustParseAddr("10.1.1.2"), Port: 8080, Forward: ipvs.ForwardMasquerade, Weight: 7, UpperThreshold: 20, LowerThreshold: 10},
		{Family: ipvs.FamilyIPv4, Address: netip.MustParseAddr("10.1.1.3"), Port: 80, Forward: ipvs.ForwardTunnel, Weight: 1,
			TunnelType: ipvs.TunnelGUE, TunnelPort: 7000, TunnelFlags: ipvs.TunnelRemoteChecksum},
	}
	if diff := cmp.Diff(wantDests, dests, addrCmp); diff != "" {
		t.Fatalf("destinations (-want +got):\n%s", diff)
	}
	to, err := c.Timeouts(ctx)
	must(t, err)
	if want := (ipvs.Timeouts{TCP: 111 * time.Second, TCPFin: 22 * time.Second, UDP: 33 * time.Second}); to != want {
		t.Fatalf("timeouts %+v, want %+v", to, want)
	}
	daemons, err := c.Daemons(ctx)
	must(t, err)
	wantD := ipvs.Daemon{State: ipvs.DaemonBackup, Interface: "sync0", SyncID: 4, Group: netip.MustParseAddr("ff02::99"), Port: 5000, TTL: 4}
	if len(daemons) == 1 {
		wantD.MaxLength = daemons[0].MaxLength
	}
	if diff := cmp.Diff([]ipvs.Daemon{wantD}, daemons, addrCmp); diff != "" {
		t.Fatalf("daemons (-want +got):\n%s", diff)
	}
	must(t, c.StopDaemon(ctx, ipvs.DaemonBackup))
}

// TestKernelIpvsadmStats drives traffic through a service and compares
// the library's counters with ipvsadm -Ln --stats --exact.
func TestKernelIpvsadmStats(t *testing.T) {
	ns, c := newClient(t)
	ctx := ctxT(t)
	client := ns.clientNS()
	svc := ipvs.Service{Protocol: ipvs.ProtocolUDP, Address: netip.MustParseAddr("10.99.1.1"), Port: 9000, Scheduler: "rr"}
	must(t, c.CreateService(ctx, svc))
	must(t, c.CreateDestination(ctx, svc, ipvs.Destination{Address: netip.MustParseAddr("10.99.0.3"), Port: 9000, Weight: 1}))
	client.udpTraffic("10.99.1.1:9000", 7)
	var got ipvs.Service
	eventually(t, "7 datagrams counted", func() bool {
		var err error
		got, err = c.Service(ctx, svc)
		must(t, err)
		return got.Stats.InPackets >= 7
	})
	out := ns.sh("ipvsadm -Ln --stats --exact")
	var conns, inPkts, outPkts, inBytes, outBytes uint64
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "UDP  10.99.1.1:9000") {
			_, err := fmt.Sscanf(strings.TrimPrefix(line, "UDP  10.99.1.1:9000"), "%d %d %d %d %d", &conns, &inPkts, &outPkts, &inBytes, &outBytes)
			must(t, err)
		}
	}
	st := got.Stats
	if conns != st.Connections || inPkts != st.InPackets || outPkts != st.OutPackets || inBytes != st.InBytes || outBytes != st.OutBytes || inPkts < 7 {
		t.Fatalf("ipvsadm says %d %d %d %d %d, the library %+v\n%s", conns, inPkts, outPkts, inBytes, outBytes, st, out)
	}
	t.Logf("stats after 7 datagrams: %+v", st)
}
