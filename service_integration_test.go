//go:build integration && linux

package ipvs_test

import (
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/ipvs-go/ipvs"
)

func TestKernelInfo(t *testing.T) {
	_, c := newClient(t)
	info, err := c.Info(ctxT(t))
	must(t, err)
	if info.Version != (ipvs.Version{Major: 1, Minor: 2, Patch: 1}) {
		t.Fatalf("Info = %+v", info)
	}
	// Up to 6.12 the table is global and sized at load (4096 on Debian).
	// Linux 7.2 reports 0 for a namespace without services (see also
	// TestCapturedReplies: 256 once it has some).
	if info.ConnectionTableSize == 0 && !kernelAtLeast(7, 0) {
		t.Fatalf("Info = %+v: no connection table", info)
	}
	t.Logf("IPVS %s, connection table size %d", info.Version, info.ConnectionTableSize)
}

func TestKernelTimeouts(t *testing.T) {
	_, c := newClient(t)
	ctx := ctxT(t)
	got, err := c.Timeouts(ctx)
	must(t, err)
	// A fresh namespace has the defaults, whatever the initial one has.
	if want := (ipvs.Timeouts{TCP: 900 * time.Second, TCPFin: 120 * time.Second, UDP: 300 * time.Second}); got != want {
		t.Fatalf("defaults %+v, want %+v", got, want)
	}
	must(t, c.SetTimeouts(ctx, ipvs.Timeouts{TCP: 3600 * time.Second}))
	got, err = c.Timeouts(ctx)
	must(t, err)
	if want := (ipvs.Timeouts{TCP: 3600 * time.Second, TCPFin: 120 * time.Second, UDP: 300 * time.Second}); got != want {
		t.Fatalf("after setting TCP alone: %+v, want %+v", got, want)
	}
	all := ipvs.Timeouts{TCP: 7 * time.Second, TCPFin: 8 * time.Second, UDP: 9 * time.Second}
	must(t, c.SetTimeouts(ctx, all))
	got, err = c.Timeouts(ctx)
	must(t, err)
	if got != all {
		t.Fatalf("got %+v, want %+v", got, all)
	}
	// An empty update is accepted and changes nothing.
	must(t, c.SetTimeouts(ctx, ipvs.Timeouts{}))
	if got, _ = c.Timeouts(ctx); got != all {
		t.Fatalf("after an empty update: %+v", got)
	}
}

func TestKernelServiceLifecycle(t *testing.T) {
	tests := []struct {
		name string
		svc  ipvs.Service
	}{
		{"tcp4", ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "rr"}},
		{"udp6 persistent", ipvs.Service{Protocol: ipvs.ProtocolUDP, Address: netip.MustParseAddr("2001:db8::1"), Port: 53, Scheduler: "wlc",
			Flags: ipvs.FlagPersistent, Timeout: 600 * time.Second, Netmask: ipvs.PrefixMask(64)}},
		{"sctp4", ipvs.Service{Protocol: ipvs.ProtocolSCTP, Address: netip.MustParseAddr("10.0.0.2"), Port: 3868, Scheduler: "lc"}},
		{"tcp4 port 0 persistent /24", ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.0.0.3"), Scheduler: "rr",
			Flags: ipvs.FlagPersistent, Timeout: 30 * time.Second, Netmask: ipvs.PrefixMask(24)}},
		{"fwmark4", ipvs.Service{Family: ipvs.FamilyIPv4, FWMark: 7, Scheduler: "sh", Flags: ipvs.FlagSHFallback | ipvs.FlagSHPort}},
		{"fwmark6", ipvs.Service{Family: ipvs.FamilyIPv6, FWMark: 0x10000, Scheduler: "mh", Flags: ipvs.FlagOnePacket}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, c := newClient(t)
			ctx := ctxT(t)
			must(t, c.CreateService(ctx, tt.svc))
			wantErr(t, c.CreateService(ctx, tt.svc), os.ErrExist, unix.EEXIST)

			want := tt.svc
			if want.Family == 0 {
				want.Family = ipvs.FamilyIPv4
				if want.Address.Is6() {
					want.Family = ipvs.FamilyIPv6
				}
			}
			want.Flags |= ipvs.FlagHashed
			got, err := c.Service(ctx, tt.svc)
			must(t, err)
			if diff := cmp.Diff(want, got, addrCmp, cmp.AllowUnexported(ipvs.Netmask{})); diff != "" {
				t.Fatalf("Service (-want +got):\n%s", diff)
			}
			all, err := c.Services(ctx)
			must(t, err)
			if diff := cmp.Diff([]ipvs.Service{want}, all, addrCmp, cmp.AllowUnexported(ipvs.Netmask{})); diff != "" {
				t.Fatalf("Services (-want +got):\n%s", diff)
			}

			upd := got
			upd.Scheduler, upd.Timeout = "wrr", 90*time.Second
			upd.Flags |= ipvs.FlagPersistent
			must(t, c.UpdateService(ctx, upd))
			got, err = c.Service(ctx, tt.svc)
			must(t, err)
			if diff := cmp.Diff(upd, got, addrCmp, cmp.AllowUnexported(ipvs.Netmask{})); diff != "" {
				t.Fatalf("after update (-want +got):\n%s", diff)
			}

			must(t, c.RemoveService(ctx, tt.svc))
			_, err = c.Service(ctx, tt.svc)
			wantErr(t, err, os.ErrNotExist, unix.ESRCH)
			wantErr(t, c.RemoveService(ctx, tt.svc), os.ErrNotExist, unix.ESRCH)
			wantErr(t, c.UpdateService(ctx, upd), os.ErrNotExist, unix.ESRCH)
		})
	}
}

func TestKernelSchedulers(t *testing.T) {
	_, c := newClient(t)
	ctx := ctxT(t)
	for i, name := range []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos", "none"} {
		svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.AddrFrom4([4]byte{10, 1, 0, byte(i)}), Port: 80, Scheduler: name}
		err := c.CreateService(ctx, svc)
		if name != "none" && !moduleBuilt("ip_vs_"+name) {
			wantErr(t, err, os.ErrNotExist, unix.ENOENT)
			t.Logf("scheduler %s: not built in this kernel: %v", name, err)
			continue
		}
		if err != nil {
			t.Errorf("scheduler %s: %v", name, err)
			continue
		}
		got, err := c.Service(ctx, svc)
		if err != nil || got.Scheduler != name {
			t.Errorf("scheduler %s read back as %q, %v", name, got.Scheduler, err)
		}
	}
	err := c.CreateService(ctx, ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.2.0.1"), Port: 80, Scheduler: "nosuch"})
	wantErr(t, err, os.ErrNotExist, unix.ENOENT)
	t.Logf("unknown scheduler: %v", err)
}

func TestKernelPersistenceEngine(t *testing.T) {
	_, c := newClient(t)
	ctx := ctxT(t)
	svc := ipvs.Service{Protocol: ipvs.ProtocolUDP, Address: netip.MustParseAddr("10.0.0.5"), Port: 5060, Scheduler: "rr",
		PersistenceEngine: "sip", Flags: ipvs.FlagPersistent, Timeout: 60 * time.Second}
	must(t, c.CreateService(ctx, svc))
	got, err := c.Service(ctx, svc)
	must(t, err)
	if got.PersistenceEngine != "sip" {
		t.Fatalf("persistence engine %q", got.PersistenceEngine)
	}
	bad := svc
	bad.Address, bad.PersistenceEngine = netip.MustParseAddr("10.0.0.6"), "nosuch"
	wantErr(t, c.CreateService(ctx, bad), os.ErrNotExist, unix.ENOENT)
}

// TestKernelFlags sets each flag, then changes one with a mask and checks that
// the others stay.
func TestKernelFlags(t *testing.T) {
	_, c := newClient(t)
	ctx := ctxT(t)
	base := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "sh"}
	for i, f := range []ipvs.ServiceFlags{ipvs.FlagPersistent, ipvs.FlagOnePacket, ipvs.FlagSched1, ipvs.FlagSched2, ipvs.FlagSched3} {
		svc := base
		svc.Port = uint16(100 + i)
		svc.Flags = f
		must(t, c.CreateService(ctx, svc))
		got, err := c.Service(ctx, svc)
		must(t, err)
		if got.Flags != f|ipvs.FlagHashed {
			t.Errorf("flag %s read back as %s", f, got.Flags)
		}
	}

	svc := base
	svc.Flags = ipvs.FlagPersistent | ipvs.FlagSHPort
	must(t, c.CreateService(ctx, svc))
	cur, err := c.Service(ctx, svc)
	must(t, err)
	cur.Flags, cur.FlagsMask = ipvs.FlagOnePacket, ipvs.FlagOnePacket
	must(t, c.UpdateService(ctx, cur))
	got, err := c.Service(ctx, svc)
	must(t, err)
	if want := ipvs.FlagPersistent | ipvs.FlagSHPort | ipvs.FlagOnePacket | ipvs.FlagHashed; got.Flags != want {
		t.Fatalf("after setting one-packet alone: %s, want %s", got.Flags, want)
	}
	// Clear one flag the same way.
	cur.Flags, cur.FlagsMask = 0, ipvs.FlagSHPort
	must(t, c.UpdateService(ctx, cur))
	got, _ = c.Service(ctx, svc)
	if want := ipvs.FlagPersistent | ipvs.FlagOnePacket | ipvs.FlagHashed; got.Flags != want {
		t.Fatalf("after clearing sh-port alone: %s, want %s", got.Flags, want)
	}
	// The kernel applies the mask on create too: a flag outside it is not set.
	masked := base
	masked.Port, masked.Flags, masked.FlagsMask = 200, ipvs.FlagPersistent|ipvs.FlagOnePacket, ipvs.FlagOnePacket
	must(t, c.CreateService(ctx, masked))
	got, _ = c.Service(ctx, masked)
	if want := ipvs.FlagOnePacket | ipvs.FlagHashed; got.Flags != want {
		t.Fatalf("create with a mask: %s, want %s", got.Flags, want)
	}
}

func TestKernelFlushAndZero(t *testing.T) {
	ns, c := newClient(t)
	ctx := ctxT(t)
	client := ns.clientNS()
	var svcs []ipvs.Service
	for i := range 2 {
		svc := ipvs.Service{Protocol: ipvs.ProtocolUDP, Address: netip.MustParseAddr("10.99.1.1"), Port: uint16(9000 + i), Scheduler: "rr"}
		must(t, c.CreateService(ctx, svc))
		must(t, c.CreateDestination(ctx, svc, ipvs.Destination{Address: netip.MustParseAddr("10.99.0.3"), Port: 9000, Weight: 1}))
		svcs = append(svcs, svc)
		client.udpTraffic(netip.AddrPortFrom(svc.Address, svc.Port).String(), 5)
	}
	counted := func(svc ipvs.Service) ipvs.Stats {
		t.Helper()
		s, err := c.Service(ctx, svc)
		must(t, err)
		return s.Stats
	}
	for _, svc := range svcs {
		eventually(t, "traffic counted for "+svc.String(), func() bool { return counted(svc).InPackets >= 5 })
		if st := counted(svc); st.Connections == 0 || st.InBytes == 0 {
			t.Fatalf("traffic was not counted for %s: %+v", svc, st)
		}
		d, err := c.Destinations(ctx, svc)
		must(t, err)
		if len(d) != 1 || d[0].Stats.InPackets < 5 {
			t.Fatalf("destination of %s: %+v", svc, d)
		}
	}
	must(t, c.ZeroServiceStats(ctx, svcs[0]))
	if st := counted(svcs[0]); st.Connections != 0 || st.InPackets != 0 || st.InBytes != 0 {
		t.Fatalf("zeroed service still counts: %+v", st)
	}
	if d, _ := c.Destinations(ctx, svcs[0]); d[0].Stats.InPackets != 0 {
		t.Fatalf("zeroing a service left its destination's counters: %+v", d[0].Stats)
	}
	if st := counted(svcs[1]); st.InPackets < 5 {
		t.Fatalf("zeroing one service zeroed another: %+v", st)
	}
	missing := ipvs.Service{Protocol: ipvs.ProtocolUDP, Address: netip.MustParseAddr("10.99.9.9"), Port: 1}
	wantErr(t, c.ZeroServiceStats(ctx, missing), os.ErrNotExist, unix.ESRCH)
	must(t, c.ZeroStats(ctx))
	if st := counted(svcs[1]); st.InPackets != 0 {
		t.Fatalf("zeroing all left counters: %+v", st)
	}
	must(t, c.Flush(ctx))
	left, err := c.Services(ctx)
	if err != nil || len(left) != 0 {
		t.Fatalf("after flush: %v, %v", left, err)
	}
	// ZERO and FLUSH work on an empty table too.
	must(t, c.ZeroStats(ctx))
	must(t, c.Flush(ctx))
}

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
