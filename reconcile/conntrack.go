package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ipvs-go/ipvs"
)

// ConntrackFlush is a flush a plan makes after it removes a destination
// of a UDP or SCTP service (see Options.FlushConntrack): the conntrack
// entries of the flows that went to it, which would otherwise keep
// their clients' datagrams going there.
type ConntrackFlush struct {
	// Filter selects the entries, as ipvs.Client.FlushConntrack takes it.
	Filter ipvs.ConntrackFilter
	// change is the index of the plan's removal after which it runs.
	change int
}

// String returns "flush conntrack udp 10.0.0.1:53 -> 10.0.0.2:53".
func (f ConntrackFlush) String() string { return "flush conntrack " + f.Filter.String() }

// conntrackFlushes lists the flushes of the plan's removals: of each
// masquerading destination removed from a UDP or SCTP service, alone or
// with its service. Other destinations leave no trace of themselves in
// conntrack (see ipvs.ConntrackFilter), and TCP's entries follow its
// connections' ends.
func conntrackFlushes(p *Plan) []ConntrackFlush {
	var out []ConntrackFlush
	add := func(i int, svc ipvs.Service, d ipvs.Destination) {
		if d.Forward == ipvs.ForwardMasquerade {
			out = append(out, ConntrackFlush{Filter: ipvs.ConntrackFilter{Service: svc, Destination: d}, change: i})
		}
	}
	for i := range p.entries {
		e := &p.entries[i]
		if e.have < 0 || (e.kind != KindRemoveDestination && e.kind != KindRemoveService) {
			continue
		}
		vs := &p.current[e.have]
		svc := vs.Service
		if svc.FWMark != 0 || (svc.Protocol != ipvs.ProtocolUDP && svc.Protocol != ipvs.ProtocolSCTP) {
			continue
		}
		if e.kind == KindRemoveDestination {
			add(i, svc, vs.Destinations[e.dest])
			continue
		}
		for _, d := range vs.Destinations {
			add(i, svc, d)
		}
	}
	return out
}

// ConntrackFlushes returns the flushes Apply makes after the plan's
// writes, one per destination removed (see Options.FlushConntrack).
func (p *Plan) ConntrackFlushes() []ConntrackFlush { return p.flushes }

// flushConntrack runs, in one ipvs.Client.FlushConntrack, the flushes of
// the removals that the kernel applied (results are Client.Apply's), and
// returns err joined with its error, if any: a flush that fails (no
// conntrack in the kernel, no permission) leaves the plan's writes as
// they were applied.
func (p *Plan) flushConntrack(ctx context.Context, c *ipvs.Client, results []error, err error) error {
	var filters []ipvs.ConntrackFilter
	for _, f := range p.flushes {
		if f.change < len(results) && results[f.change] == nil {
			filters = append(filters, f.Filter)
		}
	}
	if len(filters) == 0 {
		return err
	}
	n, ferr := c.FlushConntrack(ctx, filters...)
	p.flushed = n
	if ferr != nil {
		return errors.Join(err, fmt.Errorf("reconcile: after the plan's writes: %w", ferr))
	}
	return err
}

// ConntrackFlushed returns how many conntrack entries Apply's flushes
// deleted.
func (p *Plan) ConntrackFlushed() int { return p.flushed }

// writeFlushes adds the plan's flushes to its printout, one a line.
func (p *Plan) writeFlushes(b *strings.Builder) {
	for _, f := range p.flushes {
		fmt.Fprintf(b, "# %s\n", f)
	}
}
