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
	// Every service of the table by identity, and whether it is owned:
	// foreign ones only guard their identities against desired services.
	owned := make([]bool, len(current))
	matched := make([]bool, len(current))
	cur := make(map[serviceKey]int, len(current))
	for i := range current {
		vs := &current[i]
		pl.plan.read += 1 + len(vs.Destinations)
		owned[i] = pl.owns(vs.Service)
		cur[keyOf(normService(vs.Service))] = i
	}
	var created map[serviceKey]bool // desired services not in the table
	for _, vs := range desired {
		want := normService(vs.Service)
		k := keyOf(want)
		i, ok := cur[k]
		switch {
		case ok && matched[i] || !ok && created[k]:
			return nil, fmt.Errorf("reconcile: desired service %s is given twice", want)
		case ok && !owned[i]:
			return nil, fmt.Errorf("reconcile: desired service %s is in the table and not owned", want)
		case !pl.owns(vs.Service):
			return nil, fmt.Errorf("reconcile: desired service %s is not owned (Options.Owns)", want)
		}
		if !ok {
			if created == nil {
				created = map[serviceKey]bool{}
			}
			created[k] = true
			pl.add(CreateService, want, ipvs.Destination{}, reasonNew)
			if err := pl.destinations(want, nil, vs.Destinations, false); err != nil {
				return nil, err
			}
			continue
		}
		matched[i] = true
		have := normService(current[i].Service)
		if d := diffService(have, want); d != "" {
			pl.add(UpdateService, want, ipvs.Destination{}, d)
		}
		if err := pl.destinations(have, current[i].Destinations, vs.Destinations, true); err != nil {
			return nil, err
		}
	}
	for i := range current {
		if owned[i] && !matched[i] {
			vs := &current[i]
			pl.add(RemoveService, normService(vs.Service), ipvs.Destination{}, reasonNotDesired)
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

// smallList is the longest list of destinations matched by scanning
// rather than through a map: most services have a few.
const smallList = 16

// destinations plans the destinations of service svc (normalized, as the
// kernel holds it if exists): from have to want.
func (pl *planner) destinations(svc ipvs.Service, have, want []ipvs.Destination, exists bool) error {
	var keyBuf [smallList]destKey
	var usedBuf [smallList]bool
	haveKeys, used := keyBuf[:0], usedBuf[:0]
	if len(have) > smallList {
		haveKeys, used = make([]destKey, 0, len(have)), make([]bool, len(have))
	} else {
		used = usedBuf[:len(have)]
	}
	for i := range have {
		haveKeys = append(haveKeys, destKeyIn(&svc, &have[i]))
	}
	var index map[destKey]int
	if len(have) > smallList {
		index = make(map[destKey]int, len(have))
		for i, k := range haveKeys {
			index[k] = i
		}
	}
	find := func(k destKey) int {
		if index != nil {
			if i, ok := index[k]; ok {
				return i
			}
			return -1
		}
		for i, hk := range haveKeys {
			if hk == k {
				return i
			}
		}
		return -1
	}
	var seen map[destKey]bool // desired keys not in have, for duplicates
	for j := range want {
		d := normDest(svc, want[j])
		k := destKeyOf(d)
		i := find(k)
		if i < 0 {
			if seen == nil {
				seen = map[destKey]bool{}
			}
			if seen[k] {
				return fmt.Errorf("reconcile: desired destination %s of %s is given twice", d, svc)
			}
			seen[k] = true
			pl.add(CreateDestination, svc, d, reasonNew)
			continue
		}
		if used[i] {
			return fmt.Errorf("reconcile: desired destination %s of %s is given twice", d, svc)
		}
		used[i] = true
		if h := normDest(svc, have[i]); !sameDest(&h, &d) {
			pl.add(UpdateDestination, svc, d, diffDest(&h, &d))
		}
	}
	if !exists {
		return nil
	}
	for i := range have {
		if !used[i] {
			pl.retire(svc, normDest(svc, have[i]))
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

// The reasons of creations and removals of services are constants, so
// that planning a large table costs no string each.
const (
	reasonNew        = "not in the table"
	reasonNotDesired = "not desired"
)
