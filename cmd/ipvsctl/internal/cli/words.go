package cli

import (
	"strings"

	"github.com/ipvs-go/ipvs"
)

// daemonState reads the argument of --start-daemon and --stop-daemon.
func (st *state) daemonState(arg string) error {
	var s ipvs.DaemonState
	switch arg {
	case "master":
		s = ipvs.DaemonMaster
	case "backup":
		s = ipvs.DaemonBackup
	}
	switch {
	case st.cmd.Cmd == CmdStartDaemon && s == 0:
		return fail("illegal start-daemon parameter specified")
	case st.cmd.Cmd == CmdStopDaemon && s == 0:
		return fail("illegal start_daemon specified")
	}
	st.cmd.Daemon.State = s
	return nil
}

// ownOption handles ipvsctl's options, which may come anywhere.
func (st *state) ownOption(t token) (bool, error) {
	c := st.cmd
	switch t.spec.tag {
	case tagJSON:
		c.Output = OutputJSON
	case tagYAML:
		c.Output = OutputYAML
	case tagPretty:
		c.Pretty = true
	case tagOutput:
		switch t.value {
		case "json":
			c.Output = OutputJSON
		case "yaml":
			c.Output = OutputYAML
		case "text":
			c.Output = OutputText
		default:
			return true, fail("illegal output format `%s' specified (json, yaml or text)", t.value)
		}
	case tagNetNS:
		if t.value == "" {
			return true, fail("illegal netns `' specified")
		}
		c.NetNS = t.value
	case tagDryRun:
		c.DryRun = true
	case tagFlush:
		c.Flush = true
	case tagFlushConntrack:
		c.FlushConntrack = true
	case optPersistent:
		if c.Cmd != CmdList {
			return false, nil
		}
		c.Pretty = true
		if c.Output == OutputText {
			c.Output = OutputJSON
		}
	default:
		return false, nil
	}
	return true, nil
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// truncate cuts s as strncpy into a buffer of n+1 bytes does.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// parseSchedFlags is ipvsadm's parse_sched_flags.
func parseSchedFlags(sched, arg string) (ipvs.ServiceFlags, error) {
	if sched == "" {
		sched = defaultScheduler
	}
	var f ipvs.ServiceFlags
	words := strings.FieldsFunc(arg, func(r rune) bool { return r == ',' })
	if len(words) == 0 {
		// strtok finds no token, and ipvsadm compares a null pointer:
		// refuse the empty list rather than crash.
		return 0, fail("invalid scheduler flag `%s'", arg)
	}
	for _, w := range words {
		need := ""
		switch w {
		case "flag-1":
			f |= ipvs.FlagSched1
		case "flag-2":
			f |= ipvs.FlagSched2
		case "flag-3":
			f |= ipvs.FlagSched3
		case "sh-fallback", "mh-fallback":
			f |= ipvs.FlagSHFallback
			need = w[:2]
		case "sh-port", "mh-port":
			f |= ipvs.FlagSHPort
			need = w[:2]
		default:
			return 0, fail("invalid scheduler flag `%s'", w)
		}
		if need != "" && sched != need {
			return 0, fail("incompatible scheduler flag `%s'", w)
		}
	}
	return f, nil
}

// formats are the listing options and their flags.
var formats = map[tag]Format{optNumeric: FmtNumeric, optStats: FmtStats, optRate: FmtRate,
	optThresholds: FmtThresholds, optPersistentConn: FmtPersistentConn, optNoSort: FmtNoSort,
	optExact: FmtExact, optTunInfo: FmtTunInfo}

// numbers are the options whose value is a number in a range, with
// ipvsadm's message for one outside it.
var numbers = map[tag]struct {
	min, max int64
	msg      string
	set      func(c *Command, n int64)
}{
	optWeight:     {0, 65535, "illegal weight specified", func(c *Command, n int64) { c.Dest.Weight = uint32(n) }},
	optUThreshold: {0, intMax, "illegal u_threshold specified", func(c *Command, n int64) { c.Dest.UpperThreshold = uint32(n) }},
	optLThreshold: {0, intMax, "illegal l_threshold specified", func(c *Command, n int64) { c.Dest.LowerThreshold = uint32(n) }},
	optSyncID:     {0, 255, "illegal syncid specified", func(c *Command, n int64) { c.Daemon.SyncID = uint32(n) }},
	optMcastPort:  {1, 65535, "illegal mcast-port specified", func(c *Command, n int64) { c.Daemon.Port = uint16(n) }},
	optMcastTTL:   {1, 255, "illegal mcast-ttl specified", func(c *Command, n int64) { c.Daemon.TTL = uint8(n) }},
	optSyncMaxLen: {1, 65535 - 20 - 8, "illegal sync-maxlen specified", func(c *Command, n int64) { c.Daemon.MaxLength = uint16(n) }},
	optTunPort:    {1, 65535, "illegal tunnel port specified", func(c *Command, n int64) { c.Dest.TunnelPort = uint16(n) }},
}

// serviceProtocols are the protocols of -t, -u and --sctp-service.
var serviceProtocols = map[tag]ipvs.Protocol{tagTCP: ipvs.ProtocolTCP, tagUDP: ipvs.ProtocolUDP, tagSCTP: ipvs.ProtocolSCTP}

// forwardMethods are the methods of -i, -g and -m.
var forwardMethods = map[tag]ipvs.ForwardMethod{tagTunnel: ipvs.ForwardTunnel, tagRoute: ipvs.ForwardDirectRoute, tagMasq: ipvs.ForwardMasquerade}
