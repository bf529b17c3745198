//go:build integration && linux

package ipvs_test

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/mdlayher/netlink"

	"github.com/ipvs-go/ipvs"
)

var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func TestKernelNoIPVS(t *testing.T) {
	if os.Getenv("VM_NO_IPVS") != "1" {
		t.Skip("needs a boot without the ip_vs modules (VM_NO_IPVS=1)")
	}
	_, err := ipvs.New(nil)
	wantErr(t, err, ipvs.ErrNoIPVS, os.ErrNotExist)
	t.Logf("New without ip_vs: %v", err)
}

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

// TestFlags sets each flag, then changes one with a mask and checks that
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

// TestForwardLocalAndBypass pins what the kernel does with the two
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

// TestKernelRefusals sends what the client would refuse, through raw
// requests, to pin the kernel's errno for each; and checks that the
// client refuses the same input before sending it.
func TestKernelRefusals(t *testing.T) {
	ns, c := newClient(t)
	ctx := ctxT(t)
	svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "rr"}
	must(t, c.CreateService(ctx, svc))
	raw := newRawIPVS(t, ns)
	tests := []struct {
		name   string
		errno  syscall.Errno
		cmd    uint8
		attrs  []rawAttr
		client func() error
	}{
		{"weight 2^31", unix.ERANGE, cmdNewDest, []rawAttr{svcKey4(svc), withAttrs(destAttrs("192.0.2.1", 80, 0, 1<<31, 0, 0))},
			func() error {
				return c.CreateDestination(ctx, svc, ipvs.Destination{Address: netip.MustParseAddr("192.0.2.1"), Port: 80, Weight: 1 << 31})
			}},
		{"lower threshold above upper 0", unix.ERANGE, cmdNewDest, []rawAttr{svcKey4(svc), withAttrs(destAttrs("192.0.2.1", 80, 0, 1, 0, 10))},
			func() error {
				return c.CreateDestination(ctx, svc, ipvs.Destination{Address: netip.MustParseAddr("192.0.2.1"), Port: 80, Weight: 1, LowerThreshold: 10})
			}},
		// Linux 5.10 accepts it and stores a negative threshold; 6.1 refuses.
		{"upper threshold above INT_MAX", kernelErrno(6, 1, unix.EINVAL), cmdNewDest, []rawAttr{svcKey4(svc), withAttrs(destAttrs("192.0.2.1", 80, 0, 1, 1<<31, 0))},
			func() error {
				return c.CreateDestination(ctx, svc, ipvs.Destination{Address: netip.MustParseAddr("192.0.2.1"), Port: 80, Weight: 1, UpperThreshold: 1 << 31})
			}},
		{"GUE without port", unix.EINVAL, cmdNewDest, []rawAttr{svcKey4(svc), withAttrs(destAttrs("192.0.2.1", 80, 2, 1, 0, 0), u8Attr(13, 1))},
			func() error {
				return c.CreateDestination(ctx, svc, ipvs.Destination{Address: netip.MustParseAddr("192.0.2.1"), Port: 80, Weight: 1, Forward: ipvs.ForwardTunnel, TunnelType: ipvs.TunnelGUE})
			}},
		{"IPv6 prefix 0", unix.EINVAL, cmdNewService, []rawAttr{svcFull6("2001:db8::9", 0)},
			func() error {
				return c.CreateService(ctx, ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("2001:db8::9"), Port: 80, Scheduler: "rr", Netmask: ipvs.PrefixMask(0)})
			}},
		{"IPv6 prefix 129", unix.EINVAL, cmdNewService, []rawAttr{svcFull6("2001:db8::9", 129)},
			func() error {
				return c.CreateService(ctx, ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("2001:db8::9"), Port: 80, Scheduler: "rr", Netmask: ipvs.PrefixMask(129)})
			}},
		{"mixed family masquerade", unix.EINVAL, cmdNewDest, []rawAttr{svcKey4(svc), withAttrs(destAttrs6("2001:db8::2", 80, 0), u16Attr(11, 10))},
			func() error {
				return c.CreateDestination(ctx, svc, ipvs.Destination{Address: netip.MustParseAddr("2001:db8::2"), Port: 80, Weight: 1})
			}},
		{"daemon state 3", unix.EINVAL, cmdNewDaemon, []rawAttr{daemonAttrs(3, "lo", 1)},
			func() error { return c.StartDaemon(ctx, ipvs.Daemon{State: 3, Interface: "lo", SyncID: 1}) }},
		{"scheduler name of 20 bytes", unix.EINVAL, cmdNewService, []rawAttr{svcFull4WithSched("10.0.0.7", "abcdefghijklmnopqrst")},
			func() error {
				return c.CreateService(ctx, ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.0.0.7"), Port: 80, Scheduler: "abcdefghijklmnopqrst"})
			}},
		{"destination 0.0.0.0:0", unix.EINVAL, cmdNewDest, []rawAttr{svcKey4(svc), withAttrs(destAttrs("0.0.0.0", 0, 0, 1, 0, 0))},
			func() error {
				return c.CreateDestination(ctx, svc, ipvs.Destination{Address: netip.IPv4Unspecified(), Weight: 1})
			}},
		{"connection timeout of 2^31 s", unix.EINVAL, 12, []rawAttr{func(ae *netlink.AttributeEncoder) { ae.Uint32(4, 1<<31) }},
			func() error { return c.SetTimeouts(ctx, ipvs.Timeouts{TCP: 1 << 31 * time.Second}) }},
		{"interface name of 20 bytes", unix.EINVAL, cmdNewDaemon, []rawAttr{daemonAttrs(1, "abcdefghijklmnopqrst", 1)},
			func() error {
				return c.StartDaemon(ctx, ipvs.Daemon{State: ipvs.DaemonMaster, Interface: "abcdefghijklmnopqrst", SyncID: 1})
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := raw.do(tt.cmd, tt.attrs...)
			if tt.errno == 0 {
				if err != nil {
					t.Errorf("kernel: got %v, want it accepted by this kernel", err)
				}
				t.Logf("accepted by this kernel")
				must(t, c.RemoveDestination(ctx, svc, ipvs.Destination{Address: netip.MustParseAddr("192.0.2.1"), Port: 80}))
			} else if !errors.Is(err, tt.errno) {
				t.Errorf("kernel: got %v, want %v", err, tt.errno)
			}
			wantErr(t, tt.client(), os.ErrInvalid)
		})
	}
	// Nothing above reached the table.
	dests, err := c.Destinations(ctx, svc)
	must(t, err)
	svcs, err := c.Services(ctx)
	must(t, err)
	if len(dests) != 0 || len(svcs) != 1 {
		t.Fatalf("refused requests changed the table: %d services, %d destinations", len(svcs), len(dests))
	}
}

// kernelErrno is errno on kernels since major.minor, and 0 (accepted) before.
func kernelErrno(major, minor int, errno syscall.Errno) syscall.Errno {
	if kernelAtLeast(major, minor) {
		return errno
	}
	return 0
}

func TestKernelPermission(t *testing.T) {
	cmd := exec.Command("/proc/self/exe", "-test.run=^$")
	cmd.Env = append(os.Environ(), "IPVS_HELPER=userns")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
	}
	out, err := cmd.CombinedOutput()
	t.Logf("root of a child user namespace:\n%s", out)
	if err != nil {
		t.Fatalf("want EPERM matched as os.ErrPermission from Info: %v", err)
	}
}

func TestKernelNamespaceIsolation(t *testing.T) {
	ns1, c1 := newClient(t)
	_, c2 := newClient(t)
	ctx := ctxT(t)
	svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "rr"}
	must(t, c1.CreateService(ctx, svc))
	must(t, c2.CreateService(ctx, svc)) // the same key, in the other namespace
	must(t, c1.CreateDestination(ctx, svc, ipvs.Destination{Address: netip.MustParseAddr("10.0.0.2"), Port: 80, Weight: 1}))
	d2, err := c2.Destinations(ctx, svc)
	must(t, err)
	if len(d2) != 0 {
		t.Fatalf("a destination of namespace 1 is seen in namespace 2: %v", d2)
	}
	must(t, c2.SetTimeouts(ctx, ipvs.Timeouts{UDP: 5 * time.Second}))
	if to, _ := c1.Timeouts(ctx); to.UDP != 300*time.Second {
		t.Fatalf("namespace 2's timeouts leaked into namespace 1: %+v", to)
	}
	must(t, c2.Flush(ctx))
	s1, _ := c1.Services(ctx)
	s2, _ := c2.Services(ctx)
	if len(s1) != 1 || len(s2) != 0 {
		t.Fatalf("after flushing namespace 2: %d and %d services", len(s1), len(s2))
	}
	// The same namespace by path, as ip netns add makes it.
	path := "/run/netns/ipvs-test"
	must(t, os.WriteFile(path, nil, 0o644))
	must(t, unix.Mount(fmt.Sprintf("/proc/self/fd/%d", ns1.Fd()), path, "", unix.MS_BIND, ""))
	t.Cleanup(func() { _ = unix.Unmount(path, unix.MNT_DETACH); _ = os.Remove(path) })
	byPath, err := ipvs.New(&ipvs.Config{NetNSPath: path})
	must(t, err)
	defer byPath.Close()
	sp, err := byPath.Services(ctx)
	must(t, err)
	if len(sp) != 1 || sp[0].Address != svc.Address {
		t.Fatalf("by path: %v", sp)
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

func TestKernelDaemons(t *testing.T) {
	ns, c := newClient(t)
	ctx := ctxT(t)
	ns.sh("ip link add sync0 type dummy && ip link set sync0 up && ip addr add 10.88.0.1/24 dev sync0")
	d, err := c.Daemons(ctx)
	if err != nil || len(d) != 0 {
		t.Fatalf("Daemons of a fresh namespace: %v, %v", d, err)
	}
	master := ipvs.Daemon{State: ipvs.DaemonMaster, Interface: "sync0", SyncID: 7, MaxLength: 1000,
		Group: netip.MustParseAddr("239.1.2.3"), Port: 12345, TTL: 2}
	backup := ipvs.Daemon{State: ipvs.DaemonBackup, Interface: "sync0", SyncID: 9,
		Group: netip.MustParseAddr("ff02::81"), Port: 8849, TTL: 1}
	must(t, c.StartDaemon(ctx, master))
	must(t, c.StartDaemon(ctx, backup))
	wantErr(t, c.StartDaemon(ctx, master), os.ErrExist, unix.EEXIST)
	got, err := c.Daemons(ctx)
	must(t, err)
	if len(got) != 2 {
		t.Fatalf("Daemons: %+v", got)
	}
	wantBackup := backup
	wantBackup.MaxLength = got[1].MaxLength // the kernel's default, from the MTU
	if diff := cmp.Diff([]ipvs.Daemon{master, wantBackup}, got, addrCmp); diff != "" {
		t.Fatalf("Daemons (-want +got):\n%s", diff)
	}
	t.Logf("backup's default max length: %d", got[1].MaxLength)
	must(t, c.StopDaemon(ctx, ipvs.DaemonMaster))
	must(t, c.StopDaemon(ctx, ipvs.DaemonBackup))
	wantErr(t, c.StopDaemon(ctx, ipvs.DaemonMaster), os.ErrNotExist, unix.ESRCH)

	// Defaults: group 224.0.0.81, port 8848, TTL 1.
	must(t, c.StartDaemon(ctx, ipvs.Daemon{State: ipvs.DaemonMaster, Interface: "sync0", SyncID: 1}))
	got, _ = c.Daemons(ctx)
	if len(got) != 1 || got[0].Group != netip.MustParseAddr("224.0.0.81") || got[0].Port != 8848 || got[0].TTL != 1 {
		t.Fatalf("defaults: %+v", got)
	}
	must(t, c.StopDaemon(ctx, ipvs.DaemonMaster))

	err = c.StartDaemon(ctx, ipvs.Daemon{State: ipvs.DaemonBackup, Interface: "nosuch0", SyncID: 1})
	wantErr(t, err, os.ErrNotExist, unix.ENODEV)
}

// TestStopDaemonRace stops daemons right after starting them, which makes
// the kernel drop the ACK of DEL_DAEMON much of the time; StopDaemon must
// still report success, and the daemon must be gone.
func TestKernelStopDaemonRace(t *testing.T) {
	ns, c := newClient(t)
	ctx := ctxT(t)
	ns.sh("ip link add sync0 type dummy && ip link set sync0 up")
	// A stop that takes the client's grace period (250ms) got no ACK.
	noAck := 0
	for i := range 10 {
		for _, state := range []ipvs.DaemonState{ipvs.DaemonMaster, ipvs.DaemonBackup} {
			must(t, c.StartDaemon(ctx, ipvs.Daemon{State: state, Interface: "sync0", SyncID: uint32(i)}))
			start := time.Now()
			if err := c.StopDaemon(ctx, state); err != nil {
				t.Fatalf("round %d, %s: %v", i, state, err)
			}
			if time.Since(start) >= 200*time.Millisecond {
				noAck++
			}
		}
		if d, _ := c.Daemons(ctx); len(d) != 0 {
			t.Fatalf("round %d: daemons still run: %+v", i, d)
		}
	}
	t.Logf("%d of 20 stops right after a start got no ACK from the kernel", noAck)
}

// TestScale creates 1000 services with 10 destinations each, reads them
// back (the dumps span many receive batches) and removes them.
func TestKernelScale(t *testing.T) {
	_, c := newClient(t)
	ctx := ctxT(t)
	const nsvc, ndst = 1000, 10
	start := time.Now()
	for i := range nsvc {
		svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.AddrFrom4([4]byte{10, 20, byte(i >> 8), byte(i)}), Port: 80, Scheduler: "rr"}
		must(t, c.CreateService(ctx, svc))
		for j := range ndst {
			must(t, c.CreateDestination(ctx, svc, ipvs.Destination{Address: netip.AddrFrom4([4]byte{10, 30, byte(j), byte(i % 250)}), Port: uint16(8000 + i/250), Weight: 1}))
		}
	}
	created := time.Since(start)
	start = time.Now()
	svcs, err := c.Services(ctx)
	must(t, err)
	if len(svcs) != nsvc {
		t.Fatalf("dumped %d services, want %d", len(svcs), nsvc)
	}
	total := 0
	for _, s := range svcs {
		d, err := c.Destinations(ctx, s)
		must(t, err)
		if len(d) != ndst {
			t.Fatalf("%s has %d destinations, want %d", s, len(d), ndst)
		}
		total += len(d)
	}
	read := time.Since(start)
	start = time.Now()
	snap, err := c.VirtualServers(ctx)
	must(t, err)
	snapRead := time.Since(start)
	if len(snap) != nsvc {
		t.Fatalf("VirtualServers: %d services", len(snap))
	}
	for _, vs := range snap {
		if len(vs.Destinations) != ndst {
			t.Fatalf("VirtualServers: %s has %d destinations", vs.Service, len(vs.Destinations))
		}
	}
	t.Logf("read with one dump per service: %s; with VirtualServers: %s", read, snapRead)
	start = time.Now()
	for _, s := range svcs {
		must(t, c.RemoveService(ctx, s))
	}
	left, err := c.Services(ctx)
	must(t, err)
	if len(left) != 0 || total != nsvc*ndst {
		t.Fatalf("%d services left, %d destinations read", len(left), total)
	}
	t.Logf("%d services, %d destinations: created in %s, read in %s, removed in %s (under emulation)", nsvc, total, created, read, time.Since(start))
}

// TestKernelVirtualServers reads services with their destinations, one of
// them with more than fit a dump's chunk, and compares each with what
// Destinations reads.
func TestKernelVirtualServers(t *testing.T) {
	_, c := newClient(t)
	ctx := ctxT(t)
	var b ipvs.Batch
	want := map[string]int{}
	for i := range 20 {
		svc := ipvs.Service{Protocol: ipvs.ProtocolUDP, Address: netip.AddrFrom4([4]byte{10, 40, 0, byte(i)}), Port: 53, Scheduler: "rr"}
		b.CreateService(svc)
		n := i % 3
		if i == 5 {
			n = 300
		}
		for j := range n {
			b.CreateDestination(svc, ipvs.Destination{Address: netip.AddrFrom4([4]byte{10, 41, byte(j >> 8), byte(j)}), Port: 53, Weight: 1})
		}
		want[svc.String()] = n
	}
	res, err := c.Apply(ctx, &b)
	must(t, err)
	for i, r := range res {
		if r != nil {
			t.Fatalf("write %d: %v", i, r)
		}
	}
	got, err := c.VirtualServers(ctx)
	must(t, err)
	if len(got) != len(want) {
		t.Fatalf("%d services, want %d", len(got), len(want))
	}
	for _, vs := range got {
		if len(vs.Destinations) != want[vs.Service.String()] {
			t.Errorf("%s: %d destinations, want %d", vs.Service, len(vs.Destinations), want[vs.Service.String()])
		}
		single, err := c.Destinations(ctx, vs.Service)
		must(t, err)
		sortDests(single)
		sortDests(vs.Destinations)
		if diff := cmp.Diff(single, vs.Destinations, addrCmp); diff != "" {
			t.Errorf("%s differs from Destinations (-single +snapshot):\n%s", vs.Service, diff)
		}
	}
}

// TestKernelBatch applies 1000 services with 10 destinations each, then
// the same again (every write refused as a duplicate), then 10000 weight
// updates and 1000 removals, as batches; and a batch with refused writes
// among applied ones.
func TestKernelBatch(t *testing.T) {
	_, c := newClient(t)
	ctx := ctxT(t)
	const nsvc, ndst = 1000, 10
	svcAt := func(i int) ipvs.Service {
		return ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.AddrFrom4([4]byte{10, 20, byte(i >> 8), byte(i)}), Port: 80, Scheduler: "rr"}
	}
	dstAt := func(i, j int) ipvs.Destination {
		return ipvs.Destination{Address: netip.AddrFrom4([4]byte{10, 30, byte(j), byte(i % 250)}), Port: uint16(8000 + i/250), Weight: 1}
	}
	var create, update, remove ipvs.Batch
	for i := range nsvc {
		create.CreateService(svcAt(i))
		remove.RemoveService(svcAt(i))
		for j := range ndst {
			create.CreateDestination(svcAt(i), dstAt(i, j))
			d := dstAt(i, j)
			d.Weight = uint32(2 + j)
			update.UpdateDestination(svcAt(i), d)
		}
	}
	apply := func(name string, b *ipvs.Batch, want error) time.Duration {
		t.Helper()
		start := time.Now()
		res, err := c.Apply(ctx, b)
		took := time.Since(start)
		must(t, err)
		bad := 0
		for _, r := range res {
			if (want == nil) != (r == nil) || want != nil && !errors.Is(r, want) {
				if bad++; bad < 3 {
					t.Errorf("%s: %v, want %v", name, r, want)
				}
			}
		}
		if bad > 0 {
			t.Fatalf("%s: %d of %d results wrong", name, bad, len(res))
		}
		return took
	}
	tc := apply("create", &create, nil)
	svcs, err := c.Services(ctx)
	must(t, err)
	if len(svcs) != nsvc {
		t.Fatalf("%d services after the batch", len(svcs))
	}
	dup := apply("create again", &create, os.ErrExist)
	tu := apply("update weights", &update, nil)
	d, err := c.Destinations(ctx, svcAt(999))
	must(t, err)
	for _, x := range d {
		if x.Weight < 2 || x.Weight > 11 {
			t.Fatalf("weight not updated: %+v", x)
		}
	}
	tr := apply("remove", &remove, nil)
	if left, _ := c.Services(ctx); len(left) != 0 {
		t.Fatalf("%d services left", len(left))
	}
	t.Logf("batches of %d: create %s, create again (all refused) %s, update %s, remove %s (under emulation)", create.Len(), tc, dup, tu, tr)

	// Refused writes among applied ones.
	var mixed ipvs.Batch
	mixed.CreateService(svcAt(1))
	mixed.CreateDestination(svcAt(2), dstAt(2, 0)) // no such service
	mixed.CreateDestination(svcAt(1), dstAt(1, 0))
	mixed.RemoveDestination(svcAt(1), dstAt(1, 1)) // no such destination
	mixed.CreateService(ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.9.0.1"), Port: 1, Scheduler: "nosuch"})
	res, err := c.Apply(ctx, &mixed)
	must(t, err)
	for i, want := range []error{nil, unix.ESRCH, nil, unix.ENOENT, unix.ENOENT} {
		if want == nil && res[i] != nil || want != nil && !errors.Is(res[i], want) {
			t.Errorf("mixed op %d: %v, want %v", i, res[i], want)
		}
	}
	if d, _ := c.Destinations(ctx, svcAt(1)); len(d) != 1 {
		t.Fatalf("the applied writes are missing: %v", d)
	}
}
