//go:build integration && linux

package ipvs_test

import (
	"net/netip"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/ipvs-go/ipvs"
)

func TestKernelDestinations(t *testing.T) {
	ns, c := newClient(t)
	ctx := ctxT(t)
	svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "wrr"}
	must(t, c.CreateService(ctx, svc))
	ns.sh("ip link add dummy1 type dummy && ip link set dummy1 up && ip addr add 192.168.7.1/24 dev dummy1")

	dests := []ipvs.Destination{
		{Address: netip.MustParseAddr("192.168.7.2"), Port: 8080, Forward: ipvs.ForwardMasquerade, Weight: 1},
		{Address: netip.MustParseAddr("192.168.7.3"), Port: 80, Forward: ipvs.ForwardDirectRoute, Weight: 100, UpperThreshold: 1000, LowerThreshold: 800},
		{Address: netip.MustParseAddr("192.168.7.4"), Port: 80, Forward: ipvs.ForwardTunnel, Weight: 2},
		{Address: netip.MustParseAddr("192.168.7.5"), Port: 80, Forward: ipvs.ForwardTunnel, Weight: 3, TunnelType: ipvs.TunnelGUE, TunnelPort: 6080, TunnelFlags: ipvs.TunnelChecksum},
		{Address: netip.MustParseAddr("192.168.7.6"), Port: 80, Forward: ipvs.ForwardTunnel, Weight: 4, TunnelType: ipvs.TunnelGRE, TunnelFlags: ipvs.TunnelChecksum | ipvs.TunnelRemoteChecksum},
		// A mixed-family destination: IPv6 behind an IPv4 service, tunnelled.
		{Address: netip.MustParseAddr("2001:db8::7"), Port: 80, Forward: ipvs.ForwardTunnel, Weight: 5},
		{Address: netip.MustParseAddr("192.168.7.8"), Port: 80, Forward: ipvs.ForwardMasquerade, Weight: 0},
	}
	if !kernelAtLeast(5, 3) {
		t.Fatal("the tunnel types need Linux 5.3; this matrix starts at 5.10")
	}
	for _, d := range dests {
		must(t, c.CreateDestination(ctx, svc, d))
	}
	wantErr(t, c.CreateDestination(ctx, svc, dests[0]), os.ErrExist, unix.EEXIST)

	got, err := c.Destinations(ctx, svc)
	must(t, err)
	var want []ipvs.Destination
	for _, d := range dests {
		d.Family = ipvs.FamilyIPv4
		if d.Address.Is6() {
			d.Family = ipvs.FamilyIPv6
		}
		want = append(want, d)
	}
	// The kernel lists destinations newest first.
	sortDests(got)
	sortDests(want)
	if diff := cmp.Diff(want, got, addrCmp); diff != "" {
		t.Fatalf("Destinations (-want +got):\n%s", diff)
	}

	upd := dests[0]
	upd.Weight, upd.UpperThreshold, upd.LowerThreshold = 50, 10, 5
	must(t, c.UpdateDestination(ctx, svc, upd))
	got, _ = c.Destinations(ctx, svc)
	found := false
	for _, d := range got {
		if d.Address == upd.Address {
			found = d.Weight == 50 && d.UpperThreshold == 10 && d.LowerThreshold == 5
		}
	}
	if !found {
		t.Fatalf("update not applied: %+v", got)
	}

	for _, d := range dests {
		must(t, c.RemoveDestination(ctx, svc, ipvs.Destination{Address: d.Address, Port: d.Port}))
	}
	got, err = c.Destinations(ctx, svc)
	if err != nil || len(got) != 0 {
		t.Fatalf("after removing all: %v, %v", got, err)
	}
	wantErr(t, c.RemoveDestination(ctx, svc, dests[0]), os.ErrNotExist, unix.ENOENT)
	wantErr(t, c.UpdateDestination(ctx, svc, dests[0]), os.ErrNotExist, unix.ENOENT)

	// A destination of a missing service: ESRCH on writes, an empty list
	// (not an error) from the dump.
	missing := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.9.9.9"), Port: 1, Scheduler: "rr"}
	wantErr(t, c.CreateDestination(ctx, missing, dests[0]), os.ErrNotExist, unix.ESRCH)
	got, err = c.Destinations(ctx, missing)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("Destinations of a missing service: %#v, %v; want an empty slice", got, err)
	}
}

func sortDests(d []ipvs.Destination) {
	for i := range d {
		for j := i + 1; j < len(d); j++ {
			if d[j].Address.Less(d[i].Address) {
				d[i], d[j] = d[j], d[i]
			}
		}
	}
}

// TestKernelForwardLocalAndBypass pins what the kernel does with the two
// forwarding methods ipvsadm can not ask for.
func TestKernelForwardLocalAndBypass(t *testing.T) {
	_, c := newClient(t)
	ctx := ctxT(t)
	svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "rr"}
	must(t, c.CreateService(ctx, svc))
	for i, fwd := range []ipvs.ForwardMethod{ipvs.ForwardLocalNode, ipvs.ForwardBypass} {
		d := ipvs.Destination{Address: netip.AddrFrom4([4]byte{127, 0, 0, byte(2 + i)}), Port: 80, Forward: fwd, Weight: 1}
		must(t, c.CreateDestination(ctx, svc, d))
	}
	got, err := c.Destinations(ctx, svc)
	must(t, err)
	for _, d := range got {
		t.Logf("asked for %s at %s: read back %s", map[byte]string{2: "local", 3: "bypass"}[d.Address.As4()[3]], d, d.Forward)
	}
}
