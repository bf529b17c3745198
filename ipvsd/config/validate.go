package config

import (
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvsd/check"
)

// Schedulers are the IPVS schedulers a virtual server may name.
var Schedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "mh", "sed", "nq", "fo", "ovf", "twos"}

// The defaults of what a file leaves out.
// The checks' other defaults are package check's.
const (
	DefaultScheduler    = "wlc"
	DefaultSyncInterval = 5 * time.Second
	DefaultHookTimeout  = 30 * time.Second
	DefaultRetry        = 1
)

// validName is what a virtual server's name may be: it is a path
// segment of the API and a key of the fleet's store.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// CheckName returns an error if name can not be a virtual server's.
func CheckName(name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("%q is not a name: up to 128 letters, digits and . _ : -, starting with a letter or digit", name)
	}
	return nil
}

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
	if vs.Name != "" {
		if err := CheckName(vs.Name); err != nil {
			r.addf(field("name"), "%v", err)
		}
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
	seen := make(map[netip.AddrPort]int, len(vs.RealServers))
	if len(vs.RealServers) > 0 {
		res.backends = make([]Backend, 0, len(vs.RealServers))
	}
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
	if len(checks) > 0 {
		out.Checks = make([]*check.Definition, len(checks))
	}
	for i := range checks {
		c := &checks[i]
		out.Checks[i] = c.resolve(r, fmt.Sprintf("%s[%d]", cpath, i), d, host, &c.Timing, &rs.Timing, &vs.Timing)
	}
	return out
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
	positive("delay_before_retry", t.DelayBeforeRetry)
	for _, c := range []struct {
		name string
		v    *uint32
		min  uint32
	}{{"rise", t.Rise, 1}, {"fall", t.Fall, 1}, {"retry", t.Retry, 0}} {
		if c.v != nil && (*c.v < c.min || *c.v > 1000) {
			r.addf(join(path, c.name), "%d is not from %d to 1000", *c.v, c.min)
		}
	}
}
