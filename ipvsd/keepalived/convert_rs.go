package keepalived

import (
	"net/netip"
	"reflect"

	"github.com/ipvs-go/ipvs/ipvsd/config"
)

// realServer is a real server being converted.
type realServer struct {
	src    *RealServer
	out    config.RealServer
	weight uint32
	method string
	checks []Pos // where each of out.Checks came from
}

// realServers converts the real servers of vs, dropping a duplicate as
// keepalived does, and sets the virtual server's failure policy from
// theirs.
func (cv *converter) realServers(vs *VirtualServer, vsFwd *Forwarding, out *config.VirtualServer) []*realServer {
	var reals []*realServer
	seen := map[netip.AddrPort]*RealServer{}
	var inhibit []bool
	for _, rs := range vs.RealServers {
		r := &realServer{src: rs, weight: 1, method: vsFwd.Method}
		if vs.Weight != nil {
			r.weight = *vs.Weight
		}
		if rs.Weight != nil {
			r.weight = *rs.Weight
		}
		if rs.Forwarding != nil {
			r.method = rs.Forwarding.Method
			if *rs.Forwarding != (Forwarding{Pos: rs.Forwarding.Pos, Method: vsFwd.Method, TunnelType: vsFwd.TunnelType, TunnelPort: vsFwd.TunnelPort, TunnelChecksum: vsFwd.TunnelChecksum}) {
				r.out.Forwarding = forwarding(rs.Forwarding)
			}
		}
		port := cv.realPort(vs, rs, r.method)
		key := netip.AddrPortFrom(rs.Address, port)
		if prev := seen[key]; prev != nil {
			cv.rep.warnf(rs.Pos, "real_server", "%s is the real server at %s too: keepalived drops the second, and so does the import", key, prev.Pos)
			continue
		}
		seen[key] = rs
		r.out.Address = rs.Address.String()
		r.out.Port = port
		if r.weight != 1 {
			w := r.weight
			r.out.Weight = &w
		}
		r.out.UpperThreshold, r.out.LowerThreshold = rs.UThreshold, rs.LThreshold
		r.out.NotifyUp, r.out.NotifyDown = cv.command(rs.NotifyUp), cv.command(rs.NotifyDown)
		r.out.Alpha = rs.Alpha
		r.out.VirtualHost = rs.VirtualHost
		r.out.Timing = cv.timing(rs.Timing, rs.Pos)
		r.out.Checks = config.Checks{}
		for _, c := range rs.Checkers {
			for _, chk := range cv.check(vs, rs, c) {
				r.out.Checks = append(r.out.Checks, chk)
				r.checks = append(r.checks, c.Pos)
			}
		}
		inh := vs.InhibitOnFailure
		if rs.InhibitOnFailure != nil {
			inh = *rs.InhibitOnFailure
		}
		inhibit = append(inhibit, inh)
		reals = append(reals, r)
	}
	cv.failurePolicy(vs, reals, inhibit, out)
	cv.hoistChecks(reals, out)
	cv.lastRS = cv.lastRS[:0]
	cv.lastChecks = cv.lastChecks[:0]
	for _, r := range reals {
		cv.lastRS = append(cv.lastRS, r.src)
		cv.lastChecks = append(cv.lastChecks, r.checks)
	}
	return reals
}

// hoistChecks moves the real servers' checks up to their virtual server
// when every real server has the same ones, as keepalived's
// configurations repeat them for each real server. ipvsd resolves a
// virtual server's checks for each of its real servers as it does a real
// server's own (their address, virtualhost and timing), so the meaning is
// the same; the file is several times smaller, and so are the YAML tree
// ipvsd builds to read it and the configuration it keeps.
func (cv *converter) hoistChecks(reals []*realServer, out *config.VirtualServer) {
	cv.vsChecks = nil
	if len(reals) < 2 || len(reals[0].out.Checks) == 0 {
		return
	}
	for _, r := range reals[1:] {
		if !reflect.DeepEqual(r.out.Checks, reals[0].out.Checks) {
			return
		}
	}
	out.Checks, cv.vsChecks = reals[0].out.Checks, reals[0].checks
	for _, r := range reals {
		r.out.Checks, r.checks = nil, nil
	}
}

// realPort is a real server's port as keepalived corrects it: a real
// server that is not NAT has the virtual server's port (none for a
// fwmark service). A port of 0 is left for ipvsd to take the virtual
// server's.
func (cv *converter) realPort(vs *VirtualServer, rs *RealServer, method string) uint16 {
	if method == "NAT" || vs.Group != "" || rs.Port == 0 {
		return rs.Port
	}
	if vs.FWMark != 0 {
		cv.rep.warnf(rs.Pos, "real_server", "port %d of a %s real server of a fwmark service: keepalived clears it, and so does the import", rs.Port, method)
		return 0
	}
	if rs.Port != vs.Port {
		cv.rep.warnf(rs.Pos, "real_server", "port %d differs from the virtual server's, %d, which %s forwarding keeps: keepalived takes the virtual server's, and so does the import", rs.Port, vs.Port, method)
		return vs.Port
	}
	return rs.Port
}

// failurePolicy sets what a failed real server becomes. keepalived
// removes it, or with inhibit_on_failure sets its weight to 0; ipvsd
// drains it by default, which is keepalived's removal without cutting
// its connections, or inhibits it, per virtual server.
func (cv *converter) failurePolicy(vs *VirtualServer, reals []*realServer, inhibit []bool, out *config.VirtualServer) {
	if len(reals) == 0 {
		return
	}
	all := inhibit[0]
	for i, inh := range inhibit {
		if inh != all {
			cv.rep.warnf(reals[i].src.Pos, "inhibit_on_failure", "differs among the real servers of the virtual server at %s: ipvsd sets it per virtual server, and the import takes the first real server's (%v)", vs.Pos, all)
			break
		}
	}
	if all {
		t := true
		out.InhibitOnFailure = &t
	}
}

// portsFor returns the real servers of one identity of vs.
func (cv *converter) portsFor(vs *VirtualServer, id identity, reals []*realServer) []config.RealServer {
	out := make([]config.RealServer, 0, len(reals))
	for _, r := range reals {
		rs := r.out
		if vs.Group != "" && id.fwmark != 0 && r.method != "NAT" {
			rs.Port = 0
		}
		out = append(out, rs)
	}
	return out
}

// sorryServer converts the sorry server, with its port as keepalived
// corrects it.
func (cv *converter) sorryServer(vs *VirtualServer, vsFwd *Forwarding) *config.SorryServer {
	s := vs.SorryServer
	out := &config.SorryServer{Address: s.Address.String(), Port: s.Port}
	method := vsFwd.Method
	if s.Forwarding != nil {
		method = s.Forwarding.Method
		out.Forwarding = forwarding(s.Forwarding)
	}
	if s.Inhibit {
		cv.rep.warnf(s.Pos, "sorry_server_inhibit", "not carried over: ipvsd removes the sorry server when quorum comes back")
	}
	if method != "NAT" && vs.Group == "" && s.Port != 0 {
		if vs.FWMark != 0 {
			cv.rep.warnf(s.Pos, "sorry_server", "port %d of a %s sorry server of a fwmark service: keepalived clears it, and so does the import", s.Port, method)
			out.Port = 0
		} else if s.Port != vs.Port {
			cv.rep.warnf(s.Pos, "sorry_server", "port %d differs from the virtual server's, %d: keepalived takes the virtual server's, and so does the import", s.Port, vs.Port)
			out.Port = vs.Port
		}
	}
	return out
}
