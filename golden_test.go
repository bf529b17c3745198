package ipvs

import (
	"bytes"
	"context"
	"encoding/hex"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/cpu"

	"github.com/ipvs-go/ipvs/internal/fakekernel"
	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata from the current encoders")

// skipBigEndian skips tests whose golden bytes are little-endian: most
// IPVS integers are in host order.
func skipBigEndian(t testing.TB) {
	t.Helper()
	if cpu.IsBigEndian {
		t.Skip("golden files are little-endian")
	}
}

// golden compares got with the file testdata/name, or writes it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(want, got) {
		t.Fatalf("bytes differ from %s:\nwant:\n%sgot:\n%s", path, hex.Dump(want), hex.Dump(got))
	}
}

var (
	tcp4 = Service{Protocol: ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "rr"}
	udp6 = Service{Protocol: ProtocolUDP, Address: netip.MustParseAddr("2001:db8::1"), Port: 53, Scheduler: "wlc",
		Flags: FlagPersistent, Timeout: 300 * time.Second, Netmask: PrefixMask(64)}
	fwm4 = Service{Family: FamilyIPv4, FWMark: 7, Scheduler: "sh", Flags: FlagSHFallback | FlagSHPort}
	fwm6 = Service{Family: FamilyIPv6, FWMark: 0x10000, Scheduler: "mh"}
	sip  = Service{Protocol: ProtocolUDP, Address: netip.MustParseAddr("10.0.0.5"), Port: 5060, Scheduler: "rr",
		PersistenceEngine: "sip", Flags: FlagPersistent, Timeout: 60 * time.Second, Netmask: PrefixMask(24)}
	sctp4 = Service{Protocol: ProtocolSCTP, Address: netip.MustParseAddr("10.0.0.9"), Port: 3868, Scheduler: "lc"}

	masq4 = Destination{Address: netip.MustParseAddr("192.168.1.2"), Port: 8080, Forward: ForwardMasquerade, Weight: 1}
)

// goldenRequests is every command, and each variant that changes the
// bytes, as the client sends it.
var goldenRequests = []struct {
	name  string
	cmd   uint8
	flags uint16
	call  func(ctx context.Context, c *Client) error
}{
	{"info", ipvsh.CmdGetInfo, flagsGet, func(ctx context.Context, c *Client) error { _, err := c.Info(ctx); return err }},
	{"timeouts_get", ipvsh.CmdGetConfig, flagsGet, func(ctx context.Context, c *Client) error { _, err := c.Timeouts(ctx); return err }},
	{"timeouts_set_all", ipvsh.CmdSetConfig, flagsWrite, func(ctx context.Context, c *Client) error {
		return c.SetTimeouts(ctx, Timeouts{TCP: 900 * time.Second, TCPFin: 120 * time.Second, UDP: 300 * time.Second})
	}},
	{"timeouts_set_tcp", ipvsh.CmdSetConfig, flagsWrite, func(ctx context.Context, c *Client) error {
		return c.SetTimeouts(ctx, Timeouts{TCP: time.Hour})
	}},
	{"services_dump", ipvsh.CmdGetService, flagsDump, func(ctx context.Context, c *Client) error { _, err := c.Services(ctx); return err }},
	{"service_get_tcp4", ipvsh.CmdGetService, flagsGet, func(ctx context.Context, c *Client) error { _, err := c.Service(ctx, tcp4); return err }},
	{"service_get_fwmark4", ipvsh.CmdGetService, flagsGet, func(ctx context.Context, c *Client) error { _, err := c.Service(ctx, fwm4); return err }},
	{"service_new_tcp4", ipvsh.CmdNewService, flagsWrite, func(ctx context.Context, c *Client) error { return c.CreateService(ctx, tcp4) }},
	{"service_new_udp6_persistent", ipvsh.CmdNewService, flagsWrite, func(ctx context.Context, c *Client) error { return c.CreateService(ctx, udp6) }},
	{"service_new_fwmark4_sh_flags", ipvsh.CmdNewService, flagsWrite, func(ctx context.Context, c *Client) error { return c.CreateService(ctx, fwm4) }},
	{"service_new_fwmark6", ipvsh.CmdNewService, flagsWrite, func(ctx context.Context, c *Client) error { return c.CreateService(ctx, fwm6) }},
	{"service_new_pe_sip", ipvsh.CmdNewService, flagsWrite, func(ctx context.Context, c *Client) error { return c.CreateService(ctx, sip) }},
	{"service_new_sctp4", ipvsh.CmdNewService, flagsWrite, func(ctx context.Context, c *Client) error { return c.CreateService(ctx, sctp4) }},
	{"service_set_tcp4", ipvsh.CmdSetService, flagsWrite, func(ctx context.Context, c *Client) error {
		s := tcp4
		s.Scheduler = "wrr"
		return c.UpdateService(ctx, s)
	}},
	{"service_set_flag_mask", ipvsh.CmdSetService, flagsWrite, func(ctx context.Context, c *Client) error {
		s := tcp4
		s.Flags, s.FlagsMask = FlagOnePacket, FlagOnePacket
		return c.UpdateService(ctx, s)
	}},
	{"service_del_tcp4", ipvsh.CmdDelService, flagsWrite, func(ctx context.Context, c *Client) error { return c.RemoveService(ctx, tcp4) }},
	{"service_del_udp6", ipvsh.CmdDelService, flagsWrite, func(ctx context.Context, c *Client) error { return c.RemoveService(ctx, udp6) }},
	{"service_del_fwmark4", ipvsh.CmdDelService, flagsWrite, func(ctx context.Context, c *Client) error { return c.RemoveService(ctx, fwm4) }},
	{"dests_dump_tcp4", ipvsh.CmdGetDest, flagsDump, func(ctx context.Context, c *Client) error { _, err := c.Destinations(ctx, tcp4); return err }},
	{"dests_dump_fwmark6", ipvsh.CmdGetDest, flagsDump, func(ctx context.Context, c *Client) error { _, err := c.Destinations(ctx, fwm6); return err }},
	{"dest_new_masq4", ipvsh.CmdNewDest, flagsWrite, func(ctx context.Context, c *Client) error { return c.CreateDestination(ctx, tcp4, masq4) }},
	{"dest_new_droute6_thresholds", ipvsh.CmdNewDest, flagsWrite, func(ctx context.Context, c *Client) error {
		return c.CreateDestination(ctx, udp6, Destination{Address: netip.MustParseAddr("2001:db8::2"), Port: 53,
			Forward: ForwardDirectRoute, Weight: 100, UpperThreshold: 1000, LowerThreshold: 800})
	}},
	{"dest_new_tunnel_ipip", ipvsh.CmdNewDest, flagsWrite, func(ctx context.Context, c *Client) error {
		return c.CreateDestination(ctx, tcp4, Destination{Address: netip.MustParseAddr("192.168.1.3"), Port: 80, Forward: ForwardTunnel, Weight: 2})
	}},
	{"dest_new_tunnel_gue_csum", ipvsh.CmdNewDest, flagsWrite, func(ctx context.Context, c *Client) error {
		return c.CreateDestination(ctx, tcp4, Destination{Address: netip.MustParseAddr("192.168.1.4"), Port: 80, Forward: ForwardTunnel, Weight: 3,
			TunnelType: TunnelGUE, TunnelPort: 6080, TunnelFlags: TunnelChecksum})
	}},
	{"dest_new_tunnel_gre_remcsum", ipvsh.CmdNewDest, flagsWrite, func(ctx context.Context, c *Client) error {
		return c.CreateDestination(ctx, tcp4, Destination{Address: netip.MustParseAddr("192.168.1.5"), Port: 80, Forward: ForwardTunnel, Weight: 4,
			TunnelType: TunnelGRE, TunnelFlags: TunnelRemoteChecksum})
	}},
	{"dest_new_mixed_family", ipvsh.CmdNewDest, flagsWrite, func(ctx context.Context, c *Client) error {
		return c.CreateDestination(ctx, tcp4, Destination{Address: netip.MustParseAddr("2001:db8::7"), Port: 80, Forward: ForwardTunnel, Weight: 1})
	}},
	{"dest_new_fwmark4", ipvsh.CmdNewDest, flagsWrite, func(ctx context.Context, c *Client) error {
		return c.CreateDestination(ctx, fwm4, Destination{Address: netip.MustParseAddr("192.168.1.6"), Forward: ForwardDirectRoute, Weight: 1})
	}},
	{"dest_set_weight", ipvsh.CmdSetDest, flagsWrite, func(ctx context.Context, c *Client) error {
		d := masq4
		d.Weight = 0
		return c.UpdateDestination(ctx, tcp4, d)
	}},
	{"dest_del_masq4", ipvsh.CmdDelDest, flagsWrite, func(ctx context.Context, c *Client) error { return c.RemoveDestination(ctx, tcp4, masq4) }},
	{"dest_del_mixed_family", ipvsh.CmdDelDest, flagsWrite, func(ctx context.Context, c *Client) error {
		return c.RemoveDestination(ctx, tcp4, Destination{Address: netip.MustParseAddr("2001:db8::7"), Port: 80})
	}},
	{"daemons_dump", ipvsh.CmdGetDaemon, flagsDump, func(ctx context.Context, c *Client) error { _, err := c.Daemons(ctx); return err }},
	{"daemon_new_master_minimal", ipvsh.CmdNewDaemon, flagsWrite, func(ctx context.Context, c *Client) error {
		return c.StartDaemon(ctx, Daemon{State: DaemonMaster, Interface: "eth0", SyncID: 1})
	}},
	{"daemon_new_master_group4", ipvsh.CmdNewDaemon, flagsWrite, func(ctx context.Context, c *Client) error {
		return c.StartDaemon(ctx, Daemon{State: DaemonMaster, Interface: "dummy0", SyncID: 7, MaxLength: 1400,
			Group: netip.MustParseAddr("239.1.2.3"), Port: 12345, TTL: 2})
	}},
	{"daemon_new_backup_group6", ipvsh.CmdNewDaemon, flagsWrite, func(ctx context.Context, c *Client) error {
		return c.StartDaemon(ctx, Daemon{State: DaemonBackup, Interface: "dummy0", SyncID: 7,
			Group: netip.MustParseAddr("ff02::81"), Port: 8848, TTL: 1})
	}},
	{"daemon_del_master", ipvsh.CmdDelDaemon, flagsWrite, func(ctx context.Context, c *Client) error { return c.StopDaemon(ctx, DaemonMaster) }},
	{"daemon_del_backup", ipvsh.CmdDelDaemon, flagsWrite, func(ctx context.Context, c *Client) error { return c.StopDaemon(ctx, DaemonBackup) }},
	{"zero_all", ipvsh.CmdZero, flagsWrite, func(ctx context.Context, c *Client) error { return c.ZeroStats(ctx) }},
	{"zero_service_tcp4", ipvsh.CmdZero, flagsWrite, func(ctx context.Context, c *Client) error { return c.ZeroServiceStats(ctx, tcp4) }},
	{"zero_service_fwmark6", ipvsh.CmdZero, flagsWrite, func(ctx context.Context, c *Client) error { return c.ZeroServiceStats(ctx, fwm6) }},
	{"flush", ipvsh.CmdFlush, flagsWrite, func(ctx context.Context, c *Client) error { return c.Flush(ctx) }},
}

// answer is a fake kernel that replies to each command with a plausible
// answer: a message for single gets, nothing in dumps, an ACK for writes.
func answer(req *fakekernel.Request) fakekernel.Answer {
	switch req.Cmd {
	case ipvsh.CmdGetInfo:
		return fakekernel.Answer{Msgs: [][]byte{kernelInfo(Info{Version: Version{1, 2, 1}, ConnectionTableSize: 4096})}}
	case ipvsh.CmdGetConfig:
		return fakekernel.Answer{Msgs: [][]byte{kernelTimeouts(Timeouts{TCP: 900 * time.Second, TCPFin: 120 * time.Second, UDP: 300 * time.Second})}}
	case ipvsh.CmdGetService:
		if req.Header.Flags&nlmsg.FlagDump == 0 {
			return fakekernel.Answer{Msgs: [][]byte{kernelService(Service{Family: FamilyIPv4, FWMark: 7, Scheduler: "sh"}, fakekernel.Options{})}}
		}
	}
	return fakekernel.Answer{}
}

func TestGoldenRequests(t *testing.T) {
	skipBigEndian(t)
	for _, tt := range goldenRequests {
		t.Run(tt.name, func(t *testing.T) {
			k := newFakeKernel(t, answer)
			if err := tt.call(context.Background(), testClient(t, k)); err != nil {
				t.Fatalf("call: %v", err)
			}
			reqs := k.Recorded()
			if len(reqs) != 1 {
				t.Fatalf("sent %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Header.Type != testFamilyID {
				t.Errorf("message type %#x, want the family ID %#x", r.Header.Type, testFamilyID)
			}
			if diff := cmp.Diff(tt.flags, r.Header.Flags); diff != "" {
				t.Errorf("unexpected header flags (-want +got):\n%s", diff)
			}
			if r.Cmd != tt.cmd {
				t.Errorf("command %d, want %d", r.Cmd, tt.cmd)
			}
			if v := r.Raw[nlmsg.HeaderLen+1]; v != ipvsh.GenlVersion {
				t.Errorf("genl version %d, want %d", v, ipvsh.GenlVersion)
			}
			golden(t, filepath.Join("requests", tt.name+".bin"), r.Raw[nlmsg.HeaderLen:])
		})
	}
}
