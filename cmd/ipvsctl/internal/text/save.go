package text

import (
	"bufio"
	"fmt"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/cli"
)

// ruleName is the service as a rule names it: "-t host:port", "-f 7 -6".
func ruleName(s *ipvs.Service, f cli.Format) string {
	if s.FWMark != 0 {
		if isV6(s) {
			return fmt.Sprintf("-f %d -6", s.FWMark)
		}
		return fmt.Sprintf("-f %d", s.FWMark)
	}
	opt := "--xxx-service"
	if t, ok := protoText[s.Protocol]; ok {
		opt = t.option
	}
	return opt + " " + addrPort(s.Address, s.Port, s.Protocol, f)
}

// fwdSwitch is ipvsadm's fwd_switch; a bypass destination, which ipvsadm
// saves as "(null)", is saved as -g, the nearest it can read.
func fwdSwitch(m ipvs.ForwardMethod) string {
	switch m {
	case ipvs.ForwardMasquerade:
		return "-m"
	case ipvs.ForwardTunnel:
		return "-i"
	}
	return "-g"
}

var tunFlagOpts = [...]string{"--tun-nocsum", "--tun-csum", "--tun-remcsum"}

// Save prints the table as rules that ipvsadm -R (and ipvsctl -R) read
// back: ipvsadm's own lines, then what ipvsadm -S leaves out: thresholds
// (-x, -y) on the -a lines, a --set line for the timeouts and a
// --start-daemon line per daemon. A nil timeouts prints no --set line.
func Save(w *bufio.Writer, vs []ipvs.VirtualServer, t *ipvs.Timeouts, ds []ipvs.Daemon, f cli.Format) {
	for i := range vs {
		saveService(w, &vs[i], f)
	}
	if t != nil {
		fmt.Fprintf(w, "--set %d %d %d\n", int(t.TCP.Seconds()), int(t.TCPFin.Seconds()), int(t.UDP.Seconds()))
	}
	for _, d := range ds {
		fmt.Fprintf(w, "--start-daemon %s --mcast-interface %s --syncid %d", d.State, d.Interface, d.SyncID)
		if d.MaxLength != 0 {
			fmt.Fprintf(w, " --sync-maxlen %d", d.MaxLength)
		}
		if d.Group.IsValid() {
			fmt.Fprintf(w, " --mcast-group %s", ntop(d.Group))
		}
		if d.Port != 0 {
			fmt.Fprintf(w, " --mcast-port %d", d.Port)
		}
		if d.TTL != 0 {
			fmt.Fprintf(w, " --mcast-ttl %d", d.TTL)
		}
		w.WriteByte('\n')
	}
}

func saveService(w *bufio.Writer, vs *ipvs.VirtualServer, f cli.Format) {
	s := &vs.Service
	name := ruleName(s, f)
	fmt.Fprintf(w, "-A %s -s %s", name, s.Scheduler)
	if s.Flags&ipvs.FlagPersistent != 0 {
		fmt.Fprintf(w, " -p %d", uint32(s.Timeout.Seconds()))
		if m := maskText(s); m != "" {
			fmt.Fprintf(w, " -M %s", m)
		}
	}
	if s.PersistenceEngine != "" {
		fmt.Fprintf(w, " --pe %s", s.PersistenceEngine)
	}
	if s.Flags&ipvs.FlagOnePacket != 0 {
		w.WriteString(" -o")
	}
	if s.Flags&(ipvs.FlagSched1|ipvs.FlagSched2|ipvs.FlagSched3) != 0 {
		fmt.Fprintf(w, " -b %s", schedFlags(s))
	}
	w.WriteByte('\n')
	for i := range vs.Destinations {
		d := &vs.Destinations[i]
		fmt.Fprintf(w, "-a %s -r %s %s -w %d", name, addrPort(d.Address, d.Port, s.Protocol, f), fwdSwitch(d.Forward), int32(d.Weight))
		if d.Forward == ipvs.ForwardTunnel {
			switch d.TunnelType {
			case ipvs.TunnelGRE:
				fmt.Fprintf(w, " --tun-type gre %s", tunFlagOpt(d.TunnelFlags))
			case ipvs.TunnelGUE:
				fmt.Fprintf(w, " --tun-type gue --tun-port %d %s", d.TunnelPort, tunFlagOpt(d.TunnelFlags))
			case ipvs.TunnelIPIP:
				w.WriteString(" --tun-type ipip")
			}
		}
		if d.UpperThreshold != 0 {
			fmt.Fprintf(w, " -x %d", d.UpperThreshold)
		}
		if d.LowerThreshold != 0 {
			fmt.Fprintf(w, " -y %d", d.LowerThreshold)
		}
		w.WriteByte('\n')
	}
}

func tunFlagOpt(f ipvs.TunnelFlags) string {
	if int(f) < len(tunFlagOpts) {
		return tunFlagOpts[f]
	}
	// Both flags: ipvsadm would index past its table. The kernel has
	// both only if a client set both; keep the remote one, which
	// implies the other for GUE.
	return "--tun-remcsum"
}
