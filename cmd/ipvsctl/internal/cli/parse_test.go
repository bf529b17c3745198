package cli

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
)

// refusals are command lines ipvsadm 1.31 refuses, with its message and
// exit status.
var refusals = []struct {
	args string
	code int
	msg  string
}{
	{"-n -L", 255, ""},
	{"foo", 255, ""},
	{"--bogus", 255, ""},
	{"-L --bogus", 255, "--bogus: unknown option"},
	{"-A -t 10.0.0.1:80 -w", 255, "-w: missing argument"},
	{"-L -A", 2, "multiple commands specified"},
	{"-A -t 10.0.0.1:80 -t 10.0.0.2:80", 2, "multiple 'service-address' options specified"},
	{"-A", 2, "You need to supply the 'service-address' option for the 'add-service' command"},
	{"-A -t 10.0.0.1:80 -r 10.0.0.2", 2, "Illegal 'real-server' option with the 'add-service' command"},
	{"-L -c --timeout", 2, "The option 'timeout' conflicts with the 'connection' option in the 'list' command"},
	{"-L -t 10.0.0.1:80 --daemon", 2, "The option 'daemon' conflicts with the 'service-address' option in the 'list' command"},
	{"-L -c --stats", 2, "options conflicts in the list command"},
	{"-L --daemon --persistent-conn", 2, "options conflicts in the list command"},
	{"-A -t 10.0.0.1", 2, "Zero port specified for non-persistent service"},
	{"-A -t 10.0.0.1:53 -o", 2, "One-Packet Scheduling is only for UDP virtual services"},
	{"-A -t 10.0.0.1:80 -p 0", 2, "invalid timeout value `0' specified"},
	{"-A -t 10.0.0.1:80 -p 2678401", 2, "invalid timeout value `2678401' specified"},
	{"-A -t 10.0.0.1:80 -s sh -b mh-port", 2, "incompatible scheduler flag `mh-port'"},
	{"-A -t 10.0.0.1:80 -b flag-9", 2, "invalid scheduler flag `flag-9'"},
	{"-A -t 10.0.0.1:80 -6", 2, "-6 used before -f\n"},
	{"-A -f 0", 2, "invalid fwmark value `0' specified"},
	{"-A -f 4294967296", 2, "invalid fwmark value `4294967296' specified"},
	{"-A -t 10.0.0.1:nosuchservice", 2, "illegal virtual server address[:port] specified"},
	{"-A -t 10", 2, "illegal virtual server address[:port] specified"},
	{"-A -t [::1]", 2, "illegal virtual server address[:port] specified"},
	{"-A -t [::1]:80 -M 129", 2, "illegal ipv6 netmask specified"},
	{"-a -t 10.0.0.1:80 -r 10.0.0.2 -w 65536", 2, "illegal weight specified"},
	{"-a -t 10.0.0.1:80 -r 10.0.0.2 -x -1", 2, "illegal u_threshold specified"},
	{"-a -t 10.0.0.1:80 -r ::2", 2, "Different address family is allowed only for tunneling servers"},
	{"-a -t 10.0.0.1:80 -r 10.0.0.2 -m --tun-type gue", 2, "Tunnel options conflict with forward method"},
	{"-a -t 10.0.0.1:80 -r 10.0.0.2 -i --tun-type gue", 2, "You need to supply the 'tun-port' option for the 'gue' tunnel type"},
	{"-a -t 10.0.0.1:80 -r 10.0.0.2 -i --tun-port 5", 2, "Illegal 'tun-port' option with the 'ipip' tunnel type"},
	{"-a -t 10.0.0.1:80 -r 10.0.0.2 -i --tun-type gre --tun-remcsum", 2, "Illegal 'tun-remcsum' option with the 'gre' tunnel type"},
	{"-a -t 10.0.0.1:80 -r 10.0.0.2 -i --tun-type gue --tun-port 5 --tun-csum --tun-nocsum", 2, "The option 'tun-csum' conflicts with the 'tun-nocsum' option in the 'gue' tunnel type"},
	{"-a -t 10.0.0.1:80 -r 10.0.0.2 -i --tun-type vxlan", 2, "illegal tunnel type specified"},
	{"-a -t 10.0.0.1:80 -r 10.0.0.2 -g -m", 2, "multiple 'forwarding-method' options specified"},
	{"--set 1 2", 2, "--set option requires 3 timeout values"},
	{"--set 1 2 x", 2, "invalid timeout value `x' specified"},
	{"--set 1 2 3 4", 2, "unexpected argument 4"},
	{"-L extra", 2, "unexpected argument extra"},
	{"--start-daemon primary", 2, "illegal start-daemon parameter specified"},
	{"--stop-daemon primary", 2, "illegal start_daemon specified"},
	{"--start-daemon master --syncid 256", 2, "illegal syncid specified"},
	{"--start-daemon master --mcast-group 10.0.0.1", 2, "invalid IPv4 mcast-group `10.0.0.1'"},
	{"--start-daemon master --mcast-group ff02::1x", 2, "invalid IPv6 mcast-group `ff02::1x'"},
	{"--start-daemon master --sync-maxlen 65508", 2, "illegal sync-maxlen specified"},
	{"--stop-daemon master --mcast-port 9", 2, "Illegal 'mcast-port' option with the 'stop-daemon' command"},
	{"-S -c", 2, "Illegal 'connection' option with the 'save' command"},
	{"-C -n", 2, "Illegal 'numeric' option with the 'flush' command"},
	{"-R -n", 2, "Illegal 'numeric' option with the 'restore' command"},
	{"-Z -r 10.0.0.1", 2, "Illegal 'real-server' option with the 'zero' command"},
	{"-D -t 10.0.0.1:80 -s rr", 2, "Illegal 'scheduler' option with the 'delete-service' command"},
	{"-L --output xml", 2, "illegal output format `xml' specified (json, yaml or text)"},
}

func TestRefusals(t *testing.T) {
	for _, tt := range refusals {
		t.Run(tt.args, func(t *testing.T) {
			_, err := Parse(append([]string{"ipvsadm"}, strings.Fields(tt.args)...))
			var xe *ExitError
			if !errors.As(err, &xe) {
				t.Fatalf("err = %v, want an *ExitError", err)
			}
			if xe.Code != tt.code || xe.Msg != tt.msg {
				t.Errorf("got %d %q, want %d %q", xe.Code, xe.Msg, tt.code, tt.msg)
			}
		})
	}
}

// TestMatrix checks every command against every option it refuses or
// needs, from the table itself: a refused option yields ipvsadm's message.
func TestMatrix(t *testing.T) {
	// A word that sets each option of the matrix, valid on its own.
	words := [numOpts]string{"-n", "-c", "-t 10.0.0.1:80", "-s rr", "-p 10", "-M 255.255.255.0",
		"-r 10.0.0.2", "-m", "-w 2", "-x 5", "-y 1", "--mcast-interface lo", "--timeout", "--daemon",
		"--stats", "--rate", "--thresholds", "--persistent-conn", "--nosort", "--syncid 3", "--exact",
		"-o", "--pe sip", "-b flag-1", "--mcast-group 224.0.0.9", "--mcast-port 9", "--mcast-ttl 2",
		"--sync-maxlen 1000", "--tun-info", "--tun-type ipip", "--tun-port 9", "--tun-nocsum",
		"--tun-csum", "--tun-remcsum"}
	cmds := map[Cmd]string{CmdAdd: "-A", CmdEdit: "-E", CmdDel: "-D", CmdFlush: "-C", CmdList: "-L",
		CmdAddDest: "-a", CmdDelDest: "-d", CmdEditDest: "-e", CmdTimeout: "--set 1 2 3", CmdStartDaemon: "--start-daemon master",
		CmdStopDaemon: "--stop-daemon master", CmdRestore: "-R", CmdSave: "-S", CmdZero: "-Z"}
	checked := 0
	for c, cw := range cmds {
		for j := 0; j < numOpts; j++ {
			if matrix[c-1][j] != 'x' || (c == CmdList && j == optPersistent) {
				continue
			}
			line := "ipvsadm " + cw
			for k := 0; k < numOpts; k++ {
				if matrix[c-1][k] == '+' && k != j {
					line += " " + words[k]
				}
			}
			line += " " + words[j]
			_, err := Parse(strings.Fields(line))
			var xe *ExitError
			want := "Illegal '" + optNames[j] + "' option with the '" + c.String() + "' command"
			if !errors.As(err, &xe) || xe.Msg != want {
				t.Errorf("%s: %v, want %q", line, err, want)
			}
			checked++
		}
	}
	if checked < 300 {
		t.Errorf("checked only %d refusals", checked)
	}
}

func TestParse(t *testing.T) {
	mustAddr := netip.MustParseAddr
	tests := []struct {
		args string
		want func(c *Command) bool
	}{
		{"-A -t 10.0.0.1:80", func(c *Command) bool {
			s := c.Service
			return c.Cmd == CmdAdd && s.Scheduler == "wlc" && s.Address == mustAddr("10.0.0.1") && s.Port == 80 && s.Protocol == ipvs.ProtocolTCP
		}},
		{"-A -u 10.0.0.1:53 -p -s rr -o", func(c *Command) bool {
			s := c.Service
			return s.Timeout == 300*time.Second && s.Scheduler == "rr" && s.Flags == ipvs.FlagPersistent|ipvs.FlagOnePacket
		}},
		{"-A -t 10.0.0.1:0 -p 60 -M 255.255.0.0", func(c *Command) bool {
			return c.Service.Timeout == time.Minute && c.Service.Netmask == ipvs.PrefixMask(16)
		}},
		{"-A -t [2001:db8::1]:443 -p -M 64", func(c *Command) bool {
			return c.Service.Family == ipvs.FamilyIPv6 && c.Service.Netmask == ipvs.PrefixMask(64)
		}},
		{"-A -f 7 -6 -s sh -b sh-port,sh-fallback", func(c *Command) bool {
			s := c.Service
			return s.FWMark == 7 && s.Family == ipvs.FamilyIPv6 && s.Flags == ipvs.FlagSHPort|ipvs.FlagSHFallback
		}},
		{"-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -m -w 0 -x 10 -y 5", func(c *Command) bool {
			d := c.Dest
			return d.Port == 8080 && d.Forward == ipvs.ForwardMasquerade && d.Weight == 0 && d.UpperThreshold == 10 && d.LowerThreshold == 5
		}},
		{"-a -t 10.0.0.1:80 -r 10.0.0.2:8080", func(c *Command) bool {
			return c.Dest.Port == 80 && c.Dest.Forward == ipvs.ForwardDirectRoute && c.Dest.Weight == 1
		}},
		{"-a -t 10.0.0.1:80 -r 10.0.0.2 -m", func(c *Command) bool { return c.Dest.Port == 80 }},
		{"-a -t 10.0.0.1:80 -r 2001:db8::2 -i --tun-type gue --tun-port 6080 --tun-remcsum", func(c *Command) bool {
			d := c.Dest
			return d.TunnelType == ipvs.TunnelGUE && d.TunnelPort == 6080 && d.TunnelFlags == ipvs.TunnelRemoteChecksum && d.Family == ipvs.FamilyIPv6
		}},
		{"-Ln --stats --exact", func(c *Command) bool {
			return c.Cmd == CmdList && c.Format == FmtNumeric|FmtStats|FmtExact && !c.HasService
		}},
		{"-Lnjp", func(c *Command) bool { return c.Output == OutputJSON && c.Pretty }},
		{"--netns blue -L --yaml", func(c *Command) bool { return c.NetNS == "blue" && c.Output == OutputYAML }},
		{"-A -t 10.0.0.1:80 -p -s rr", func(c *Command) bool { return c.Service.Timeout == 300*time.Second && c.Service.Scheduler == "rr" }},
		{"-A -t 10.0.0.1:80 --persistent=30", func(c *Command) bool { return c.Service.Timeout == 30*time.Second }},
		{"-A -t 10.0.0.1:80 -p30 -w", nil},
		{"--set 900 120 300", func(c *Command) bool {
			return c.Timeouts == ipvs.Timeouts{TCP: 900 * time.Second, TCPFin: 120 * time.Second, UDP: 300 * time.Second}
		}},
		{"--start-daemon backup", func(c *Command) bool { return c.Daemon.Interface == "eth0" && c.Daemon.State == ipvs.DaemonBackup }},
		{"-Z", func(c *Command) bool { return c.Cmd == CmdZero && !c.HasService }},
		{"-d -u 10.0.0.1:53 -r 10.0.0.2 --flush-conntrack", func(c *Command) bool {
			return c.Cmd == CmdDelDest && c.FlushConntrack && c.Dest.Address == mustAddr("10.0.0.2") && c.Dest.Port == 53
		}},
		{"-d -u 10.0.0.1:53 -r 10.0.0.2", func(c *Command) bool { return c.Cmd == CmdDelDest && !c.FlushConntrack }},
		{"-R --flush-conntrack", func(c *Command) bool { return c.Cmd == CmdRestore && c.FlushConntrack }},
		{"", func(c *Command) bool { return c.Cmd == CmdList }},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			c, err := Parse(append([]string{"ipvsadm"}, strings.Fields(tt.args)...))
			if tt.want == nil {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(c) {
				t.Errorf("got %+v", c)
			}
		})
	}
}

func TestRestoreReadsGRERemoteChecksum(t *testing.T) {
	c := &Command{}
	if err := ParseRestoreTo(c, strings.Fields("ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.2 -i --tun-type gre --tun-remcsum")); err != nil {
		t.Fatal(err)
	}
	if c.Dest.TunnelType != ipvs.TunnelGRE || c.Dest.TunnelFlags != ipvs.TunnelRemoteChecksum {
		t.Errorf("got %+v", c.Dest)
	}
}
