package keepalived

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/ipvs-go/ipvs/ipvsd/config"
)

// keepalived's defaults where ipvsd's differ, or where keepalived fixes
// a configuration up.
const (
	defaultDelayLoop      = 60 * time.Second
	defaultConnectTimeout = 5 * time.Second
	defaultScheduler      = "wlc"
	defaultForwarding     = "NAT"
)

// Convert turns the LVS half of a keepalived configuration into an ipvsd
// configuration that does what keepalived does with it: keepalived's
// defaults and fix-ups are applied and written out where ipvsd's differ,
// a virtual_server_group becomes one virtual server for each of its
// addresses and marks, and each url of an HTTP_GET or SSL_GET becomes a
// check of its own. What cannot be carried over is in the Diagnostics,
// with where it is in the input. The output is not validated: Import
// does that.
func Convert(c *Config) (*config.File, Diagnostics) {
	cv := &converter{cfg: c, rep: &report{}, origins: map[string]Pos{}}
	f := cv.convert()
	return f, cv.rep.sorted(c.Files)
}

func (cv *converter) convert() *config.File {
	out := &config.File{VirtualServers: []config.VirtualServer{}}
	for _, vs := range cv.cfg.VirtualServers {
		made := cv.virtualServer(vs)
		if len(out.VirtualServers)+len(made) > maxVirtualServers {
			cv.rep.errorf(vs.Pos, "virtual_server", "the configuration makes more than %d virtual servers, with its groups", maxVirtualServers)
			break
		}
		for _, v := range made {
			path := fmt.Sprintf("virtual_servers[%d]", len(out.VirtualServers))
			cv.origins[path] = vs.Pos
			for j, pos := range cv.vsChecks {
				cv.origins[fmt.Sprintf("%s.checks[%d]", path, j)] = pos
			}
			for i, rs := range cv.lastRS {
				rpath := fmt.Sprintf("%s.real_servers[%d]", path, i)
				cv.origins[rpath] = rs.Pos
				for j, pos := range cv.lastChecks[i] {
					cv.origins[fmt.Sprintf("%s.checks[%d]", rpath, j)] = pos
				}
			}
			out.VirtualServers = append(out.VirtualServers, v)
		}
	}
	return out
}

// maxVirtualServers bounds the virtual servers a conversion makes: a
// group is one of each of its addresses, and may be used many times.
const maxVirtualServers = 1 << 17

// converter holds what a conversion has found so far.
type converter struct {
	cfg *Config
	rep *report
	// origins map the path of each virtual server, real server and check
	// of the output to where it came from, so that ipvsd's validation
	// errors name the input's lines.
	origins map[string]Pos
	// lastRS and lastChecks are the real servers of the virtual server
	// just converted, and the origins of their checks.
	lastRS     []*RealServer
	lastChecks [][]Pos
	// vsChecks are the origins of the checks moved up to the virtual
	// server just converted (hoistChecks), those of its first real
	// server's.
	vsChecks []Pos
}

// identity is one IPVS service a keepalived virtual server stands for.
type identity struct {
	addr   netip.Addr
	port   uint16
	fwmark uint32
	family string
}

// virtualServer converts one virtual_server into the ipvsd virtual
// servers it makes: one, or one for each identity of its group.
func (cv *converter) virtualServer(vs *VirtualServer) []config.VirtualServer {
	if len(vs.RealServers) == 0 {
		cv.rep.warnf(vs.Pos, "virtual_server", "has no real servers: keepalived ignores it, and so does the import")
		return nil
	}
	ids, ok := cv.identities(vs)
	if !ok {
		return nil
	}
	byAddress := slices.ContainsFunc(ids, func(id identity) bool { return id.fwmark == 0 })
	out := config.VirtualServer{
		Scheduler:              vs.Scheduler,
		OnePacket:              vs.OnePacket,
		PersistenceGranularity: vs.PersistenceGranularity,
		PersistenceEngine:      vs.PersistenceEngine,
		Alpha:                  vs.Alpha,
		Omega:                  vs.Omega,
		VirtualHost:            vs.VirtualHost,
		QuorumUp:               cv.command(vs.QuorumUp),
		QuorumDown:             cv.command(vs.QuorumDown),
	}
	if out.Scheduler == "" {
		out.Scheduler = defaultScheduler
	}
	if byAddress {
		out.Protocol = vs.Protocol
		if out.Protocol == "" {
			cv.rep.warnf(vs.Pos, "protocol", "is not set: keepalived then makes a UDP service, and so does the import; say protocol TCP if TCP is meant")
			out.Protocol = "UDP"
		}
		if vs.OnePacket && out.Protocol != "UDP" {
			cv.rep.warnf(vs.Pos, "ops", "applies to UDP only: keepalived drops it for %s, and so does the import", out.Protocol)
			out.OnePacket = false
		}
	} else if vs.Protocol != "" {
		cv.rep.notef(vs.Pos, "protocol", "means nothing to a fwmark service: keepalived ignores it, and so does the import")
	}
	out.SchedulerFlags = cv.schedulerFlags(vs, out.Scheduler)
	if vs.PersistenceTimeout != nil {
		d := config.Duration(time.Duration(*vs.PersistenceTimeout) * time.Second)
		out.PersistenceTimeout = &d
	} else if slices.ContainsFunc(ids, func(id identity) bool { return id.fwmark == 0 && id.port == 0 }) {
		cv.rep.warnf(vs.Pos, "persistence_timeout", "is not set for a service of every port: keepalived makes it persistent for 360s, and so does the import")
		d := config.Duration(defaultPersistence * time.Second)
		out.PersistenceTimeout = &d
	}
	vsFwd := vs.Forwarding
	if vsFwd == nil {
		vsFwd = &Forwarding{Pos: vs.Pos, Method: defaultForwarding}
	}
	out.Forwarding = forwarding(vsFwd)
	out.Timing = cv.timing(vs.Timing, vs.Pos)
	if out.DelayLoop == nil {
		d := config.Duration(defaultDelayLoop)
		out.DelayLoop = &d
	}
	if out.ConnectTimeout == nil {
		d := config.Duration(defaultConnectTimeout)
		out.ConnectTimeout = &d
	}
	reals := cv.realServers(vs, vsFwd, &out)
	cv.quorum(vs, reals, &out)
	if vs.SorryServer != nil {
		out.SorryServer = cv.sorryServer(vs, vsFwd)
	}
	var made []config.VirtualServer
	for _, id := range ids {
		v := out
		if id.fwmark != 0 {
			v.FWMark, v.Family, v.Protocol = id.fwmark, id.family, ""
		} else {
			v.Address, v.Port = id.addr.String(), id.port
		}
		v.RealServers = cv.portsFor(vs, id, reals)
		made = append(made, v)
	}
	return made
}

// identities returns the services a virtual server stands for.
func (cv *converter) identities(vs *VirtualServer) ([]identity, bool) {
	switch {
	case vs.Group != "":
		g := cv.cfg.Groups[vs.Group]
		if g == nil {
			cv.rep.errorf(vs.Pos, "virtual_server", "group %q is not a virtual_server_group of the configuration", vs.Group)
			return nil, false
		}
		var ids []identity
		for _, e := range g.Entries {
			if e.FWMark != 0 {
				ids = append(ids, identity{fwmark: e.FWMark, family: cmpDefault(e.Family, vs.Family)})
				continue
			}
			for a := e.First; ; a = a.Next() {
				ids = append(ids, identity{addr: a, port: e.Port})
				if a == e.Last {
					break
				}
			}
		}
		return ids, true
	case vs.FWMark != 0:
		return []identity{{fwmark: vs.FWMark, family: vs.Family}}, true
	case vs.FWMark == 0 && !vs.Address.IsValid():
		cv.rep.errorf(vs.Pos, "virtual_server", "a firewall mark of 0 marks nothing")
		return nil, false
	}
	if vs.Family != "" {
		cv.rep.notef(vs.Pos, "ip_family", "applies to fwmark services: this one's family is its address's")
	}
	return []identity{{addr: vs.Address, port: vs.Port}}, true
}

// schedulerFlags keeps the flags keepalived applies: the sh and mh
// flags with their scheduler only.
func (cv *converter) schedulerFlags(vs *VirtualServer, sched string) []string {
	var out []string
	for _, f := range vs.SchedulerFlags {
		switch {
		case (f == "sh-port" || f == "sh-fallback") && sched != "sh",
			(f == "mh-port" || f == "mh-fallback") && sched != "mh":
			cv.rep.warnf(vs.Pos, f, "applies to the %s scheduler only, and this one is %s: keepalived ignores it, and so does the import", f[:2], sched)
		default:
			out = append(out, f)
		}
	}
	return out
}

// forwarding converts a forwarding method.
func forwarding(f *Forwarding) config.Forwarding {
	if f == nil {
		return config.Forwarding{}
	}
	return config.Forwarding{Method: f.Method, TunnelType: f.TunnelType, TunnelPort: f.TunnelPort, TunnelChecksum: f.TunnelChecksum}
}

// command converts a hook; its user and group are not carried over.
func (cv *converter) command(s *Script) *config.Command {
	if s == nil {
		return nil
	}
	if s.User != "" {
		cv.rep.warnf(s.Pos, "", "the user %q is not carried over: ipvsd runs hooks as its own user", s.User)
	}
	return &config.Command{Args: slices.Clone(s.Args)}
}

// quorum sets quorum and hysteresis as keepalived corrects them: the
// quorum at most the total weight of the real servers, the hysteresis
// below the quorum.
func (cv *converter) quorum(vs *VirtualServer, reals []*realServer, out *config.VirtualServer) {
	var sum uint64
	for _, r := range reals {
		sum += uint64(r.weight)
	}
	q := uint64(1)
	if vs.Quorum != nil {
		q = uint64(*vs.Quorum)
	}
	if q > sum {
		cv.rep.warnf(vs.Pos, "quorum", "%d is more than the real servers' total weight, %d: keepalived lowers it to %d, and so does the import", q, sum, sum)
		q = sum
	}
	if vs.Quorum != nil || q != 1 {
		v := uint32(q)
		out.Quorum = &v
	}
	if vs.Hysteresis != nil && q > 0 {
		h := uint64(*vs.Hysteresis)
		if h >= q {
			cv.rep.warnf(vs.Pos, "hysteresis", "%d is not below the quorum, %d: keepalived lowers it to %d, and so does the import", h, q, q-1)
			h = q - 1
		}
		out.Hysteresis = uint32(h)
	}
}
