package schema

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func table() []ipvs.VirtualServer {
	a := netip.MustParseAddr
	return []ipvs.VirtualServer{
		{Service: ipvs.Service{Family: ipvs.FamilyIPv4, Protocol: ipvs.ProtocolTCP, Address: a("10.0.0.1"), Port: 80, Scheduler: "rr",
			Flags: ipvs.FlagPersistent | ipvs.FlagHashed, Timeout: 300 * time.Second, Netmask: ipvs.IPv4Mask([4]byte{255, 255, 0, 255}),
			Stats: ipvs.Stats{Connections: 3, InBytes: 1 << 40}},
			Destinations: []ipvs.Destination{
				{Address: a("10.1.0.1"), Port: 8080, Forward: ipvs.ForwardMasquerade, Weight: 3, UpperThreshold: 100, LowerThreshold: 10, ActiveConnections: 2},
				{Address: a("2001:db8::7"), Port: 80, Forward: ipvs.ForwardTunnel, Weight: 1, TunnelType: ipvs.TunnelGUE, TunnelPort: 6080, TunnelFlags: ipvs.TunnelRemoteChecksum},
			}},
		{Service: ipvs.Service{Family: ipvs.FamilyIPv6, FWMark: 7, Scheduler: "mh", Flags: ipvs.FlagPersistent | ipvs.FlagSHPort, Timeout: time.Minute, Netmask: ipvs.PrefixMask(48)}},
		{Service: ipvs.Service{Family: ipvs.FamilyIPv6, Protocol: ipvs.ProtocolUDP, Address: a("2001:db8::1"), Port: 5060, Scheduler: "rr",
			PersistenceEngine: "sip", Flags: ipvs.FlagPersistent | ipvs.FlagOnePacket, Timeout: time.Minute}},
	}
}

func TestGoldenEncodings(t *testing.T) {
	tab := &Table{
		Info:     FromInfo(ipvs.Info{Version: ipvs.Version{Major: 1, Minor: 2, Patch: 1}, ConnectionTableSize: 4096}),
		Services: FromServices(table()),
		Timeouts: FromTimeouts(ipvs.Timeouts{TCP: 900 * time.Second, TCPFin: 120 * time.Second, UDP: 300 * time.Second}),
		Daemons:  FromDaemons([]ipvs.Daemon{{State: ipvs.DaemonBackup, Interface: "eth0", SyncID: 3, Group: netip.MustParseAddr("ff02::99"), Port: 8848, TTL: 1}}),
	}
	for _, tt := range []struct {
		name         string
		yaml, pretty bool
	}{{"table.json", false, false}, {"table-pretty.json", false, true}, {"table.yaml", true, false}} {
		out, err := Encode(tab, tt.yaml, tt.pretty)
		if err != nil {
			t.Fatal(err)
		}
		path := "testdata/" + tt.name
		if *update {
			if err := os.WriteFile(path, out, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, want) {
			t.Errorf("%s:\n%s\nwant:\n%s", tt.name, out, want)
		}
		// Every encoding reads back to the same desired table.
		back, err := Decode(out)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got, err := back.Desired()
		if err != nil {
			t.Fatal(err)
		}
		if want := desiredOf(table()); !reflect.DeepEqual(got, want) {
			t.Errorf("%s read back:\n%+v\nwant:\n%+v", tt.name, got, want)
		}
		ds, err := back.DesiredDaemons()
		if err != nil || len(ds) != 1 || ds[0].Group != netip.MustParseAddr("ff02::99") || ds[0].State != ipvs.DaemonBackup {
			t.Errorf("%s daemons: %+v, %v", tt.name, ds, err)
		}
	}
}

// desiredOf strips what a desired table does not carry: counters,
// connection counts, the hashed flag.
func desiredOf(vs []ipvs.VirtualServer) []ipvs.VirtualServer {
	for i := range vs {
		s := &vs[i].Service
		s.Stats, s.Flags = ipvs.Stats{}, s.Flags&^ipvs.FlagHashed
		if s.FWMark != 0 {
			s.Protocol = 0
		}
		for j := range vs[i].Destinations {
			d := &vs[i].Destinations[j]
			d.ActiveConnections, d.InactiveConnections, d.PersistentConnections, d.Stats = 0, 0, 0, ipvs.Stats{}
		}
	}
	return vs
}

func TestDecodeRefusals(t *testing.T) {
	for _, in := range []string{
		`{"services": [{"family": "ipv4", "protocol": "tcp", "address": "10.0.0.1", "port": 80, "scheduler": "rr", "destinations": [], "bogus": 1}]}`,
		`services: [{family: ipv4, protocol: icmp, address: 10.0.0.1, port: 80, scheduler: rr}]`,
		`services: [{family: ipv4, protocol: tcp, address: 10.0.0.300, port: 80, scheduler: rr}]`,
		`services: [{family: ipv4, protocol: tcp, address: 10.0.0.1, port: 80, scheduler: rr, flags: [sticky]}]`,
		`services: [{family: ipv6, protocol: tcp, address: "2001:db8::1", port: 80, scheduler: rr, netmask: "ffff::ffff"}]`,
		`services: [{family: ipv4, protocol: tcp, address: 10.0.0.1, port: 80, scheduler: rr, destinations: [{address: 10.1.0.1, port: 80, forward: nat}]}]`,
		`services: [{family: ipv4, protocol: tcp, address: 10.0.0.1, port: 80, scheduler: rr, destinations: [{address: 10.1.0.1, port: 80, forward: tunnel, tunnelType: vxlan}]}]`,
		`services: [{family: ipv4, protocol: tcp, address: 10.0.0.1, port: 99999, scheduler: rr}]`,
	} {
		tab, err := Decode([]byte(in))
		if err == nil {
			_, err = tab.Desired()
		}
		if err == nil {
			t.Errorf("accepted %s", in)
		}
	}
}

// TestYAMLStrings: a string the YAML listing writes reads back as that
// string, whatever it holds.
func TestYAMLStrings(t *testing.T) {
	for _, s := range []string{"eth0", "", "true", "False", "yes", "off", "y", "null", "~", "1:2:3:4:5:6:7:8", "ffff::",
		"::1", "0x1F", "0o17", "017", "1e3", "+1", "-x", ".inf", ".nan", "1_000", "2001-12-14", "a: b", "a:", "#x", "x #y",
		"é", "tab\there", "line\nbreak", "quote\"s", "back\\slash", "{x}", "[x]", "*a", "&a", "!tag", "%x", "@x", "`x", "|", ">",
		"10.0.0.1", "2001:db8::1", "190:20:30", "1.2.1"} {
		tab := &Table{Daemons: []Daemon{{State: "master", Interface: s}}}
		out, err := Encode(tab, true, false)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decode(out)
		if err != nil {
			t.Errorf("%q: %s: %v", s, out, err)
			continue
		}
		if got := back.Daemons[0].Interface; got != s {
			t.Errorf("%q: wrote %q, read back %q", s, out, got)
		}
	}
}

// TestDecodeStrict: JSON, read token by token, and YAML, read through
// its node tree, are refused alike, at the line and column of the fault.
func TestDecodeStrict(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"{\"services\": [\n {\"family\": \"ipv4\", \"Port\": 80}]}", `line 2, column 21: services[0]: unknown field "Port": names are case-sensitive, did you mean "port"?`},
		{"services:\n - {family: ipv4, Port: 80}", `line 2, column 19: services[0]: unknown field "Port": names are case-sensitive, did you mean "port"?`},
		{"{\"timeouts\": {\"tcp\": 1, \"tcp\": 2}}", `line 1, column 25: timeouts: "tcp" is given twice (first at line 1)`},
		{"{\"timeouts\": {\"tcp\": \"1\"}}", `line 1, column 22: timeouts.tcp: want a whole number from 0 to 4294967295, not "1"`},
		{"{\"timeouts\": {\"tcp\": 1.5}}", `line 1, column 22: timeouts.tcp: want a whole number from 0 to 4294967295, not the number 1.5`},
		{"{\"timeouts\": {\"tcp\": -1}}", `line 1, column 22: timeouts.tcp: want a whole number from 0 to 4294967295, not the number -1`},
		{"{\"services\": {}}", `line 1, column 14: services: want a list, not a mapping`},
		{"{}\n{}", `line 2, column 1: a second document: a table file holds one`},
		{"{\"services\": [}", `line 1, column 15: not JSON: invalid character '}' looking for beginning of value`},
		{"{\"services\": [", `line 1, column 15: not JSON: unexpected EOF`},
	} {
		_, err := Decode([]byte(tt.in))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%q:\n%v\nwant\n%s", tt.in, err, tt.want)
		}
	}
}
