package reconcile

import (
	"fmt"
	"time"

	"github.com/ipvs-go/ipvs"
)

// Compute returns the plan that turns the table current (as read from the
// kernel, such as by Client.VirtualServers) into desired. It does no I/O.
//
// Both tables are compared as the kernel reads services and destinations
// back, so a table that is as desired yields an empty plan: the hashed
// flag, FlagsMask, counters and connection counts are ignored, a zero
// Netmask is the full length, a zero Family is the address's (a
// destination's, else its service's), a zero destination Port of a
// non-fwmark service is the service's, and the tunnel fields count only
// for tunnel forwarding. A desired Flags is the whole set of flags.
//
// A desired service or destination whose identity (family, protocol,
// address and port, or fwmark) is not in the table is created; one that is
// but differs is updated. A destination in the table that is not desired,
// of a service that is, follows Options.Drain; a service in the table that
// is owned and not desired is removed with its destinations.
//
// The error names a desired service or destination given twice, or a
// desired service that is not owned.
func Compute(current, desired []ipvs.VirtualServer, opts Options) (*Plan, error) {
	pl := planner{opts: opts, now: opts.Now}
	if pl.now.IsZero() {
		pl.now = time.Now()
	}
	return pl.compute(current, desired)
}

type planner struct {
	opts Options
	now  time.Time
	// The changes of each Kind, joined in Kind order at the end.
	byKind [RemoveService + 1][]Change
	plan   Plan
}

func (pl *planner) owns(svc ipvs.Service) bool {
	return pl.opts.Owns == nil || pl.opts.Owns(svc)
}

func (pl *planner) add(k Kind, svc ipvs.Service, dst ipvs.Destination, reason string) {
	pl.byKind[k] = append(pl.byKind[k], Change{Kind: k, Service: svc, Destination: dst, Reason: reason})
}

func (pl *planner) compute(current, desired []ipvs.VirtualServer) (*Plan, error) {
	// The owned services of the table, by identity; foreign ones only
	// guard their identities against desired services.
	cur := make(map[serviceKey]int, len(current))
	foreign := map[serviceKey]bool{}
	for i, vs := range current {
		pl.plan.read += 1 + len(vs.Destinations)
		svc := normService(vs.Service)
		if pl.owns(vs.Service) {
			cur[keyOf(svc)] = i
		} else {
			foreign[keyOf(svc)] = true
		}
	}
	seen := make(map[serviceKey]bool, len(desired))
	for _, vs := range desired {
		want := normService(vs.Service)
		k := keyOf(want)
		switch {
		case seen[k]:
			return nil, fmt.Errorf("reconcile: desired service %s is given twice", want)
		case foreign[k]:
			return nil, fmt.Errorf("reconcile: desired service %s is in the table and not owned", want)
		case !pl.owns(vs.Service):
			return nil, fmt.Errorf("reconcile: desired service %s is not owned (Options.Owns)", want)
		}
		seen[k] = true
		i, ok := cur[k]
		if !ok {
			pl.add(CreateService, want, ipvs.Destination{}, createReason(want))
			if err := pl.destinations(want, nil, vs.Destinations, false); err != nil {
				return nil, err
			}
			continue
		}
		have := normService(current[i].Service)
		if d := diffService(have, want); d != "" {
			pl.add(UpdateService, want, ipvs.Destination{}, d)
		}
		if err := pl.destinations(have, current[i].Destinations, vs.Destinations, true); err != nil {
			return nil, err
		}
	}
	for _, vs := range current {
		svc := normService(vs.Service)
		if k := keyOf(svc); !seen[k] && !foreign[k] {
			pl.add(RemoveService, svc, ipvs.Destination{}, fmt.Sprintf("not desired; %d destinations", len(vs.Destinations)))
		}
	}
	n := 0
	for _, cs := range pl.byKind {
		n += len(cs)
	}
	pl.plan.changes = make([]Change, 0, n)
	for _, cs := range pl.byKind {
		pl.plan.changes = append(pl.plan.changes, cs...)
	}
	return &pl.plan, nil
}

// destinations plans the destinations of service svc (normalized, as the
// kernel holds it if exists): from have to want.
func (pl *planner) destinations(svc ipvs.Service, have, want []ipvs.Destination, exists bool) error {
	idx := make(map[destKey]int, len(have))
	for i, d := range have {
		idx[destKeyOf(normDest(svc, d))] = i
	}
	wanted := make(map[destKey]bool, len(want))
	for _, d := range want {
		d = normDest(svc, d)
		k := destKeyOf(d)
		if wanted[k] {
			return fmt.Errorf("reconcile: desired destination %s of %s is given twice", d, svc)
		}
		wanted[k] = true
		i, ok := idx[k]
		if !ok {
			pl.add(CreateDestination, svc, d, fmt.Sprintf("%s, weight %d", d.Forward, d.Weight))
			continue
		}
		if diff := diffDest(normDest(svc, have[i]), d); diff != "" {
			pl.add(UpdateDestination, svc, d, diff)
		}
	}
	if !exists {
		return nil
	}
	for _, d := range have {
		d = normDest(svc, d)
		if !wanted[destKeyOf(d)] {
			pl.retire(svc, d)
		}
	}
	return nil
}

// retire decides the fate of destination d of service svc, which is not
// desired: remove it, drain it, or let it drain on.
func (pl *planner) retire(svc ipvs.Service, d ipvs.Destination) {
	policy := DrainByProtocol
	if pl.opts.Drain != nil {
		policy = pl.opts.Drain(svc)
	}
	policy = policy.resolve(svc)
	persistent := pl.opts.CountPersistent && svc.Flags&ipvs.FlagPersistent != 0
	conns := uint64(d.ActiveConnections) + uint64(d.InactiveConnections)
	if persistent {
		conns += uint64(d.PersistentConnections)
	}
	if policy == RemoveAtOnce {
		reason := "not desired; removed at once"
		if conns > 0 {
			reason += " with " + connections(d, persistent)
		}
		pl.add(RemoveDestination, svc, d, reason)
		return
	}
	if conns == 0 {
		pl.add(RemoveDestination, svc, d, "not desired; no connections left")
		return
	}
	var since time.Time
	if pl.opts.DrainStarted != nil {
		since = pl.opts.DrainStarted(svc, d)
	}
	if t := pl.opts.DrainTimeout; t > 0 && !since.IsZero() && pl.now.Sub(since) >= t {
		pl.add(RemoveDestination, svc, d, fmt.Sprintf("not desired; drain timeout %s passed with %s", t, connections(d, persistent)))
		return
	}
	atZero := d.Weight == 0
	if !atZero {
		drained := d
		drained.Weight = 0
		pl.add(DrainDestination, svc, drained, fmt.Sprintf("not desired; weight %d -> 0 until its %s end", d.Weight, connections(d, persistent)))
		d = drained
	}
	pl.plan.draining = append(pl.plan.draining, Draining{Service: svc, Destination: d, Since: since, atZero: atZero})
}

// createReason summarizes a new service's settings.
func createReason(s ipvs.Service) string {
	r := "scheduler " + s.Scheduler
	if s.Flags != 0 {
		r += ", flags " + s.Flags.String()
	}
	if s.Flags&ipvs.FlagPersistent != 0 {
		r += fmt.Sprintf(", timeout %s, netmask %s", s.Timeout, s.Netmask)
	}
	return r
}
