package text

import (
	"bufio"
	"bytes"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/cli"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fixture is a table no kernel is needed for: large counters, every
// forwarding method, tunnels, long IPv6 names, a non-contiguous mask and
// addresses more than 2^31 apart, in an order the kernel could list.
func fixture() []ipvs.VirtualServer {
	a := netip.MustParseAddr
	big := ipvs.Stats{Connections: 99999999, InPackets: 100000000, OutPackets: 999999999999, InBytes: 1 << 50, OutBytes: 123456789012345678,
		ConnectionRate: 12, InPacketRate: 123456789, OutPacketRate: 3, InByteRate: 4000000000, OutByteRate: 5}
	return []ipvs.VirtualServer{
		{Service: ipvs.Service{Family: ipvs.FamilyIPv4, Protocol: ipvs.ProtocolTCP, Address: a("200.0.0.1"), Port: 80, Scheduler: "rr", Stats: big},
			Destinations: []ipvs.Destination{
				{Address: a("10.1.0.1"), Port: 80, Forward: ipvs.ForwardMasquerade, Weight: 1, Stats: big},
				{Address: a("192.168.1.1"), Port: 80, Forward: ipvs.ForwardDirectRoute, Weight: 0, ActiveConnections: 7, InactiveConnections: 3},
				{Address: a("1.2.3.4"), Port: 81, Forward: ipvs.ForwardLocalNode, Weight: 5, UpperThreshold: 2000000000, LowerThreshold: 10, PersistentConnections: 4},
				{Address: a("129.0.0.2"), Port: 80, Forward: ipvs.ForwardBypass, Weight: 2147483647},
			}},
		{Service: ipvs.Service{Family: ipvs.FamilyIPv4, Protocol: ipvs.ProtocolTCP, Address: a("10.0.0.20"), Port: 80, Scheduler: "sh",
			Flags: ipvs.FlagPersistent | ipvs.FlagSHFallback | ipvs.FlagSHPort, Timeout: 600 * time.Second, Netmask: ipvs.IPv4Mask([4]byte{255, 0, 255, 0})},
			Destinations: []ipvs.Destination{
				{Address: a("10.1.0.16"), Port: 80, Forward: ipvs.ForwardTunnel, Weight: 1, TunnelType: ipvs.TunnelGRE, TunnelFlags: ipvs.TunnelRemoteChecksum},
				{Address: a("10.1.0.13"), Port: 80, Forward: ipvs.ForwardTunnel, Weight: 1, TunnelType: ipvs.TunnelGUE, TunnelPort: 6080, TunnelFlags: ipvs.TunnelChecksum},
				{Address: a("10.1.0.12"), Port: 80, Forward: ipvs.ForwardTunnel, Weight: 1},
				{Address: a("2001:db8:2::1"), Port: 80, Forward: ipvs.ForwardTunnel, Weight: 1, TunnelType: ipvs.TunnelGUE, TunnelPort: 7000},
			}},
		{Service: ipvs.Service{Family: ipvs.FamilyIPv6, Protocol: ipvs.ProtocolUDP, Address: a("2001:db8:ffff:ffff:ffff:ffff:ffff:fffe"), Port: 65535,
			Scheduler: "mh", Flags: ipvs.FlagPersistent | ipvs.FlagSHPort | ipvs.FlagOnePacket, Timeout: 300 * time.Second, Netmask: ipvs.PrefixMask(64), PersistenceEngine: "sip"},
			Destinations: []ipvs.Destination{{Address: a("::102:304"), Port: 5060, Forward: ipvs.ForwardMasquerade, Weight: 65535}}},
		{Service: ipvs.Service{Family: ipvs.FamilyIPv4, FWMark: 4000000000, Scheduler: "wlc", Flags: ipvs.FlagSched3}},
		{Service: ipvs.Service{Family: ipvs.FamilyIPv6, FWMark: 6, Scheduler: "wlc", Flags: ipvs.FlagPersistent, Timeout: 120 * time.Second},
			Destinations: []ipvs.Destination{{Address: a("2001:db8:1::2"), Forward: ipvs.ForwardDirectRoute, Weight: 1}}},
		{Service: ipvs.Service{Family: ipvs.FamilyIPv4, Protocol: ipvs.ProtocolSCTP, Address: a("10.0.0.4"), Port: 3868, Scheduler: "lc",
			Flags: ipvs.FlagPersistent, Timeout: 60 * time.Second, Netmask: ipvs.PrefixMask(24)}},
	}
}

// golden compares out with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, out []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("%s:\ngot:\n%s\nwant:\n%s", name, out, want)
	}
}

func TestGoldenListings(t *testing.T) {
	formats := map[string]cli.Format{
		"list": 0, "stats": cli.FmtStats, "stats-exact": cli.FmtStats | cli.FmtExact, "rate": cli.FmtRate,
		"rate-exact": cli.FmtRate | cli.FmtExact, "thresholds": cli.FmtThresholds, "persistent-conn": cli.FmtPersistentConn,
		"tun-info": cli.FmtTunInfo, "nosort": cli.FmtNoSort,
	}
	for name, f := range formats {
		t.Run(name, func(t *testing.T) {
			vs := fixture()
			if f&cli.FmtNoSort == 0 {
				Sort(vs)
			}
			var b bytes.Buffer
			w := bufio.NewWriter(&b)
			Header(w, ipvs.Info{Version: ipvs.Version{Major: 1, Minor: 2, Patch: 1}, ConnectionTableSize: 4096})
			Title(w, f|cli.FmtNumeric)
			for i := range vs {
				Service(w, &vs[i], f|cli.FmtNumeric)
			}
			w.Flush()
			golden(t, name+".txt", b.Bytes())
		})
	}
}

func TestGoldenSave(t *testing.T) {
	vs := fixture()
	Sort(vs)
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	ds := []ipvs.Daemon{
		{State: ipvs.DaemonMaster, Interface: "eth0", SyncID: 7, MaxLength: 1472, Group: netip.MustParseAddr("224.0.0.81"), Port: 8848, TTL: 1},
		{State: ipvs.DaemonBackup, Interface: "eth1", SyncID: 8},
	}
	Save(w, vs, &ipvs.Timeouts{TCP: 900 * time.Second, TCPFin: 120 * time.Second, UDP: 300 * time.Second}, ds, cli.FmtNumeric|cli.FmtRule)
	Timeouts(w, ipvs.Timeouts{TCP: 900 * time.Second, TCPFin: 120 * time.Second, UDP: 300 * time.Second})
	Daemons(w, ds)
	w.Flush()
	golden(t, "save.txt", b.Bytes())
	// Every line of the save is one ipvsctl reads back.
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if strings.HasPrefix(line, "-") {
			if err := cli.ParseRestoreTo(&cli.Command{}, append([]string{"ipvsctl"}, strings.Fields(line)...)); err != nil {
				t.Errorf("%s: %v", line, err)
			}
		}
	}
}

func TestGoldenConnections(t *testing.T) {
	ap := netip.MustParseAddrPort
	conns := []ipvs.Connection{
		{Protocol: ipvs.ProtocolTCP, Client: ap("10.98.0.2:57320"), Virtual: ap("10.98.1.1:80"), Destination: ap("10.98.2.1:8080"), State: "ESTABLISHED", Expires: 899 * time.Second},
		{Protocol: ipvs.ProtocolUDP, Client: ap("[2001:db8::9]:5060"), Virtual: ap("[2001:db8::1]:5060"), Destination: ap("10.1.0.6:5060"), State: "UDP", Expires: 5999 * time.Second,
			PersistenceEngine: "sip", PEData: "a84b4c76e66710"},
		{Protocol: 0, Client: ap("10.98.0.2:0"), Virtual: ap("0.0.0.5:0"), Destination: ap("10.1.0.10:0"), State: "NONE", Expires: 59 * time.Second},
	}
	for name, f := range map[string]cli.Format{"conns": cli.FmtNumeric, "conns-pe": cli.FmtNumeric | cli.FmtPersistentConn} {
		var b bytes.Buffer
		w := bufio.NewWriter(&b)
		ConnTitle(w, f)
		for i := range conns {
			Conn(w, &conns[i], f)
		}
		w.Flush()
		golden(t, name+".txt", b.Bytes())
	}
}
