package reconcile

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/ipvs-go/ipvs"
)

func tcp(addr string, port uint16) ipvs.Service {
	return ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr(addr), Port: port, Scheduler: "rr"}
}

func udp(addr string, port uint16) ipvs.Service {
	s := tcp(addr, port)
	s.Protocol = ipvs.ProtocolUDP
	return s
}

func dst(addrPort string, weight uint32) ipvs.Destination {
	ap := netip.MustParseAddrPort(addrPort)
	return ipvs.Destination{Address: ap.Addr(), Port: ap.Port(), Forward: ipvs.ForwardMasquerade, Weight: weight}
}

func conns(d ipvs.Destination, active, inactive, persistent uint32) ipvs.Destination {
	d.ActiveConnections, d.InactiveConnections, d.PersistentConnections = active, inactive, persistent
	return d
}

func vs(s ipvs.Service, ds ...ipvs.Destination) ipvs.VirtualServer {
	return ipvs.VirtualServer{Service: s, Destinations: ds}
}

// readBack returns a table as the kernel reads it back: family filled in,
// the hashed flag set, counters present.
func readBack(t []ipvs.VirtualServer) []ipvs.VirtualServer {
	out := make([]ipvs.VirtualServer, len(t))
	for i, v := range t {
		s := canonService(v.Service)
		s.Flags |= ipvs.FlagHashed
		s.Stats.Connections = 7
		out[i].Service = s
		for _, d := range v.Destinations {
			d = canonDest(s.Key(), d)
			d.Stats.InBytes = 99
			out[i].Destinations = append(out[i].Destinations, d)
		}
	}
	return out
}

// applyToTable applies changes to a table as the kernel would, refusing
// what it would refuse, and returns the new table read back.
func applyToTable(table []ipvs.VirtualServer, changes []Change) ([]ipvs.VirtualServer, error) {
	t := slices.Clone(table)
	find := func(s ipvs.Service) int {
		k := s.Key()
		return slices.IndexFunc(t, func(v ipvs.VirtualServer) bool { return v.Service.Key() == k })
	}
	for _, c := range changes {
		i := find(c.Service)
		if c.Kind != KindCreateService && i < 0 {
			return nil, fmt.Errorf("%s: no such service", c)
		}
		var j int
		if c.Kind.isDestination() {
			sk := t[i].Service.Key()
			k := c.Destination.Key(sk)
			j = slices.IndexFunc(t[i].Destinations, func(d ipvs.Destination) bool { return d.Key(sk) == k })
			if c.Kind != KindCreateDestination && j < 0 {
				return nil, fmt.Errorf("%s: no such destination", c)
			}
		}
		switch c.Kind {
		case KindCreateService:
			if i >= 0 {
				return nil, fmt.Errorf("%s: exists", c)
			}
			t = append(t, ipvs.VirtualServer{Service: c.Service})
		case KindUpdateService:
			t[i].Service = c.Service
		case KindRemoveService:
			t = slices.Delete(t, i, i+1)
		case KindCreateDestination:
			if j >= 0 {
				return nil, fmt.Errorf("%s: exists", c)
			}
			t[i].Destinations = append(slices.Clone(t[i].Destinations), c.Destination)
		case KindUpdateDestination, KindDrainDestination:
			ds := slices.Clone(t[i].Destinations)
			old := ds[j]
			ds[j] = c.Destination
			ds[j].ActiveConnections, ds[j].InactiveConnections, ds[j].PersistentConnections =
				old.ActiveConnections, old.InactiveConnections, old.PersistentConnections
			t[i].Destinations = ds
		case KindRemoveDestination:
			t[i].Destinations = slices.Delete(slices.Clone(t[i].Destinations), j, j+1)
		}
	}
	return readBack(t), nil
}

// lines returns the plan's changes as strings, for comparisons.
func lines(p *Plan) []string {
	var out []string
	for _, c := range p.Changes() {
		out = append(out, c.String())
	}
	return out
}

func mustCompute(t *testing.T, current, desired []ipvs.VirtualServer, opts Options) *Plan {
	t.Helper()
	p, err := Compute(current, desired, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func wantLines(t *testing.T, p *Plan, want ...string) {
	t.Helper()
	if got := lines(p); !slices.Equal(got, want) {
		t.Errorf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
