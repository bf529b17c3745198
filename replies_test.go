package ipvs

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ipvs-go/ipvs/internal/fakekernel"
	"github.com/ipvs-go/ipvs/internal/ipvsh"
)

var someStats = Stats{Connections: 3, InPackets: 40, OutPackets: 38, InBytes: 1 << 33, OutBytes: 5000,
	ConnectionRate: 1, InPacketRate: 9, OutPacketRate: 8, InByteRate: 700, OutByteRate: 600}

// goldenReplies are replies in the kernel's shape: each file is one genl
// message (header and attributes) as the kernel sends it, and want is
// what it must decode to.
var goldenReplies = []struct {
	name   string
	msg    []byte
	want   any
	decode func(b []byte) (any, error)
}{
	{"service_tcp4", kernelService(Service{Family: FamilyIPv4, Protocol: ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80,
		Scheduler: "rr", Flags: FlagHashed, Stats: someStats}, fakekernel.Options{}),
		Service{Family: FamilyIPv4, Protocol: ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80,
			Scheduler: "rr", Flags: FlagHashed, Stats: someStats}, decodeService},
	{"service_tcp4_pad_unknown", kernelService(Service{Family: FamilyIPv4, Protocol: ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 443,
		Scheduler: "wlc", Flags: FlagHashed | FlagPersistent, Timeout: 360 * time.Second, Netmask: PrefixMask(24), Stats: someStats}, fakekernel.Options{Pad: true, Unknown: true}),
		Service{Family: FamilyIPv4, Protocol: ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 443,
			Scheduler: "wlc", Flags: FlagHashed | FlagPersistent, Timeout: 360 * time.Second, Netmask: PrefixMask(24), Stats: someStats}, decodeService},
	{"service_udp6_pe_sip", kernelService(Service{Family: FamilyIPv6, Protocol: ProtocolUDP, Address: netip.MustParseAddr("2001:db8::1"), Port: 5060,
		Scheduler: "rr", PersistenceEngine: "sip", Flags: FlagHashed | FlagPersistent, Timeout: 60 * time.Second, Netmask: PrefixMask(64)}, fakekernel.Options{}),
		Service{Family: FamilyIPv6, Protocol: ProtocolUDP, Address: netip.MustParseAddr("2001:db8::1"), Port: 5060,
			Scheduler: "rr", PersistenceEngine: "sip", Flags: FlagHashed | FlagPersistent, Timeout: 60 * time.Second, Netmask: PrefixMask(64)}, decodeService},
	{"service_fwmark4", kernelService(Service{Family: FamilyIPv4, FWMark: 7, Scheduler: "sh", Flags: FlagHashed | FlagSHPort}, fakekernel.Options{}),
		Service{Family: FamilyIPv4, FWMark: 7, Scheduler: "sh", Flags: FlagHashed | FlagSHPort}, decodeService},
	// Before Linux 4.1 there is no STATS64; STATS truncates most counters.
	{"service_stats32_only", kernelService(Service{Family: FamilyIPv4, Protocol: ProtocolUDP, Address: netip.MustParseAddr("10.0.0.2"), Port: 53,
		Scheduler: "rr", Stats: Stats{Connections: 1<<32 + 5, InBytes: 1 << 40}}, fakekernel.Options{No64: true}),
		Service{Family: FamilyIPv4, Protocol: ProtocolUDP, Address: netip.MustParseAddr("10.0.0.2"), Port: 53,
			Scheduler: "rr", Stats: Stats{Connections: 5, InBytes: 1 << 40}}, decodeService},
	{"dest_masq4", kernelDestination(Destination{Family: FamilyIPv4, Address: netip.MustParseAddr("192.168.1.2"), Port: 8080, Weight: 1,
		ActiveConnections: 2, InactiveConnections: 3, Stats: someStats}, fakekernel.Options{}),
		Destination{Family: FamilyIPv4, Address: netip.MustParseAddr("192.168.1.2"), Port: 8080, Weight: 1,
			ActiveConnections: 2, InactiveConnections: 3, Stats: someStats}, decodeDest(FamilyIPv4)},
	{"dest_tunnel_gue6_pad_unknown", kernelDestination(Destination{Family: FamilyIPv6, Address: netip.MustParseAddr("2001:db8::2"), Port: 80, Weight: 5,
		Forward: ForwardTunnel, TunnelType: TunnelGUE, TunnelPort: 6080, TunnelFlags: TunnelChecksum | TunnelRemoteChecksum,
		UpperThreshold: 100, LowerThreshold: 50, PersistentConnections: 4}, fakekernel.Options{Pad: true, Unknown: true}),
		Destination{Family: FamilyIPv6, Address: netip.MustParseAddr("2001:db8::2"), Port: 80, Weight: 5,
			Forward: ForwardTunnel, TunnelType: TunnelGUE, TunnelPort: 6080, TunnelFlags: TunnelChecksum | TunnelRemoteChecksum,
			UpperThreshold: 100, LowerThreshold: 50, PersistentConnections: 4}, decodeDest(FamilyIPv6)},
	// An IPv6 tunnel destination of an IPv4 service.
	{"dest_mixed_family", kernelDestination(Destination{Family: FamilyIPv6, Address: netip.MustParseAddr("2001:db8::7"), Port: 80, Weight: 1,
		Forward: ForwardTunnel, TunnelType: TunnelGRE}, fakekernel.Options{}),
		Destination{Family: FamilyIPv6, Address: netip.MustParseAddr("2001:db8::7"), Port: 80, Weight: 1,
			Forward: ForwardTunnel, TunnelType: TunnelGRE}, decodeDest(FamilyIPv4)},
	{"daemon_master_group4", kernelDaemon(Daemon{State: DaemonMaster, Interface: "dummy0", SyncID: 7, MaxLength: 1472,
		Group: netip.MustParseAddr("224.0.0.81"), Port: 8848, TTL: 1}),
		Daemon{State: DaemonMaster, Interface: "dummy0", SyncID: 7, MaxLength: 1472,
			Group: netip.MustParseAddr("224.0.0.81"), Port: 8848, TTL: 1}, decodeDaemon},
	{"daemon_backup_group6", kernelDaemon(Daemon{State: DaemonBackup, Interface: "dummy0", SyncID: 9, MaxLength: 1452,
		Group: netip.MustParseAddr("ff02::81"), Port: 12345, TTL: 3}),
		Daemon{State: DaemonBackup, Interface: "dummy0", SyncID: 9, MaxLength: 1452,
			Group: netip.MustParseAddr("ff02::81"), Port: 12345, TTL: 3}, decodeDaemon},
	{"info", kernelInfo(Info{Version: Version{1, 2, 1}, ConnectionTableSize: 4096}),
		Info{Version: Version{1, 2, 1}, ConnectionTableSize: 4096}, decodeInfo},
	{"timeouts", kernelTimeouts(Timeouts{TCP: 900 * time.Second, TCPFin: 120 * time.Second, UDP: 300 * time.Second}),
		Timeouts{TCP: 900 * time.Second, TCPFin: 120 * time.Second, UDP: 300 * time.Second}, decodeTimeouts},
	// A kernel built without UDP support sends no UDP timeout.
	{"timeouts_no_udp", kernelTimeouts(Timeouts{TCP: 900 * time.Second, TCPFin: 120 * time.Second}),
		Timeouts{TCP: 900 * time.Second, TCPFin: 120 * time.Second}, decodeTimeouts},
}

func decodeService(b []byte) (any, error) {
	var s Service
	err := decodeServiceMessage(b, &s)
	return s, err
}

func decodeDest(svcFamily Family) func([]byte) (any, error) {
	return func(b []byte) (any, error) {
		var d Destination
		err := decodeDestinationMessage(b, svcFamily, &d)
		return d, err
	}
}

func decodeDaemon(b []byte) (any, error) {
	var d Daemon
	err := decodeDaemonMessage(b, &d)
	return d, err
}

func decodeInfo(b []byte) (any, error) {
	var i Info
	err := decodeInfoMessage(b, &i)
	return i, err
}

func decodeTimeouts(b []byte) (any, error) {
	var t Timeouts
	err := decodeTimeoutsMessage(b, &t)
	return t, err
}

var cmpOpts = []cmp.Option{cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmpopts.EquateComparable(Netmask{})}

func TestGoldenReplies(t *testing.T) {
	skipBigEndian(t)
	for _, tt := range goldenReplies {
		t.Run(tt.name, func(t *testing.T) {
			// The file is checked against the kernel-side encoder, so that
			// neither drifts unnoticed, then decoded.
			golden(t, filepath.Join("replies", tt.name+".bin"), tt.msg)
			b, err := os.ReadFile(filepath.Join("testdata", "replies", tt.name+".bin"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := tt.decode(b)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpOpts...); diff != "" {
				t.Fatalf("unexpected decoded value (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCapturedReplies decodes replies captured from real kernels (make
// capture, testdata/replies/linux-X.Y) for the configuration that
// TestKernelCaptureReplies makes, into the values that configuration
// must read back as.
func TestCapturedReplies(t *testing.T) {
	skipBigEndian(t)
	dirs, err := filepath.Glob(filepath.Join("testdata", "replies", "linux-*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no captured replies (make capture): %v", err)
	}
	services := map[string]Service{
		"service_tcp4": {Family: FamilyIPv4, Protocol: ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "rr", Flags: FlagHashed},
		"service_udp6": {Family: FamilyIPv6, Protocol: ProtocolUDP, Address: netip.MustParseAddr("2001:db8::1"), Port: 53, Scheduler: "wlc",
			Flags: FlagPersistent | FlagHashed, Timeout: 300 * time.Second, Netmask: PrefixMask(64)},
		"service_fwmark4": {Family: FamilyIPv4, FWMark: 7, Scheduler: "sh", Flags: FlagSHFallback | FlagSHPort | FlagHashed},
		"service_sip4": {Family: FamilyIPv4, Protocol: ProtocolUDP, Address: netip.MustParseAddr("10.0.0.5"), Port: 5060, Scheduler: "rr",
			PersistenceEngine: "sip", Flags: FlagPersistent | FlagHashed, Timeout: 60 * time.Second, Netmask: PrefixMask(24)},
	}
	dests := map[netip.Addr]Destination{}
	for _, d := range []Destination{
		{Family: FamilyIPv4, Address: netip.MustParseAddr("192.168.7.2"), Port: 8080, Forward: ForwardMasquerade, Weight: 3},
		{Family: FamilyIPv4, Address: netip.MustParseAddr("192.168.7.4"), Port: 80, Forward: ForwardTunnel, Weight: 2, TunnelType: TunnelGUE, TunnelPort: 6080, TunnelFlags: TunnelChecksum},
		{Family: FamilyIPv6, Address: netip.MustParseAddr("2001:db8::7"), Port: 80, Forward: ForwardTunnel, Weight: 1, TunnelType: TunnelGRE},
		{Family: FamilyIPv6, Address: netip.MustParseAddr("2001:db8::2"), Port: 53, Forward: ForwardDirectRoute, Weight: 100, UpperThreshold: 1000, LowerThreshold: 800},
	} {
		dests[d.Address] = d
	}
	daemons := []Daemon{
		{State: DaemonMaster, Interface: "sync0", SyncID: 7, MaxLength: 1000, Group: netip.MustParseAddr("239.1.2.3"), Port: 12345, TTL: 2},
		// The backup's maximum length is the kernel's default for an IPv6
		// group on a 1500-byte MTU.
		{State: DaemonBackup, Interface: "sync0", SyncID: 9, MaxLength: 1452, Group: netip.MustParseAddr("ff02::81"), Port: 8849, TTL: 1},
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			read := func(name string) []byte {
				t.Helper()
				b, err := os.ReadFile(filepath.Join(dir, name+".bin"))
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			check := func(name string, want, got any, err error) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
					t.Errorf("%s (-want +got):\n%s", name, diff)
				}
			}
			for name, want := range services {
				got, err := decodeService(read(name))
				check(name, want, got, err)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "dests_*.bin"))
			if len(files) != 4 {
				t.Fatalf("%d destination replies, want 4", len(files))
			}
			for _, f := range files {
				b, _ := os.ReadFile(f)
				svcFamily := FamilyIPv4
				if strings.Contains(f, "udp6") {
					svcFamily = FamilyIPv6
				}
				got, err := decodeDest(svcFamily)(b)
				d, _ := got.(Destination)
				check(filepath.Base(f), dests[d.Address], got, err)
			}
			for i, want := range daemons {
				got, err := decodeDaemon(read(fmt.Sprintf("daemons_%d", i)))
				check(fmt.Sprintf("daemons_%d", i), want, got, err)
			}
			info, err := decodeInfo(read("info"))
			// Earlier kernels report the global table's 4096 buckets;
			// Linux 7.2 a table of the namespace's own, of 256 buckets
			// once the namespace has services.
			size := uint32(4096)
			if filepath.Base(dir) == "linux-7.2" {
				size = 256
			}
			check("info", Info{Version: Version{1, 2, 1}, ConnectionTableSize: size}, info, err)
			to, err := decodeTimeouts(read("timeouts"))
			check("timeouts", Timeouts{TCP: 1000 * time.Second, TCPFin: 20 * time.Second, UDP: 30 * time.Second}, to, err)
		})
	}
}

func TestClientDecodesReplies(t *testing.T) {
	svc := Service{Family: FamilyIPv4, Protocol: ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "rr", Flags: FlagHashed, Stats: someStats}
	dst := Destination{Family: FamilyIPv4, Address: netip.MustParseAddr("10.0.0.2"), Port: 80, Weight: 1, Stats: someStats}
	k := newFakeKernel(t, func(req *fakekernel.Request) fakekernel.Answer {
		switch req.Cmd {
		case ipvsh.CmdGetService:
			return fakekernel.Answer{Msgs: [][]byte{kernelService(svc, fakekernel.Options{})}}
		case ipvsh.CmdGetDest:
			return fakekernel.Answer{Msgs: [][]byte{kernelDestination(dst, fakekernel.Options{})}}
		}
		return answer(req)
	})
	c := testClient(t, k)
	ctx := context.Background()
	got, err := c.Service(ctx, tcp4)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(svc, got, cmpOpts...); diff != "" {
		t.Errorf("Service (-want +got):\n%s", diff)
	}
	dests, err := c.Destinations(ctx, tcp4)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Destination{dst}, dests, cmpOpts...); diff != "" {
		t.Errorf("Destinations (-want +got):\n%s", diff)
	}
	info, err := c.Info(ctx)
	if err != nil || info.Version.String() != "1.2.1" || info.ConnectionTableSize != 4096 {
		t.Errorf("Info = %+v, %v", info, err)
	}
	to, err := c.Timeouts(ctx)
	if err != nil || to != (Timeouts{TCP: 900 * time.Second, TCPFin: 120 * time.Second, UDP: 300 * time.Second}) {
		t.Errorf("Timeouts = %+v, %v", to, err)
	}
}
