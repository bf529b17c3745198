package text

import (
	"bufio"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/cli"
)

// Sort orders services and their destinations as ipvsadm does unless
// --nosort.
func Sort(vs []ipvs.VirtualServer) {
	mergeSort(vs, cmpServices)
	for i := range vs {
		mergeSort(vs[i].Destinations, cmpDests)
	}
}

// Header is the first line of a listing of the whole table.
func Header(w *bufio.Writer, info ipvs.Info) {
	fmt.Fprintf(w, "IP Virtual Server version %d.%d.%d (size=%d)\n",
		info.Version.Major, info.Version.Minor, info.Version.Patch, info.ConnectionTableSize)
}

// Title is ipvsadm's print_title.
func Title(w *bufio.Writer, f cli.Format) {
	const first = "Prot LocalAddress:Port"
	const second = "  -> RemoteAddress:Port\n"
	switch {
	case f&cli.FmtStats != 0:
		fmt.Fprintf(w, "%-33s %8s %8s %8s %8s %8s\n"+second, first, "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes")
	case f&cli.FmtRate != 0:
		fmt.Fprintf(w, "%-33s %8s %8s %8s %8s %8s\n"+second, first, "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS")
	case f&cli.FmtThresholds != 0:
		fmt.Fprintf(w, "%-33s %-10s %-10s %-10s %-10s\n"+second, first, "Uthreshold", "Lthreshold", "ActiveConn", "InActConn")
	case f&cli.FmtPersistentConn != 0:
		fmt.Fprintf(w, "%-33s %-9s %-11s %-10s %-10s\n"+second, first, "Weight", "PersistConn", "ActiveConn", "InActConn")
	case f&cli.FmtTunInfo != 0:
		w.WriteString(first + " Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n")
	case f&cli.FmtRule == 0:
		w.WriteString(first + " Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n")
	}
}

// largeNum is ipvsadm's print_largenum.
func largeNum(w *bufio.Writer, i uint64, f cli.Format) {
	if f&cli.FmtExact != 0 {
		s := strconv.FormatUint(i, 10)
		width := len(s) + 1
		if len(s) <= 8 {
			width = 9
		}
		fmt.Fprintf(w, "%*s", width, s)
		return
	}
	switch {
	case i < 100000000:
		fmt.Fprintf(w, "%9d", i)
	case i < 1000000000:
		fmt.Fprintf(w, "%8dK", i/1000)
	case i < 100000000000:
		fmt.Fprintf(w, "%8dM", i/1000000)
	case i < 100000000000000:
		fmt.Fprintf(w, "%8dG", i/1000000000)
	default:
		fmt.Fprintf(w, "%8dT", i/1000000000000)
	}
}

// schedFlags is ipvsadm's print_sched_flags, without the separators'
// trailing comma.
func schedFlags(s *ipvs.Service) string {
	var names [3]string
	switch s.Scheduler {
	case "sh", "mh":
		names = [3]string{s.Scheduler + "-fallback", s.Scheduler + "-port", ""}
	default:
		names = [3]string{"flag-1", "flag-2", "flag-3"}
	}
	out := ""
	for i, fl := range []ipvs.ServiceFlags{ipvs.FlagSched1, ipvs.FlagSched2, ipvs.FlagSched3} {
		if s.Flags&fl != 0 && names[i] != "" {
			if out != "" {
				out += ","
			}
			out += names[i]
		}
	}
	return out
}

// isV6 reports whether a service is IPv6.
func isV6(s *ipvs.Service) bool {
	if s.Family != 0 {
		return s.Family == ipvs.FamilyIPv6
	}
	return s.Address.IsValid() && !s.Address.Is4()
}

// maskText returns the persistence netmask as ipvsadm prints it, or "" for
// a full-length one.
func maskText(s *ipvs.Service) string {
	if isV6(s) {
		if b := s.Netmask.Bits(ipvs.FamilyIPv6); b != 128 {
			return strconv.Itoa(b)
		}
		return ""
	}
	m := s.Netmask.IPv4Mask()
	if s.Netmask == (ipvs.Netmask{}) || m == [4]byte{255, 255, 255, 255} {
		return ""
	}
	return netip.AddrFrom4(m).String()
}

// svcName is the service as a listing names it.
func svcName(s *ipvs.Service, f cli.Format) string {
	if s.FWMark != 0 {
		v6 := ""
		if isV6(s) {
			v6 = " IPv6"
		}
		return fmt.Sprintf("FWM  %d%s", int32(s.FWMark), v6)
	}
	name := fmt.Sprintf("%-4s %s", protoTitle(s.Protocol), addrPort(s.Address, s.Port, s.Protocol, f))
	if !isV6(s) && len(name) > 33 {
		name = name[:33]
	}
	return name
}

// protoText are ipvsadm's names of a protocol: in a listing's title, and
// as the option of a rule.
var protoText = map[ipvs.Protocol]struct{ title, option string }{
	ipvs.ProtocolTCP: {"TCP", "-t"}, ipvs.ProtocolUDP: {"UDP", "-u"}, ipvs.ProtocolSCTP: {"SCTP", "--sctp-service"},
}

func protoTitle(p ipvs.Protocol) string {
	if t, ok := protoText[p]; ok {
		return t.title
	}
	return "?"
}

// fwdName is ipvsadm's fwd_name, with glibc's "(null)" for a method it
// has no name for.
func fwdName(m ipvs.ForwardMethod) string {
	switch m {
	case ipvs.ForwardMasquerade:
		return "Masq"
	case ipvs.ForwardLocalNode:
		return "Local"
	case ipvs.ForwardTunnel:
		return "Tunnel"
	case ipvs.ForwardDirectRoute:
		return "Route"
	}
	return "(null)"
}

var tunFlagText = [...]string{"-c", "+c", "r+c"}

func tunFlags(f ipvs.TunnelFlags) string {
	if int(f) < len(tunFlagText) {
		return tunFlagText[f]
	}
	return "?"
}

// tunInfo is ipvsadm's fwd_tun_info, "n/a" where it has none.
func tunInfo(d *ipvs.Destination) string {
	if d.Forward != ipvs.ForwardTunnel {
		return "n/a"
	}
	switch d.TunnelType {
	case ipvs.TunnelIPIP:
		return "ipip"
	case ipvs.TunnelGUE:
		return fmt.Sprintf("gue:%d:%s", d.TunnelPort, tunFlags(d.TunnelFlags))
	case ipvs.TunnelGRE:
		return "gre:" + tunFlags(d.TunnelFlags)
	}
	return "n/a"
}

// counters prints the five counters of --stats, or with --rate the rates.
func counters(w *bufio.Writer, st *ipvs.Stats, f cli.Format) {
	vals := [5]uint64{st.Connections, st.InPackets, st.OutPackets, st.InBytes, st.OutBytes}
	if f&cli.FmtStats == 0 {
		vals = [5]uint64{st.ConnectionRate, st.InPacketRate, st.OutPacketRate, st.InByteRate, st.OutByteRate}
	}
	for _, v := range vals {
		largeNum(w, v, f)
	}
}

// Service prints one service and its destinations as a listing does.
func Service(w *bufio.Writer, vs *ipvs.VirtualServer, f cli.Format) {
	s := &vs.Service
	name := svcName(s, f)
	switch {
	case f&(cli.FmtStats|cli.FmtRate) != 0:
		fmt.Fprintf(w, "%-33s", name)
		counters(w, &s.Stats, f)
	default:
		fmt.Fprintf(w, "%s %s", name, s.Scheduler)
		if sf := schedFlags(s); s.Flags&(ipvs.FlagSched1|ipvs.FlagSched2|ipvs.FlagSched3) != 0 {
			fmt.Fprintf(w, " (%s)", sf)
		}
		if s.Flags&ipvs.FlagPersistent != 0 {
			fmt.Fprintf(w, " persistent %d", uint32(s.Timeout.Seconds()))
			if m := maskText(s); m != "" {
				fmt.Fprintf(w, " mask %s", m)
			}
			if s.PersistenceEngine != "" {
				fmt.Fprintf(w, " pe %s", s.PersistenceEngine)
			}
		}
		if s.Flags&ipvs.FlagOnePacket != 0 {
			w.WriteString(" ops")
		}
	}
	w.WriteByte('\n')
	for i := range vs.Destinations {
		dest(w, s, &vs.Destinations[i], f)
	}
}

func dest(w *bufio.Writer, s *ipvs.Service, d *ipvs.Destination, f cli.Format) {
	name := addrPort(d.Address, d.Port, s.Protocol, f)
	if d.Address.Is4() && len(name) > 28 {
		name = name[:28]
	}
	switch {
	case f&cli.FmtStats != 0:
		fmt.Fprintf(w, "  -> %-28s", name)
		counters(w, &d.Stats, f)
		w.WriteByte('\n')
	case f&cli.FmtRate != 0:
		st := &d.Stats
		fmt.Fprintf(w, "  -> %-28s %8d %8d %8d", name, st.ConnectionRate, st.InPacketRate, st.OutPacketRate)
		largeNum(w, st.InByteRate, f)
		largeNum(w, st.OutByteRate, f)
		w.WriteByte('\n')
	case f&cli.FmtThresholds != 0:
		fmt.Fprintf(w, "  -> %-28s %-10d %-10d %-10d %-10d\n", name, d.UpperThreshold, d.LowerThreshold, d.ActiveConnections, d.InactiveConnections)
	case f&cli.FmtPersistentConn != 0:
		fmt.Fprintf(w, "  -> %-28s %-9d %-11d %-10d %-10d\n", name, int32(d.Weight), d.PersistentConnections, d.ActiveConnections, d.InactiveConnections)
	case f&cli.FmtTunInfo != 0:
		fmt.Fprintf(w, "  -> %-28s %-7s %-13s %-6d %-10d %-10d\n", name, fwdName(d.Forward), tunInfo(d), int32(d.Weight), d.ActiveConnections, d.InactiveConnections)
	default:
		fmt.Fprintf(w, "  -> %-28s %-7s %-6d %-10d %-10d\n", name, fwdName(d.Forward), int32(d.Weight), d.ActiveConnections, d.InactiveConnections)
	}
}

// Timeouts is the listing of --timeout.
func Timeouts(w *bufio.Writer, t ipvs.Timeouts) {
	fmt.Fprintf(w, "Timeout (tcp tcpfin udp): %d %d %d\n", int(t.TCP.Seconds()), int(t.TCPFin.Seconds()), int(t.UDP.Seconds()))
}

// Daemons is the listing of --daemon: the master first, as ipvsadm's two
// slots are.
func Daemons(w *bufio.Writer, ds []ipvs.Daemon) {
	for _, state := range []ipvs.DaemonState{ipvs.DaemonMaster, ipvs.DaemonBackup} {
		for _, d := range ds {
			if d.State != state {
				continue
			}
			fmt.Fprintf(w, "%s sync daemon (mcast=%s, syncid=%d", state, d.Interface, d.SyncID)
			if d.MaxLength != 0 {
				fmt.Fprintf(w, ", maxlen=%d", d.MaxLength)
			}
			if d.Group.IsValid() {
				fmt.Fprintf(w, ", group=%s", ntop(d.Group))
			}
			if d.Port != 0 {
				fmt.Fprintf(w, ", port=%d", d.Port)
			}
			if d.TTL != 0 {
				fmt.Fprintf(w, ", ttl=%d", d.TTL)
			}
			w.WriteString(")\n")
		}
	}
}
