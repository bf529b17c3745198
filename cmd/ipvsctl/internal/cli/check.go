package cli

import (
	"time"

	"github.com/ipvs-go/ipvs"
)

// check applies ipvsadm's refusals: the command/option matrix, then each
// command's own rules, in ipvsadm's order so that the first message is
// the same.
func (st *state) check() error {
	c := st.cmd
	row := matrix[c.Cmd-1]
	last := -1
	for j := 0; j < numOpts; j++ {
		has := c.Options&(1<<j) != 0
		switch {
		case !has && row[j] == '+':
			return fail("You need to supply the '%s' option for the '%s' command", optNames[j], c.Cmd)
		case has && row[j] == 'x':
			return fail("Illegal '%s' option with the '%s' command", optNames[j], c.Cmd)
		case has && row[j] == '1':
			if last >= 0 {
				return fail("The option '%s' conflicts with the '%s' option in the '%s' command", optNames[j], optNames[last], c.Cmd)
			}
			last = j
		}
	}
	if c.Cmd == CmdAdd || c.Cmd == CmdEdit {
		if st.fwmark == 0 && st.port == 0 && st.flags&ipvs.FlagPersistent == 0 {
			return fail("Zero port specified for non-persistent service")
		}
		if st.flags&ipvs.FlagOnePacket != 0 && st.fwmark == 0 && st.proto != ipvs.ProtocolUDP {
			return fail("One-Packet Scheduling is only for UDP virtual services")
		}
		if st.sched == "" {
			st.sched = defaultScheduler
		}
	}
	if c.Cmd == CmdStartDaemon && c.Daemon.Interface == "" {
		c.Daemon.Interface = defaultMcastIfn
	}
	if c.Cmd == CmdAddDest || c.Cmd == CmdEditDest {
		fwd := c.Dest.Forward
		if st.fwmark == 0 && (fwd == ipvs.ForwardTunnel || fwd == ipvs.ForwardDirectRoute) {
			c.Dest.Port = st.port
		}
		if c.Dest.Family != st.af && fwd != ipvs.ForwardTunnel {
			return fail("Different address family is allowed only for tunneling servers")
		}
		if c.Options&(1<<optTunType|1<<optTunPort|1<<optTunNoCsum|1<<optTunCsum|1<<optTunRemCsum) != 0 && fwd != ipvs.ForwardTunnel {
			return fail("Tunnel options conflict with forward method")
		}
		if err := st.tunnelCheck(); err != nil {
			return err
		}
	}
	if c.Cmd == CmdList {
		o := c.Options
		if (o&(1<<optConnection|1<<optTimeout|1<<optDaemon) != 0 && o&(1<<optStats|1<<optRate|1<<optThresholds) != 0) ||
			(o&(1<<optTimeout|1<<optDaemon) != 0 && o&(1<<optPersistentConn) != 0) {
			return fail("options conflicts in the list command")
		}
	}
	return nil
}

// tunnelCheck is ipvsadm's tunnel_opt_check.
func (st *state) tunnelCheck() error {
	c := st.cmd
	i := int(c.Dest.TunnelType)
	last := -1
	for j, o := range tunnelOpts {
		has := c.Options&(1<<o) != 0
		m := tunnelMatrix[i][j]
		if st.restore && i == int(ipvs.TunnelGRE) && o == optTunRemCsum {
			m = '1'
		}
		switch {
		case !has && m == '+':
			return fail("You need to supply the '%s' option for the '%s' tunnel type", optNames[o], tunnelNames[i])
		case has && m == 'x':
			return fail("Illegal '%s' option with the '%s' tunnel type", optNames[o], tunnelNames[i])
		case has && m == '1':
			if last >= 0 {
				return fail("The option '%s' conflicts with the '%s' option in the '%s' tunnel type", optNames[o], optNames[last], tunnelNames[i])
			}
			last = o
		}
	}
	return nil
}

// finish builds the library's values from the line's state.
func (st *state) finish() error {
	c := st.cmd
	c.HasService = st.fwmark != 0 || st.af != 0
	s := &c.Service
	s.Family, s.Protocol, s.FWMark, s.Scheduler, s.Flags = st.af, st.proto, st.fwmark, st.sched, st.flags
	if st.fwmark == 0 {
		s.Address, s.Port = st.addr, st.port
	}
	s.Timeout = time.Duration(st.timeout) * time.Second
	if s.Flags&ipvs.FlagPersistent != 0 && (c.Cmd == CmdAdd || c.Cmd == CmdEdit) {
		s.Netmask = netmaskOf(st.af, st.netmask)
	}
	return nil
}
