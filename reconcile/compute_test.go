package reconcile

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
)

// TestComputeEveryKind plans every kind of change at once and checks their
// order: services created and updated, destinations created, updated,
// drained and removed, services removed.
func TestComputeEveryKind(t *testing.T) {
	a := tcp("10.0.0.1", 80)
	gone := tcp("10.0.0.9", 80)
	current := readBack([]ipvs.VirtualServer{
		vs(gone, dst("10.1.0.1:80", 1)),
		vs(a,
			dst("10.1.0.1:80", 1),                  // unchanged
			dst("10.1.0.2:80", 1),                  // weight changes
			conns(dst("10.1.0.3:80", 2), 3, 1, 0),  // drained
			dst("10.1.0.4:80", 1),                  // removed: no connections
			conns(dst("10.1.0.5:80", 0), 0, 2, 0)), // drains on
	})
	a2 := a
	a2.Scheduler = "wlc"
	desired := []ipvs.VirtualServer{
		vs(tcp("10.0.0.2", 443), dst("10.1.0.1:443", 1)),
		vs(a2, dst("10.1.0.6:80", 1), dst("10.1.0.2:80", 5), dst("10.1.0.1:80", 1)),
	}
	p := mustCompute(t, current, desired, Options{})
	wantLines(t, p,
		"create service tcp 10.0.0.2:443: not in the table (scheduler rr)",
		`update service tcp 10.0.0.1:80: scheduler "rr" -> "wlc"`,
		"create destination 10.1.0.1:443 of tcp 10.0.0.2:443: not in the table (masq, weight 1)",
		"create destination 10.1.0.6:80 of tcp 10.0.0.1:80: not in the table (masq, weight 1)",
		"update destination 10.1.0.2:80 of tcp 10.0.0.1:80: weight 1 -> 5",
		"drain destination 10.1.0.3:80 of tcp 10.0.0.1:80: not desired; weight 2 -> 0 until its 3 active, 1 inactive connections end",
		"remove destination 10.1.0.4:80 of tcp 10.0.0.1:80: not desired; no connections left",
		"remove service tcp 10.0.0.9:80: not desired",
	)
	if len(p.Draining()) != 2 {
		t.Errorf("draining %v, want 10.1.0.3 and 10.1.0.5", p.Draining())
	}
	if p.Empty() || !strings.Contains(p.String(), "# draining 10.1.0.5:80 of tcp 10.0.0.1:80: 0 active, 2 inactive") {
		t.Errorf("String:\n%s", p)
	}
	// Applied, the table plans nothing but the drains that go on.
	next, err := applyToTable(current, p)
	if err != nil {
		t.Fatal(err)
	}
	if p2 := mustCompute(t, next, desired, Options{}); !p2.Empty() || len(p2.Draining()) != 2 {
		t.Errorf("second plan:\n%s", p2)
	}
}

// TestComputeNormalization: a table that is as desired, as the kernel
// reads it back, plans nothing.
func TestComputeNormalization(t *testing.T) {
	svc := tcp("10.0.0.1", 80)
	svc.Flags = ipvs.FlagPersistent
	svc.Timeout = 300 * time.Second
	fw := ipvs.Service{Family: ipvs.FamilyIPv6, FWMark: 7, Scheduler: "wlc"}
	tun := dst("10.1.0.3:80", 1)
	tun.Forward, tun.TunnelType, tun.TunnelPort = ipvs.ForwardTunnel, ipvs.TunnelGUE, 6080
	six := ipvs.Service{Protocol: ipvs.ProtocolUDP, Address: netip.MustParseAddr("2001:db8::1"), Port: 53, Scheduler: "rr", Netmask: ipvs.PrefixMask(128)}
	desired := []ipvs.VirtualServer{
		vs(svc, dst("10.1.0.1:80", 1), dst("10.1.0.2:0", 2), tun),
		vs(fw, dst("[2001:db8::2]:0", 1)),
		vs(six, dst("[2001:db8::3]:53", 1)),
	}
	// The kernel's version: mapped address, hashed flag, netmask given in
	// full, tunnel fields on a masquerading destination, counters.
	k := readBack(desired)
	k[0].Service.Address = netip.MustParseAddr("::ffff:10.0.0.1")
	k[0].Service.Netmask = ipvs.PrefixMask(32)
	k[0].Service.FlagsMask = ipvs.FlagOnePacket
	k[0].Destinations[0].TunnelPort = 99
	k[0].Destinations[0].Family = 0
	k[2].Service.Netmask = ipvs.Netmask{}
	k[2].Destinations[0] = conns(k[2].Destinations[0], 5, 5, 5)
	if p := mustCompute(t, k, desired, Options{}); !p.Empty() {
		t.Errorf("plan for a converged table:\n%s", p)
	}
	// A tunnel port of a tunnel destination counts.
	desired[0].Destinations[2].TunnelPort = 6081
	wantLines(t, mustCompute(t, k, desired, Options{}),
		"update destination 10.1.0.3:80 of tcp 10.0.0.1:80: tunnel port 6080 -> 6081")
}

// TestComputeValidates: a desired table the client would refuse any part
// of is refused whole, before anything is planned, with the client's
// *ipvs.InvalidError naming the field and the value.
func TestComputeValidates(t *testing.T) {
	svc := tcp("10.0.0.1", 80)
	frac := tcp("10.0.0.3", 80)
	frac.Timeout = 300*time.Second + 300*time.Millisecond
	bigWeight := dst("10.1.0.2:80", 1)
	bigWeight.Weight = 1 << 31
	for _, tc := range []struct {
		desired []ipvs.VirtualServer
		field   string
	}{
		{[]ipvs.VirtualServer{vs(svc, dst("10.1.0.1:80", 1)), vs(frac)}, "service timeout"},
		{[]ipvs.VirtualServer{vs(svc, dst("10.1.0.1:80", 1), bigWeight)}, "destination weight"},
		{[]ipvs.VirtualServer{vs(ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.0.0.2"), Port: 80})}, "service scheduler"},
		{[]ipvs.VirtualServer{vs(svc, dst("[2001:db8::1]:80", 1))}, "destination family"},
	} {
		_, err := Compute(nil, tc.desired, Options{})
		var ie *ipvs.InvalidError
		if !errors.As(err, &ie) || ie.Field != tc.field || !errors.Is(err, os.ErrInvalid) {
			t.Errorf("Compute: error %v, want an *ipvs.InvalidError of field %q", err, tc.field)
		}
	}
}

// TestComputeIdentity: a change of identity is a removal and a creation.
func TestComputeIdentity(t *testing.T) {
	current := readBack([]ipvs.VirtualServer{vs(tcp("10.0.0.1", 80), dst("10.1.0.1:80", 1))})
	desired := []ipvs.VirtualServer{vs(udp("10.0.0.1", 80), dst("10.1.0.1:80", 1))}
	wantLines(t, mustCompute(t, current, desired, Options{}),
		"create service udp 10.0.0.1:80: not in the table (scheduler rr)",
		"create destination 10.1.0.1:80 of udp 10.0.0.1:80: not in the table (masq, weight 1)",
		"remove service tcp 10.0.0.1:80: not desired")
	desired = []ipvs.VirtualServer{vs(tcp("10.0.0.1", 80), dst("10.1.0.1:81", 1))}
	wantLines(t, mustCompute(t, current, desired, Options{}),
		"create destination 10.1.0.1:81 of tcp 10.0.0.1:80: not in the table (masq, weight 1)",
		"remove destination 10.1.0.1:80 of tcp 10.0.0.1:80: not desired; no connections left")
}

// TestComputeOwnership: services not owned are never written, and may not
// be desired.
func TestComputeOwnership(t *testing.T) {
	mine := func(s ipvs.Service) bool { return s.Port == 80 }
	foreign := tcp("10.0.0.5", 22)
	current := readBack([]ipvs.VirtualServer{
		vs(foreign, dst("10.1.0.1:22", 1)),
		vs(tcp("10.0.0.1", 80), dst("10.1.0.1:80", 1)),
	})
	wantLines(t, mustCompute(t, current, nil, Options{Owns: mine}),
		"remove service tcp 10.0.0.1:80: not desired")
	for _, desired := range [][]ipvs.VirtualServer{
		{vs(foreign)},             // in the table, not owned
		{vs(tcp("10.0.0.6", 22))}, // not owned
	} {
		if _, err := Compute(current, desired, Options{Owns: mine}); err == nil || !strings.Contains(err.Error(), "not owned") {
			t.Errorf("desired %v: error %v, want not owned", desired[0].Service, err)
		}
	}
}

func TestComputeDuplicates(t *testing.T) {
	for _, desired := range [][]ipvs.VirtualServer{
		{vs(tcp("10.0.0.1", 80)), vs(tcp("::ffff:10.0.0.1", 80))},
		{vs(tcp("10.0.0.1", 80), dst("10.1.0.1:80", 1), dst("10.1.0.1:0", 2))},
	} {
		if _, err := Compute(nil, desired, Options{}); err == nil || !strings.Contains(err.Error(), "given twice") {
			t.Errorf("error %v, want given twice", err)
		}
	}
}

// TestComputeDrain: what becomes of a destination that is not desired.
func TestComputeDrain(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	persistent := tcp("10.0.0.1", 80)
	persistent.Flags, persistent.Timeout = ipvs.FlagPersistent, time.Minute
	for _, tc := range []struct {
		name    string
		svc     ipvs.Service
		d       ipvs.Destination
		opts    Options
		started time.Time
		want    Kind // 0: keeps draining, no write
	}{
		{"tcp idle", tcp("10.0.0.1", 80), dst("10.1.0.1:80", 1), Options{}, time.Time{}, KindRemoveDestination},
		{"tcp active", tcp("10.0.0.1", 80), conns(dst("10.1.0.1:80", 1), 1, 0, 0), Options{}, time.Time{}, KindDrainDestination},
		{"tcp inactive", tcp("10.0.0.1", 80), conns(dst("10.1.0.1:80", 1), 0, 1, 0), Options{}, time.Time{}, KindDrainDestination},
		{"tcp at zero", tcp("10.0.0.1", 80), conns(dst("10.1.0.1:80", 0), 1, 0, 0), Options{}, time.Time{}, 0},
		{"udp", udp("10.0.0.1", 53), conns(dst("10.1.0.1:53", 1), 0, 4, 0), Options{}, time.Time{}, KindRemoveDestination},
		{"udp drained by choice", udp("10.0.0.1", 53), conns(dst("10.1.0.1:53", 1), 0, 4, 0),
			Options{Drain: func(ipvs.Service) DrainPolicy { return DrainPolicyGracefully }}, time.Time{}, KindDrainDestination},
		{"tcp removed by choice", tcp("10.0.0.1", 80), conns(dst("10.1.0.1:80", 1), 9, 0, 0),
			Options{Drain: func(ipvs.Service) DrainPolicy { return DrainPolicyRemoveAtOnce }}, time.Time{}, KindRemoveDestination},
		{"persistent not counted", persistent, conns(dst("10.1.0.1:80", 0), 0, 0, 3), Options{}, time.Time{}, KindRemoveDestination},
		{"persistent counted", persistent, conns(dst("10.1.0.1:80", 0), 0, 0, 3), Options{CountPersistent: true}, time.Time{}, 0},
		{"persistent count of a plain service", tcp("10.0.0.1", 80), conns(dst("10.1.0.1:80", 0), 0, 0, 3), Options{CountPersistent: true}, time.Time{}, KindRemoveDestination},
		{"timeout passed", tcp("10.0.0.1", 80), conns(dst("10.1.0.1:80", 0), 1, 0, 0), Options{DrainTimeout: time.Minute}, now.Add(-time.Minute), KindRemoveDestination},
		{"timeout not passed", tcp("10.0.0.1", 80), conns(dst("10.1.0.1:80", 0), 1, 0, 0), Options{DrainTimeout: time.Minute}, now.Add(-59 * time.Second), 0},
		{"timeout, start unknown", tcp("10.0.0.1", 80), conns(dst("10.1.0.1:80", 0), 1, 0, 0), Options{DrainTimeout: time.Minute}, time.Time{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := drainClock{now: now, started: func(ipvs.ServiceKey, netip.AddrPort) time.Time { return tc.started }}
			current := readBack([]ipvs.VirtualServer{vs(tc.svc, tc.d, dst("10.1.0.7:80", 1))})
			p, err := compute(current, []ipvs.VirtualServer{vs(tc.svc, dst("10.1.0.7:80", 1))}, tc.opts, clock)
			if err != nil {
				t.Fatal(err)
			}
			var got Kind
			if cs := p.Changes(); len(cs) == 1 {
				got = cs[0].Kind
			} else if len(cs) > 1 {
				t.Fatalf("plan:\n%s", p)
			}
			if got != tc.want {
				t.Errorf("plan:\n%swant %v", p, tc.want)
			}
			if draining := got == 0 || got == KindDrainDestination; draining != (len(p.Draining()) == 1) {
				t.Errorf("draining %v", p.Draining())
			}
		})
	}
}

// TestComputeRestoresWeight: a desired destination left at weight 0 (by a
// drain that was cut short) gets its desired weight back.
func TestComputeRestoresWeight(t *testing.T) {
	svc := tcp("10.0.0.1", 80)
	current := readBack([]ipvs.VirtualServer{vs(svc, conns(dst("10.1.0.1:80", 0), 3, 0, 0))})
	wantLines(t, mustCompute(t, current, []ipvs.VirtualServer{vs(svc, dst("10.1.0.1:80", 4))}, Options{}),
		"update destination 10.1.0.1:80 of tcp 10.0.0.1:80: weight 0 -> 4")
}

// TestComputeReadTwice: a service or destination that a read lists twice
// (the table changed during the dump) is neither removed nor drained.
func TestComputeReadTwice(t *testing.T) {
	svc := tcp("10.0.0.1", 80)
	d := conns(dst("10.1.0.1:80", 1), 1, 0, 0)
	desired := []ipvs.VirtualServer{vs(svc, dst("10.1.0.1:80", 1))}
	current := readBack([]ipvs.VirtualServer{vs(svc, d, d), vs(svc, d)})
	if p := mustCompute(t, current, desired, Options{}); !p.Empty() || len(p.Draining()) != 0 {
		t.Errorf("plan:\n%s", p)
	}
	var many []ipvs.Destination // past the scanned lists
	for i := range 2 * smallList {
		many = append(many, dst(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 1, byte(i)}), 80).String(), 1))
	}
	desired = []ipvs.VirtualServer{vs(svc, many...)}
	current = readBack([]ipvs.VirtualServer{vs(svc, append(many, many[3])...)})
	if p := mustCompute(t, current, desired, Options{}); !p.Empty() {
		t.Errorf("plan:\n%s", p)
	}
}

// TestSameDestIn checks the planner's comparison without copies against
// sameDest of the canonical destinations, over every combination of the
// fields it looks at, for destinations of the same key.
func TestSameDestIn(t *testing.T) {
	svcs := []ipvs.Service{{Family: ipvs.FamilyIPv4, Port: 80}, {Family: ipvs.FamilyIPv6, FWMark: 1}}
	addrs := []netip.Addr{{}, netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("::ffff:10.0.0.1"), netip.MustParseAddr("2001:db8::1")}
	var dests []ipvs.Destination
	for _, a := range addrs {
		for _, f := range []ipvs.Family{0, ipvs.FamilyIPv4, ipvs.FamilyIPv6} {
			for _, fwd := range []ipvs.ForwardMethod{ipvs.ForwardMasquerade, ipvs.ForwardTunnel} {
				for _, w := range []uint32{0, 1} {
					for _, tp := range []uint16{0, 6080} {
						dests = append(dests, ipvs.Destination{Address: a, Family: f, Forward: fwd, Weight: w, TunnelPort: tp,
							TunnelType: ipvs.TunnelGUE, UpperThreshold: uint32(tp)})
					}
				}
			}
		}
	}
	for _, svc := range svcs {
		for i := range dests {
			for j := range dests {
				k := dests[i].Key(svc.Key())
				if dests[j].Key(svc.Key()) != k {
					continue
				}
				a, b := canonDest(svc.Key(), dests[i]), canonDest(svc.Key(), dests[j])
				if got, want := sameDestIn(svc.Key(), k, &dests[i], &dests[j]), sameDest(&a, &b); got != want {
					t.Fatalf("sameDestIn(%v, %+v, %+v) = %v, want %v", svc, dests[i], dests[j], got, want)
				}
			}
		}
	}
}

// TestConvergeProperty: for random desired tables, applying the plan and
// planning again yields an empty plan, from random tables.
func TestConvergeProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var table []ipvs.VirtualServer
	for range 300 {
		desired := randomTable(rng)
		p := mustCompute(t, table, desired, Options{})
		next, err := applyToTable(table, p)
		if err != nil {
			t.Fatalf("%v\nplan:\n%s", err, p)
		}
		if p2 := mustCompute(t, next, desired, Options{}); !p2.Empty() {
			t.Fatalf("plan after applying:\n%s\nfirst plan:\n%s", p2, p)
		}
		table = next
	}
}
