package config

import (
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ipvs-go/ipvs"
)

// Schedulers are the IPVS schedulers a virtual server may name.
var Schedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "mh", "sed", "nq", "fo", "ovf", "twos"}

// The defaults of what a file leaves out.
const (
	DefaultScheduler        = "wlc"
	DefaultSyncInterval     = 5 * time.Second
	DefaultHookTimeout      = 30 * time.Second
	DefaultDelayLoop        = 5 * time.Second
	DefaultConnectTimeout   = 5 * time.Second
	DefaultRetry            = 1
	DefaultDelayBeforeRetry = time.Second
	DefaultRise             = 1
)

// validName is what a virtual server's name may be: it is a path
// segment of the API and a key of the fleet's store.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// validate checks the director's settings.
func (d *Director) validate(r *report, path string) {
	if d.SyncInterval != nil && time.Duration(*d.SyncInterval) < 10*time.Millisecond {
		r.addf(join(path, "sync_interval"), "%s is shorter than 10ms", *d.SyncInterval)
	}
	if d.HookTimeout != nil && *d.HookTimeout == 0 {
		r.addf(join(path, "hook_timeout"), "is 0")
	}
	checkLabels(r, join(path, "labels"), d.Labels)
}

func checkLabels(r *report, path string, labels map[string]string) {
	for k := range labels {
		if k == "" || strings.ContainsAny(k, " \t\n") {
			r.addf(join(path, k), "%q is not a label name", k)
		}
	}
}

// validate checks a virtual server and resolves it (vs.resolved) if it
// is valid.
func (vs *VirtualServer) validate(r *report, path string) {
	before := len(r.errs)
	field := func(name string) string { return join(path, name) }
	res := &resolvedVS{}
	svc := &res.service
	persistent := vs.PersistenceTimeout != nil

	// Identity.
	if vs.FWMark != 0 {
		for _, f := range []struct {
			name string
			set  bool
		}{{"address", vs.Address != ""}, {"port", vs.Port != 0}, {"protocol", vs.Protocol != ""}} {
			if f.set {
				r.addf(field(f.name), "a fwmark virtual server has no %s", f.name)
			}
		}
		svc.FWMark = vs.FWMark
		svc.Family = vs.fwmarkFamily(r, field("ip_family"))
	} else {
		if vs.Family != "" {
			r.addf(field("ip_family"), "applies to fwmark virtual servers; this one's family is its address's")
		}
		svc.Protocol = protocol(r, field("protocol"), vs.Protocol)
		svc.Address = address(r, field("address"), vs.Address, "virtual server address")
		svc.Family = familyOf(svc.Address)
		svc.Port = vs.Port
		if vs.Port == 0 && vs.Address != "" && !persistent {
			r.addf(field("port"), "is required: only a persistent virtual server (persistence_timeout) may take every port")
		}
	}

	// Scheduling.
	svc.Scheduler = vs.Scheduler
	if svc.Scheduler == "" {
		svc.Scheduler = DefaultScheduler
	} else if !slices.Contains(Schedulers, svc.Scheduler) {
		r.addf(field("lvs_sched"), "%q is not a scheduler: want one of %s", vs.Scheduler, strings.Join(Schedulers, ", "))
	}
	svc.Flags |= schedulerFlags(r, field("sched_flags"), vs.SchedulerFlags, svc.Scheduler)
	if vs.OnePacket {
		if svc.FWMark == 0 && svc.Protocol != ipvs.ProtocolUDP {
			r.addf(field("ops"), "one-packet scheduling applies to UDP virtual servers")
		}
		svc.Flags |= ipvs.FlagOnePacket
	}

	// Persistence.
	if persistent {
		t := time.Duration(*vs.PersistenceTimeout)
		if t < time.Second || t%time.Second != 0 || t > ipvs.MaxPersistenceTimeout {
			r.addf(field("persistence_timeout"), "%s is not a whole number of seconds from 1 to %d", t, int64(ipvs.MaxPersistenceTimeout/time.Second))
		}
		svc.Flags |= ipvs.FlagPersistent
		svc.Timeout = t
		if vs.PersistenceGranularity != "" {
			svc.Netmask = granularity(r, field("persistence_granularity"), vs.PersistenceGranularity, svc.Family)
		}
		svc.PersistenceEngine = vs.PersistenceEngine
	} else {
		if vs.PersistenceGranularity != "" {
			r.addf(field("persistence_granularity"), "applies to persistent virtual servers: set persistence_timeout")
		}
		if vs.PersistenceEngine != "" {
			r.addf(field("persistence_engine"), "applies to persistent virtual servers: set persistence_timeout")
		}
	}

	// Policies.
	if vs.Name != "" && !validName.MatchString(vs.Name) {
		r.addf(field("name"), "%q is not a name: up to 128 letters, digits and . _ : -, starting with a letter or digit", vs.Name)
	}
	for i, n := range vs.Nodes {
		if n == "" {
			r.addf(fmt.Sprintf("%s[%d]", field("nodes"), i), "is empty")
		}
	}
	checkLabels(r, field("node_selector"), vs.NodeSelector)
	if vs.Quorum != nil && vs.Hysteresis > *vs.Quorum {
		r.addf(field("hysteresis"), "%d is more than the quorum, %d", vs.Hysteresis, *vs.Quorum)
	} else if vs.Quorum == nil && vs.Hysteresis > 1 {
		r.addf(field("hysteresis"), "%d is more than the quorum, 1 by default", vs.Hysteresis)
	}
	switch vs.OnFailure {
	case "", "drain", "remove", "inhibit":
	default:
		r.addf(field("on_failure"), "%q is not a policy: want drain, remove or inhibit", vs.OnFailure)
	}
	if vs.InhibitOnFailure != nil && *vs.InhibitOnFailure && vs.OnFailure != "" && vs.OnFailure != "inhibit" {
		r.addf(field("inhibit_on_failure"), "says inhibit, and on_failure says %s", vs.OnFailure)
	}
	vs.Timing.validate(r, path)

	// Real servers.
	defaultFwd := forwarding(r, path, vs.Forwarding, ipvs.Destination{Forward: ipvs.ForwardMasquerade})
	seen := map[netip.AddrPort]int{}
	for i := range vs.RealServers {
		rs := &vs.RealServers[i]
		rpath := fmt.Sprintf("%s[%d]", field("real_servers"), i)
		res.backends = append(res.backends, vs.realServer(r, rpath, field("checks"), rs, svc, defaultFwd))
		d := res.backends[i].Destination
		k := netip.AddrPortFrom(d.Address, d.Port)
		if j, twice := seen[k]; twice && d.Address.IsValid() {
			r.addf(rpath, "%s is real_servers[%d] already", k, j)
		}
		seen[k] = i
	}
	if len(vs.RealServers) == 0 {
		// The checks are resolved for each real server; without any,
		// they are still checked, against a stand-in.
		stand := ipvs.Destination{Address: svc.Address, Port: max(svc.Port, 1)}
		if !stand.Address.IsValid() {
			stand.Address = netip.IPv4Unspecified()
		}
		for i := range vs.Checks {
			c := &vs.Checks[i]
			c.resolve(r, fmt.Sprintf("%s[%d]", field("checks"), i), stand, vs.VirtualHost, &c.Timing, &vs.Timing)
		}
	}
	if vs.SorryServer != nil {
		spath := field("sorry_server")
		s := vs.SorryServer
		d := forwarding(r, spath, s.Forwarding, defaultFwd)
		d.Address = address(r, join(spath, "address"), s.Address, "sorry server address")
		d.Port = portOr(s.Port, svc.Port)
		d.Weight = weight(r, join(spath, "weight"), s.Weight)
		checkDestFamily(r, spath, svc, &d)
		if j, twice := seen[netip.AddrPortFrom(d.Address, d.Port)]; twice {
			r.addf(spath, "is real_servers[%d] too: a sorry server stands in for the real servers", j)
		}
		res.sorry = &d
	}
	if len(r.errs) == before {
		vs.resolved = res
	}
}

// fwmarkFamily is the family of a fwmark service: the one given, else
// that of its real servers if they agree, else IPv4.
func (vs *VirtualServer) fwmarkFamily(r *report, path string) ipvs.Family {
	switch strings.ToLower(vs.Family) {
	case "inet":
		return ipvs.FamilyIPv4
	case "inet6":
		return ipvs.FamilyIPv6
	case "":
	default:
		r.addf(path, "%q is not a family: want inet or inet6", vs.Family)
		return ipvs.FamilyIPv4
	}
	var f ipvs.Family
	for _, rs := range vs.RealServers {
		a, err := netip.ParseAddr(rs.Address)
		if err != nil {
			continue
		}
		switch g := familyOf(a); {
		case f == 0:
			f = g
		case f != g:
			return ipvs.FamilyIPv4
		}
	}
	if f == 0 {
		return ipvs.FamilyIPv4
	}
	return f
}

// realServer checks a real server and returns it resolved.
// Its checks are the virtual server's (at vsChecks) unless it has its own.
func (vs *VirtualServer) realServer(r *report, path, vsChecks string, rs *RealServer, svc *ipvs.Service, fwd ipvs.Destination) Backend {
	field := func(name string) string { return join(path, name) }
	d := forwarding(r, path, rs.Forwarding, fwd)
	d.Address = address(r, field("address"), rs.Address, "real server address")
	d.Port = portOr(rs.Port, svc.Port)
	d.Weight = weight(r, field("weight"), rs.Weight)
	checkDestFamily(r, path, svc, &d)
	d.UpperThreshold, d.LowerThreshold = rs.UpperThreshold, rs.LowerThreshold
	if d.UpperThreshold > math.MaxInt32 {
		r.addf(field("uthreshold"), "%d is more than %d", d.UpperThreshold, math.MaxInt32)
	}
	if d.LowerThreshold > d.UpperThreshold {
		r.addf(field("lthreshold"), "%d is more than uthreshold, %d (0 means none, and then lthreshold must be 0 too)", d.LowerThreshold, d.UpperThreshold)
	}
	rs.Timing.validate(r, path)
	out := Backend{Destination: d, Alpha: vs.Alpha, NotifyUp: rs.NotifyUp, NotifyDown: rs.NotifyDown}
	if rs.Alpha != nil {
		out.Alpha = *rs.Alpha
	}
	checks, cpath := vs.Checks, vsChecks
	if rs.Checks != nil {
		checks, cpath = rs.Checks, field("checks")
	}
	host := rs.VirtualHost
	if host == "" {
		host = vs.VirtualHost
	}
	for i := range checks {
		c := &checks[i]
		p := c.resolve(r, fmt.Sprintf("%s[%d]", cpath, i), d, host, &c.Timing, &rs.Timing, &vs.Timing)
		out.Probes = append(out.Probes, p)
	}
	return out
}

// checkDestFamily checks that a destination's family is its service's,
// unless it tunnels.
func checkDestFamily(r *report, path string, svc *ipvs.Service, d *ipvs.Destination) {
	if !d.Address.IsValid() || svc.Family == 0 {
		return
	}
	if f := familyOf(d.Address); f != svc.Family && d.Forward != ipvs.ForwardTunnel {
		r.addf(join(path, "address"), "%s is %s and the virtual server %s: only a tunnelled (TUN) real server may differ", d.Address, f, svc.Family)
	}
}

// portOr returns p, or def if p is 0.
func portOr(p, def uint16) uint16 {
	if p == 0 {
		return def
	}
	return p
}

// weight returns a weight as given, or 1.
func weight(r *report, path string, w *uint32) uint32 {
	if w == nil {
		return 1
	}
	if *w > math.MaxInt32 {
		r.addf(path, "%d is more than %d", *w, math.MaxInt32)
	}
	return *w
}

// familyOf is the IPVS family of an address.
func familyOf(a netip.Addr) ipvs.Family {
	if a.Is4() {
		return ipvs.FamilyIPv4
	}
	return ipvs.FamilyIPv6
}

// address parses an address that IPVS can use.
func address(r *report, path, s, what string) netip.Addr {
	if s == "" {
		r.addf(path, "is required")
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		r.addf(path, "%q is not an IP address", s)
		return netip.Addr{}
	case a.Zone() != "":
		r.addf(path, "%q has a zone, which IPVS does not keep", s)
	case a.Is4In6():
		r.addf(path, "%q is an IPv4-mapped IPv6 address: write %s", s, a.Unmap())
	case a.IsUnspecified(), a.IsMulticast(), a == netip.IPv4Unspecified(), a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		r.addf(path, "%s can not be a %s", a, what)
	}
	return a.Unmap()
}

// protocol parses a protocol; "" is TCP.
func protocol(r *report, path, s string) ipvs.Protocol {
	switch strings.ToUpper(s) {
	case "", "TCP":
		return ipvs.ProtocolTCP
	case "UDP":
		return ipvs.ProtocolUDP
	case "SCTP":
		return ipvs.ProtocolSCTP
	}
	r.addf(path, "%q is not a protocol: want TCP, UDP or SCTP", s)
	return ipvs.ProtocolTCP
}

// schedulerFlags turns flag names into flags.
func schedulerFlags(r *report, path string, names []string, scheduler string) ipvs.ServiceFlags {
	var out ipvs.ServiceFlags
	for i, n := range names {
		fpath := fmt.Sprintf("%s[%d]", path, i)
		var f ipvs.ServiceFlags
		switch n {
		case "flag-1":
			f = ipvs.FlagSched1
		case "flag-2":
			f = ipvs.FlagSched2
		case "flag-3":
			f = ipvs.FlagSched3
		case "sh-fallback", "mh-fallback":
			f = ipvs.FlagSHFallback
		case "sh-port", "mh-port":
			f = ipvs.FlagSHPort
		default:
			r.addf(fpath, "%q is not a scheduler flag: want flag-1, flag-2, flag-3, sh-fallback, sh-port, mh-fallback or mh-port", n)
			continue
		}
		if prefix, _, named := strings.Cut(n, "-"); named && prefix != "flag" && prefix != scheduler {
			r.addf(fpath, "%s applies to the %s scheduler, and this one is %s", n, prefix, scheduler)
		}
		out |= f
	}
	return out
}

// granularity parses a persistence mask: an IPv4 mask or a prefix length.
func granularity(r *report, path, s string, f ipvs.Family) ipvs.Netmask {
	if n, err := strconv.Atoi(s); err == nil {
		max := 32
		if f == ipvs.FamilyIPv6 {
			max = 128
		}
		if n < 1 || n > max {
			r.addf(path, "%d is not a prefix length from 1 to %d", n, max)
		}
		return ipvs.PrefixMask(n)
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		r.addf(path, "%q is not a netmask: want such as 255.255.255.0, or a prefix length", s)
		return ipvs.Netmask{}
	}
	if f == ipvs.FamilyIPv6 {
		r.addf(path, "%s is an IPv4 mask, and the virtual server is IPv6: give a prefix length", s)
	}
	return ipvs.IPv4Mask(a.As4())
}

// forwarding returns def with the forwarding method of fw applied.
func forwarding(r *report, path string, fw Forwarding, def ipvs.Destination) ipvs.Destination {
	if fw == (Forwarding{}) {
		return def
	}
	d := def
	switch strings.ToUpper(fw.Method) {
	case "":
	case "NAT":
		d.Forward = ipvs.ForwardMasquerade
	case "DR":
		d.Forward = ipvs.ForwardDirectRoute
	case "TUN":
		d.Forward = ipvs.ForwardTunnel
	default:
		r.addf(join(path, "lvs_method"), "%q is not a forwarding method: want NAT, DR or TUN", fw.Method)
	}
	tunnelled := fw.TunnelType != "" || fw.TunnelPort != 0 || fw.TunnelChecksum != ""
	if d.Forward != ipvs.ForwardTunnel {
		if tunnelled {
			r.addf(join(path, "tunnel_type"), "tunnel settings apply to lvs_method TUN")
		}
		return d
	}
	d.TunnelType, d.TunnelFlags = ipvs.TunnelIPIP, 0
	switch fw.TunnelType {
	case "", "ipip":
	case "gue":
		d.TunnelType = ipvs.TunnelGUE
	case "gre":
		d.TunnelType = ipvs.TunnelGRE
	default:
		r.addf(join(path, "tunnel_type"), "%q is not a tunnel type: want ipip, gue or gre", fw.TunnelType)
	}
	d.TunnelPort = fw.TunnelPort
	switch {
	case d.TunnelType == ipvs.TunnelGUE && d.TunnelPort == 0:
		r.addf(join(path, "tunnel_port"), "is required for a gue tunnel")
	case d.TunnelType != ipvs.TunnelGUE && d.TunnelPort != 0:
		r.addf(join(path, "tunnel_port"), "applies to gue tunnels")
	}
	switch fw.TunnelChecksum {
	case "", "nocsum":
	case "csum":
		d.TunnelFlags = ipvs.TunnelChecksum
	case "remcsum":
		d.TunnelFlags = ipvs.TunnelRemoteChecksum
		if d.TunnelType != ipvs.TunnelGUE {
			r.addf(join(path, "tunnel_checksum"), "remcsum applies to gue tunnels")
		}
	default:
		r.addf(join(path, "tunnel_checksum"), "%q is not a checksum option: want nocsum, csum or remcsum", fw.TunnelChecksum)
	}
	if d.TunnelFlags != 0 && d.TunnelType == ipvs.TunnelIPIP {
		r.addf(join(path, "tunnel_checksum"), "applies to gue and gre tunnels")
	}
	return d
}

// validate checks the timing fields given.
func (t *Timing) validate(r *report, path string) {
	positive := func(name string, d *Duration) {
		if d != nil && time.Duration(*d) < time.Millisecond {
			r.addf(join(path, name), "%s is shorter than 1ms", *d)
		}
	}
	positive("delay_loop", t.DelayLoop)
	positive("connect_timeout", t.ConnectTimeout)
	if t.Rise != nil && (*t.Rise < 1 || *t.Rise > 1000) {
		r.addf(join(path, "rise"), "%d is not from 1 to 1000", *t.Rise)
	}
	if t.Retry != nil && *t.Retry > 1000 {
		r.addf(join(path, "retry"), "%d is more than 1000", *t.Retry)
	}
}
