package collector

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/prometheus/client_golang/prometheus"
)

// fakeSource is a table in memory, read as the kernel would answer.
type fakeSource struct {
	vss      []ipvs.VirtualServer
	info     ipvs.Info
	timeouts ipvs.Timeouts
	daemons  []ipvs.Daemon
	states   map[string]int
	totals   ipvs.Stats
	// err fails every read; infoErr only Info, totalsErr only Totals.
	err, infoErr, totalsErr error
	// The reads of the table: with destinations, and of services alone.
	vsReads, serviceReads int
}

func (f *fakeSource) ConnectionStates(ctx context.Context, filter ipvs.ConnectionFilter) (map[string]int, error) {
	if filter != (ipvs.ConnectionFilter{}) {
		return nil, errors.New("the collector counts the whole table")
	}
	return f.states, f.err
}

func (f *fakeSource) Totals(ctx context.Context) (ipvs.Stats, error) {
	if f.totalsErr != nil {
		return ipvs.Stats{}, f.totalsErr
	}
	return f.totals, f.err
}

// plainSource hides a fakeSource's ConnectionStates and Totals.
type plainSource struct{ Source }

func (f *fakeSource) VirtualServers(ctx context.Context) ([]ipvs.VirtualServer, error) {
	f.vsReads++
	return f.vss, f.err
}

func (f *fakeSource) Services(ctx context.Context) ([]ipvs.Service, error) {
	f.serviceReads++
	var svcs []ipvs.Service
	for _, vs := range f.vss {
		svcs = append(svcs, vs.Service)
	}
	return svcs, f.err
}

func (f *fakeSource) Info(ctx context.Context) (ipvs.Info, error) {
	if f.infoErr != nil {
		return ipvs.Info{}, f.infoErr
	}
	return f.info, f.err
}

func (f *fakeSource) Timeouts(ctx context.Context) (ipvs.Timeouts, error) {
	return f.timeouts, f.err
}

func (f *fakeSource) Daemons(ctx context.Context) ([]ipvs.Daemon, error) {
	return f.daemons, f.err
}

var (
	vip4  = netip.MustParseAddr("192.0.2.10")
	vip6  = netip.MustParseAddr("2001:db8::10")
	real1 = netip.MustParseAddr("10.0.0.1")
	real2 = netip.MustParseAddr("10.0.0.2")
	real6 = netip.MustParseAddr("2001:db8:1::1")
)

// stats returns distinct counters and rates derived from n, so that a
// value in the exposition tells which object and field it came from.
func stats(n uint64) ipvs.Stats {
	return ipvs.Stats{
		Connections: n, InPackets: n*10 + 1, OutPackets: n*10 + 2, InBytes: n*1000 + 3, OutBytes: n*1000 + 4,
		ConnectionRate: n, InPacketRate: n + 1, OutPacketRate: n + 2, InByteRate: n + 3, OutByteRate: n + 4,
	}
}

func dest(addr netip.Addr, port uint16, fwd ipvs.ForwardMethod, weight uint32, n uint64) ipvs.Destination {
	return ipvs.Destination{Address: addr, Port: port, Forward: fwd, Weight: weight,
		ActiveConnections: uint32(n), InactiveConnections: uint32(n + 1), PersistentConnections: uint32(n + 2), Stats: stats(n)}
}

// goldenTable has what makes series collide when labels are careless:
// services on one VIP that differ only in protocol or port, a fwmark
// service with the same mark in both families, an IPv6 and an SCTP
// service, a destination shared by two services, an IPv6 tunnel
// destination of an IPv4 service, and a service and a destination the
// dump yields twice; and totals above the sum of the services', as the
// kernel's count services since removed too.
func goldenTable() *fakeSource {
	tcp80 := ipvs.VirtualServer{
		Service: ipvs.Service{Family: ipvs.FamilyIPv4, Protocol: ipvs.ProtocolTCP, Address: vip4, Port: 80,
			Scheduler: "rr", Flags: ipvs.FlagHashed, Stats: stats(100)},
		Destinations: []ipvs.Destination{
			dest(real1, 8080, ipvs.ForwardMasquerade, 1, 1),
			dest(real2, 8080, ipvs.ForwardDirectRoute, 2, 2),
			dest(real1, 8080, ipvs.ForwardMasquerade, 1, 1),
		},
	}
	udp80 := ipvs.VirtualServer{
		Service: ipvs.Service{Family: ipvs.FamilyIPv4, Protocol: ipvs.ProtocolUDP, Address: vip4, Port: 80,
			Scheduler: "sh", Flags: ipvs.FlagHashed | ipvs.FlagSHFallback | ipvs.FlagSHPort, Stats: stats(200)},
		Destinations: []ipvs.Destination{dest(real1, 8080, ipvs.ForwardMasquerade, 3, 3)},
	}
	sip := ipvs.VirtualServer{
		Service: ipvs.Service{Family: ipvs.FamilyIPv4, Protocol: ipvs.ProtocolUDP, Address: vip4, Port: 5060,
			Scheduler: "wlc", PersistenceEngine: "sip", Flags: ipvs.FlagHashed | ipvs.FlagPersistent,
			Timeout: 300 * time.Second, Stats: stats(300)},
	}
	mark4 := ipvs.VirtualServer{
		Service: ipvs.Service{Family: ipvs.FamilyIPv4, FWMark: 7, Scheduler: "wrr", Flags: ipvs.FlagHashed, Stats: stats(400)},
		Destinations: []ipvs.Destination{
			dest(real1, 0, ipvs.ForwardDirectRoute, 1, 4),
			func() ipvs.Destination {
				d := dest(real6, 0, ipvs.ForwardTunnel, 1, 5)
				d.Family, d.TunnelType, d.TunnelPort, d.TunnelFlags = ipvs.FamilyIPv6, ipvs.TunnelGUE, 6080, ipvs.TunnelChecksum
				return d
			}(),
			func() ipvs.Destination {
				d := dest(real2, 0, ipvs.ForwardTunnel, 1, 6)
				d.TunnelType = ipvs.TunnelIPIP
				return d
			}(),
		},
	}
	mark6 := ipvs.VirtualServer{
		Service:      ipvs.Service{Family: ipvs.FamilyIPv6, FWMark: 7, Scheduler: "rr", Flags: ipvs.FlagHashed, Stats: stats(500)},
		Destinations: []ipvs.Destination{dest(real6, 0, ipvs.ForwardDirectRoute, 1, 7)},
	}
	sctp6 := ipvs.VirtualServer{
		Service: ipvs.Service{Family: ipvs.FamilyIPv6, Protocol: ipvs.ProtocolSCTP, Address: vip6, Port: 80,
			Scheduler: "mh", Flags: ipvs.FlagHashed, Stats: stats(600)},
		Destinations: []ipvs.Destination{dest(real6, 80, ipvs.ForwardMasquerade, 1, 8)},
	}
	tcp6 := ipvs.VirtualServer{
		Service: ipvs.Service{Family: ipvs.FamilyIPv6, Protocol: ipvs.ProtocolTCP, Address: vip6, Port: 80,
			Scheduler: "rr", Flags: ipvs.FlagHashed, Stats: stats(700)},
		Destinations: []ipvs.Destination{dest(real6, 80, ipvs.ForwardMasquerade, 1, 9)},
	}
	return &fakeSource{
		vss:      []ipvs.VirtualServer{tcp80, udp80, sip, mark4, mark6, sctp6, tcp6, tcp80},
		info:     ipvs.Info{Version: ipvs.Version{Major: 1, Minor: 2, Patch: 1}, ConnectionTableSize: 4096},
		timeouts: ipvs.Timeouts{TCP: 900 * time.Second, TCPFin: 120 * time.Second, UDP: 300 * time.Second},
		daemons: []ipvs.Daemon{{State: ipvs.DaemonMaster, Interface: "eth0", SyncID: 9, MaxLength: 1472,
			Group: netip.MustParseAddr("224.0.0.81"), Port: 8848, TTL: 1}},
		totals: stats(9000),
	}
}

// upOnly collects only a Collector's ipvs_up, for testutil.ToFloat64.
type upOnly struct{ c *Collector }

func (u upOnly) Describe(ch chan<- *prometheus.Desc) { ch <- u.c.d.up }

func (u upOnly) Collect(ch chan<- prometheus.Metric) {
	all := make(chan prometheus.Metric)
	go func() { u.c.Collect(all); close(all) }()
	for m := range all {
		if m.Desc() == u.c.d.up {
			ch <- m
		}
	}
}
