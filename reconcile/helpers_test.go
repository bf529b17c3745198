package reconcile

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvstest"
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

// applyToTable applies plan p, made from table, to ipvstest's in-memory
// IPVS holding table (with its connection counts), which refuses what the
// kernel would, and returns the table as the client reads it back. The
// model is the one table model of the tests: no second copy of the
// kernel's rules lives here.
func applyToTable(table []ipvs.VirtualServer, p *Plan) ([]ipvs.VirtualServer, error) {
	ctx := context.Background()
	f := ipvstest.NewFake()
	c, err := f.NewClient()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var b ipvs.Batch
	for _, vs := range table {
		b.CreateService(vs.Service)
		for _, d := range vs.Destinations {
			b.CreateDestination(vs.Service, d)
		}
	}
	if _, err := c.Apply(ctx, &b); err != nil {
		return nil, fmt.Errorf("loading the table: %w", err)
	}
	for _, vs := range table {
		for _, d := range vs.Destinations {
			if err := f.SetConnections(vs.Service, d, d.ActiveConnections, d.InactiveConnections, d.PersistentConnections); err != nil {
				return nil, err
			}
		}
	}
	if _, err := p.Apply(ctx, c); err != nil {
		return nil, err
	}
	return c.VirtualServers(ctx)
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
