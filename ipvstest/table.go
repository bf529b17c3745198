package ipvstest

import (
	"net/netip"
	"slices"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/internal/ipvsh"
)

// Reading and changing the model's table directly, as a test does to
// check what a client did or to set what traffic would have set.

// VirtualServers returns the model's services with their destinations,
// as ipvs.Client.VirtualServers would read them: in the order a dump
// lists them (by creation, firewall-mark services last; destinations
// newest first), with the flags, timeouts and netmasks the kernel reports.
func (f *Fake) VirtualServers() []ipvs.VirtualServer {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]ipvs.VirtualServer, 0, len(f.t.svcs))
	for _, s := range slices.Concat(f.t.order, f.t.fwm) {
		vs := ipvs.VirtualServer{Service: f.publicService(s), Destinations: make([]ipvs.Destination, 0, len(s.dests))}
		for i := len(s.dests) - 1; i >= 0; i-- {
			vs.Destinations = append(vs.Destinations, publicDest(s.dests[i]))
		}
		out = append(out, vs)
	}
	return out
}

func (f *Fake) publicService(s *service) ipvs.Service {
	k := s.key
	out := ipvs.Service{Family: ipvs.Family(k.af), Scheduler: s.sched, PersistenceEngine: s.pe,
		Flags: ipvs.ServiceFlags(s.flags), Timeout: time.Duration(s.timeout/uint32(f.hz)) * time.Second, Stats: s.stats}
	if k.fwmark != 0 {
		out.FWMark = k.fwmark
	} else {
		out.Protocol, out.Address, out.Port = ipvs.Protocol(k.proto), toAddr(k.af, k.addr), k.port
	}
	if k.af == ipvsh.AFInet {
		out.Netmask = ipvs.IPv4Mask(s.netmask)
	} else if plen := nativeU32(s.netmask); plen < 128 {
		out.Netmask = ipvs.PrefixMask(int(plen))
	}
	return out
}

func publicDest(d *dest) ipvs.Destination {
	return ipvs.Destination{Family: ipvs.Family(d.key.af), Address: toAddr(d.key.af, d.key.addr), Port: d.key.port,
		Forward: ipvs.ForwardMethod(d.fwd), Weight: d.weight, UpperThreshold: d.uthresh, LowerThreshold: d.lthresh,
		TunnelType: ipvs.TunnelType(d.tunType), TunnelPort: d.tunPort, TunnelFlags: ipvs.TunnelFlags(d.tunFlags),
		ActiveConnections: d.active, InactiveConnections: d.inactive, PersistentConnections: d.persist, Stats: d.stats}
}

// Timeouts returns the model's connection timeouts.
func (f *Fake) Timeouts() ipvs.Timeouts {
	f.mu.Lock()
	defer f.mu.Unlock()
	sec := func(j int64) time.Duration { return time.Duration(j/f.hz) * time.Second }
	return ipvs.Timeouts{TCP: sec(f.t.tcp), TCPFin: sec(f.t.tcpFin), UDP: sec(f.t.udp)}
}

// Daemons returns the model's running sync daemons, master first, with
// their defaults filled in as the kernel fills them.
func (f *Fake) Daemons() []ipvs.Daemon {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ipvs.Daemon
	for _, x := range []struct {
		state ipvs.DaemonState
		d     *daemon
	}{{ipvs.DaemonMaster, f.t.master}, {ipvs.DaemonBackup, f.t.backup}} {
		if x.d == nil {
			continue
		}
		g := netip.AddrFrom4([4]byte(x.d.group[:4]))
		if x.d.groupAF == ipvsh.AFInet6 {
			g = netip.AddrFrom16(x.d.group)
		}
		out = append(out, ipvs.Daemon{State: x.state, Interface: x.d.ifname, SyncID: x.d.syncID,
			MaxLength: x.d.maxLen, Group: g, Port: x.d.port, TTL: x.d.ttl})
	}
	return out
}

// SetConnections sets the connection counts of a destination, as traffic
// would: what a drain waits on.
func (f *Fake) SetConnections(svc ipvs.Service, dst ipvs.Destination, active, inactive, persistent uint32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, d, err := f.lookup(svc, &dst)
	if err != nil {
		return err
	}
	d.active, d.inactive, d.persist = active, inactive, persistent
	return nil
}

// SetServiceStats sets the counters and rates of a service.
func (f *Fake) SetServiceStats(svc ipvs.Service, st ipvs.Stats) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, _, err := f.lookup(svc, nil)
	if err != nil {
		return err
	}
	s.stats = st
	return nil
}

// SetDestinationStats sets the counters and rates of a destination.
func (f *Fake) SetDestinationStats(svc ipvs.Service, dst ipvs.Destination, st ipvs.Stats) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, d, err := f.lookup(svc, &dst)
	if err != nil {
		return err
	}
	d.stats = st
	return nil
}
