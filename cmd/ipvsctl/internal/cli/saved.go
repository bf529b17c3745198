package cli

import (
	"net/netip"
	"strings"

	"github.com/ipvs-go/ipvs"
)

// parseSaved reads the two lines that make up most of a save, as parse
// reads them in a restore, without the general cases a command line
// needs:
//
//	-A -t|-u ADDR:PORT -s SCHEDULER
//	-a -t|-u ADDR:PORT -r ADDR:PORT -g|-i|-m -w WEIGHT
//
// with IPv4 addresses as dotted quads, ports and the weight in digits,
// and ports not 0. It reports false for any other line, leaving cmd as
// it was (a test and a fuzz target hold it to parse).
func parseSaved(cmd *Command, words []string) bool {
	var c Command
	switch {
	case len(words) == 5 && words[0] == "-A" && words[3] == "-s":
		c.Cmd = CmdAdd
		if len(words[4]) > schedNameMax {
			return false
		}
		c.Service.Scheduler = words[4]
		c.Options = 1<<optService | 1<<optScheduler
		c.Dest.Weight, c.Dest.Forward = 1, ipvs.ForwardDirectRoute
	case len(words) == 8 && words[0] == "-a" && words[3] == "-r" && words[6] == "-w":
		c.Cmd = CmdAddDest
		switch words[5] {
		case "-g":
			c.Dest.Forward = ipvs.ForwardDirectRoute
		case "-i":
			c.Dest.Forward = ipvs.ForwardTunnel
		case "-m":
			c.Dest.Forward = ipvs.ForwardMasquerade
		default:
			return false
		}
		w, ok := savedNumber(words[7], intMax)
		if !ok {
			return false
		}
		c.Dest.Weight = uint32(w)
		c.Options = 1<<optService | 1<<optServer | 1<<optForward | 1<<optWeight
	default:
		return false
	}
	switch words[1] {
	case "-t":
		c.Service.Protocol = ipvs.ProtocolTCP
	case "-u":
		c.Service.Protocol = ipvs.ProtocolUDP
	default:
		return false
	}
	var ok bool
	if c.Service.Address, c.Service.Port, ok = savedAddr(words[2]); !ok {
		return false
	}
	c.Service.Family, c.HasService = ipvs.FamilyIPv4, true
	if c.Cmd == CmdAddDest {
		if c.Dest.Address, c.Dest.Port, ok = savedAddr(words[4]); !ok {
			return false
		}
		c.Dest.Family = ipvs.FamilyIPv4
		if c.Dest.Forward != ipvs.ForwardMasquerade {
			// ipvsadm's rule: only NAT maps the port.
			c.Dest.Port = c.Service.Port
		}
	}
	*cmd = c
	return true
}

// savedAddr reads "a.b.c.d:port" of a save, the port not 0.
func savedAddr(s string) (netip.Addr, uint16, bool) {
	i := strings.IndexByte(s, ':')
	if i < 0 {
		return netip.Addr{}, 0, false
	}
	a, err := netip.ParseAddr(s[:i])
	if err != nil || !a.Is4() {
		return netip.Addr{}, 0, false
	}
	p, ok := savedNumber(s[i+1:], 65535)
	if !ok || p == 0 {
		return netip.Addr{}, 0, false
	}
	return a, uint16(p), true
}

// savedNumber reads a number of at most 10 digits, up to max.
func savedNumber(s string, max int64) (int64, bool) {
	if len(s) == 0 || len(s) > 10 || !isDigits(s) {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		n = n*10 + int64(s[i]-'0')
	}
	return n, n <= max
}
