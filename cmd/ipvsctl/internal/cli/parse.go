package cli

import (
	"net/netip"
	"time"

	"github.com/ipvs-go/ipvs"
)

// Limits and defaults of ipvsadm.
const (
	maxTimeout         = 86400 * 31
	defaultPersistence = 300
	defaultScheduler   = "wlc"
	defaultMcastIfn    = "eth0"
	schedNameMax       = 15
	peNameMax          = 32
	ifNameMax          = 15
	intMax             = 1<<31 - 1
)

// state is what ipvsadm keeps in its ipvs_command_entry while it reads a
// line: the service's family and raw netmask change meaning as options
// arrive, so they are converted only at the end.
type state struct {
	cmd        *Command
	af         ipvs.Family
	proto      ipvs.Protocol
	addr       netip.Addr
	port       uint16
	fwmark     uint32
	netmask    uint32 // an IPv4 mask in network order, or an IPv6 prefix length
	flags      ipvs.ServiceFlags
	sched      string
	schedFlags string
	timeout    uint32
	restore    bool
}

// Parse reads one command line, argv[0] being the program's name.
func Parse(argv []string) (*Command, error) {
	cmd := &Command{}
	if err := parse(cmd, argv, false); err != nil {
		return nil, err
	}
	return cmd, nil
}

// ParseRestoreTo reads one line of a restore into cmd, as Parse does, but
// also takes what ipvsadm 1.31 saves and then refuses: a GRE destination
// with --tun-remcsum. cmd must be the zero Command.
func ParseRestoreTo(cmd *Command, argv []string) error {
	if len(argv) > 1 && parseSaved(cmd, argv[1:]) {
		return nil
	}
	return parse(cmd, argv, true)
}

func parse(cmd *Command, argv []string, restore bool) error {
	st := &state{cmd: cmd, netmask: 0xffffffff, restore: restore}
	cmd.Dest.Weight = 1
	cmd.Dest.Forward = ipvs.ForwardDirectRoute
	if len(argv) <= 1 {
		cmd.Cmd = CmdList
		return nil
	}
	sc := &scanner{table: optionIndex, argv: argv[1:], simple: simpleWords(optionIndex, argv[1:])}
	var startArg string
	first := true
	for {
		t, ok, err := sc.nextToken()
		if err != nil {
			if first {
				return &ExitError{Code: 255, TryHelp: true}
			}
			return &ExitError{Code: 255, Msg: err.Error()}
		}
		if !ok {
			break
		}
		if own, err := st.ownOption(t); own {
			if err != nil {
				return err
			}
			continue
		}
		if first {
			first = false
			if t.spec.tag != tagCommand {
				return &ExitError{Code: 255, TryHelp: true}
			}
			cmd.Cmd = commandSpecs[t.spec.long]
			// In listings, where ipvsadm refuses -p, it means pretty
			// JSON (as in iproute2) and takes no argument.
			sc.noOptional = cmd.Cmd == CmdList
			startArg = t.value
			if cmd.Cmd == CmdHelp || cmd.Cmd == CmdVersion {
				return nil
			}
			if err := st.daemonState(startArg); err != nil {
				return err
			}
			continue
		}
		if err := st.option(t); err != nil {
			return err
		}
	}
	if first {
		return &ExitError{Code: 255, TryHelp: true}
	}
	rest := sc.rest
	if cmd.Cmd == CmdTimeout {
		if len(rest) < 3 {
			return fail("--set option requires 3 timeout values")
		}
		var vals [3]time.Duration
		for i := range vals {
			n, err := parseTimeout(rest[i], 0, maxTimeout)
			if err != nil {
				return err
			}
			vals[i] = time.Duration(n) * time.Second
		}
		cmd.Timeouts = ipvs.Timeouts{TCP: vals[0], TCPFin: vals[1], UDP: vals[2]}
		rest = rest[3:]
	}
	if len(rest) > 0 {
		return fail("unexpected argument %s", rest[0])
	}
	if st.schedFlags != "" {
		st.flags &^= ipvs.FlagSched1 | ipvs.FlagSched2 | ipvs.FlagSched3
		f, err := parseSchedFlags(st.sched, st.schedFlags)
		if err != nil {
			return err
		}
		st.flags |= f
	}
	if err := st.check(); err != nil {
		return err
	}
	if err := st.finish(); err != nil {
		return err
	}
	return nil
}

// setOption is ipvsadm's set_option: each option at most once.
func (st *state) setOption(o int) error {
	bit := uint64(1) << o
	if st.cmd.Options&bit != 0 {
		return fail("multiple '%s' options specified", optNames[o])
	}
	st.cmd.Options |= bit
	return nil
}

// option applies one option after the command.
func (st *state) option(t token) error {
	c := st.cmd
	tg := t.spec.tag
	if tg == tagCommand {
		return fail("multiple commands specified")
	}
	if tg < numOpts {
		if err := st.setOption(int(tg)); err != nil {
			return err
		}
	}
	v := t.value
	if f, ok := formats[tg]; ok {
		c.Format |= f
		return nil
	}
	if nm, ok := numbers[tg]; ok {
		max := nm.max
		if tg == optWeight && st.restore {
			// ipvsadm takes at most 65535, but saves any weight the
			// kernel holds (up to 2^31-1, set by another client): a
			// restore reads it.
			max = intMax
		}
		n, ok := stringToNumber(v, nm.min, max)
		if !ok {
			return fail("%s", nm.msg)
		}
		nm.set(c, n)
		return nil
	}
	switch tg {
	case tagTCP, tagUDP, tagSCTP:
		if err := st.setOption(optService); err != nil {
			return err
		}
		st.proto = serviceProtocols[tg]
		a, port, res := parseService(v, st.proto)
		if res&parsedAddr == 0 {
			return fail("illegal virtual server address[:port] specified")
		}
		st.setAddr(a)
		if res&parsedPort != 0 {
			st.port = port
		}
	case tagFWMark:
		if err := st.setOption(optService); err != nil {
			return err
		}
		// ipvsadm also sets TCP here, "a sane value though not used"; the
		// library identifies a fwmark service by mark and family alone.
		st.af = ipvs.FamilyIPv4
		m, err := parseFWMark(v, st.restore)
		if err != nil {
			return err
		}
		st.fwmark = m
	case optScheduler:
		st.sched = truncate(v, schedNameMax)
	case optPersistent:
		st.flags |= ipvs.FlagPersistent
		st.timeout = defaultPersistence
		if t.hasArg {
			n, err := parseTimeout(v, 1, maxTimeout)
			if err != nil {
				return err
			}
			st.timeout = uint32(n)
		}
	case optNetmask:
		return st.parseNetmask(v)
	case optServer:
		a, port, res := parseService(v, st.proto)
		if res&parsedAddr == 0 {
			return fail("illegal real server address[:port] specified")
		}
		if res&parsedPort == 0 {
			port = st.port
		}
		c.Dest.Address, c.Dest.Port = a, port
		c.Dest.Family = familyOf(a)
	case tagTunnel, tagRoute, tagMasq:
		if err := st.setOption(optForward); err != nil {
			return err
		}
		c.Dest.Forward = forwardMethods[tg]
	case optMcast:
		c.Daemon.Interface = truncate(v, ifNameMax)
	case tagIPv6:
		if st.fwmark == 0 {
			return fail("-6 used before -f\n")
		}
		st.af, st.netmask = ipvs.FamilyIPv6, 128
	case optOnePacket:
		st.flags |= ipvs.FlagOnePacket
	case optPE:
		c.Service.PersistenceEngine = truncate(v, peNameMax)
	case optSchedFlags:
		st.schedFlags = v
	case optMcastGroup:
		return st.parseGroup(v)
	case optTunType:
		i := indexOf(tunnelNames[:], v)
		if i < 0 {
			return fail("illegal tunnel type specified")
		}
		c.Dest.TunnelType = ipvs.TunnelType(i)
	case optTunNoCsum:
	case optTunCsum:
		c.Dest.TunnelFlags |= ipvs.TunnelChecksum
	case optTunRemCsum:
		c.Dest.TunnelFlags |= ipvs.TunnelRemoteChecksum
	}
	return nil
}

func (st *state) setAddr(a netip.Addr) {
	st.addr, st.af = a, familyOf(a)
	if st.af == ipvs.FamilyIPv6 {
		st.netmask = 128
	}
}
