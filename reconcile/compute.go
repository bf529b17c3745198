package reconcile

import (
	"fmt"
	"net/netip"
	"slices"
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
// The plan borrows current and desired, rather than copy them, until its
// Changes are made: leave them as they are until then (see Plan).
//
// Every desired service and destination is first checked as the client
// would check it before sending (VirtualServer.Validate),
// so that a table the kernel could be sent only part of is refused whole:
// the error then wraps the *ipvs.InvalidError, and matches os.ErrInvalid.
// The error may also name a desired service or destination given twice,
// or a desired service that is not owned.
//
// Compute knows nothing of earlier plans, so it never ends a drain by
// Options.DrainTimeout: a Reconciler, which remembers when each drain
// began, does.
func Compute(current, desired []ipvs.VirtualServer, opts Options) (*Plan, error) {
	return compute(current, desired, opts, drainClock{now: time.Now()})
}

// drainClock is what a plan knows of time: when it is made, and when
// each drain began (zero, or a nil started, if unknown), which a
// Reconciler remembers; and whether the current table was read, or is
// what the caller knows of it, without connection counts.
type drainClock struct {
	now     time.Time
	started func(svc ipvs.ServiceKey, dst netip.AddrPort) time.Time
	unread  bool
}

// compute is Compute with the drains' clock.
func compute(current, desired []ipvs.VirtualServer, opts Options, clock drainClock) (*Plan, error) {
	if err := checkDesired(desired); err != nil {
		return nil, err
	}
	pl := planner{opts: opts, clock: clock}
	pl.plan.current, pl.plan.desired, pl.plan.owns = current, desired, opts.Owns
	p, err := pl.compute()
	if err == nil && opts.Sysctls != nil {
		p.advisories = advise(p, opts.Sysctls)
	}
	if err == nil && opts.FlushConntrack {
		p.flushes = conntrackFlushes(p)
	}
	return p, err
}

// checkDesired refuses the first desired service or destination that the
// client would refuse to send.
func checkDesired(desired []ipvs.VirtualServer) error {
	for i := range desired {
		if err := desired[i].Validate(); err != nil {
			return fmt.Errorf("reconcile: desired table: %w", err)
		}
	}
	return nil
}

type planner struct {
	opts  Options
	clock drainClock
	// The changes of each Kind, joined in Kind order at the end.
	byKind [KindRemoveService + 1][]entry
	plan   Plan
	// Buffers of destinations, for the lists up to smallList long.
	keyBuf, wantBuf [smallList]netip.AddrPort
	usedBuf         [smallList]bool
}

// entry is a change as the planner records it: indexes into the tables,
// from which Plan.change makes the Change, so that a plan of many
// thousand creations costs a few bytes each.
type entry struct {
	kind Kind
	// want and have index the desired and current services, or are -1;
	// dest indexes the destinations of the desired one for creations and
	// updates, of the current one for drains and removals.
	want, have, dest int32
	reason           string
}

func (pl *planner) owns(svc ipvs.Service) bool {
	return pl.opts.Owns == nil || pl.opts.Owns(svc)
}

func (pl *planner) add(k Kind, want, have, dest int, reason string) {
	pl.byKind[k] = append(pl.byKind[k], entry{k, int32(want), int32(have), int32(dest), reason})
}

func (pl *planner) compute() (*Plan, error) {
	current, desired := pl.plan.current, pl.plan.desired
	// Every service of the table by identity, and whether it is owned:
	// foreign ones only guard their identities against desired services.
	owned := make([]bool, len(current))
	matched := make([]bool, len(current))
	cur := make(map[ipvs.ServiceKey]int, len(current))
	for i := range current {
		vs := &current[i]
		k := vs.Service.Key()
		if _, twice := cur[k]; twice {
			// A dump may list a service twice when the table changes
			// meanwhile: the second is the same service, not another.
			matched[i] = true
			continue
		}
		owned[i] = pl.owns(vs.Service)
		cur[k] = i
	}
	var created map[ipvs.ServiceKey]bool // desired services not in the table
	for w := range desired {
		vs := &desired[w]
		want := canonService(vs.Service)
		k := want.Key()
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
				created = map[ipvs.ServiceKey]bool{}
			}
			created[k] = true
			pl.add(KindCreateService, w, -1, -1, reasonNew)
			if err := pl.destinations(want, k, w, -1); err != nil {
				return nil, err
			}
			continue
		}
		matched[i] = true
		have := canonService(current[i].Service)
		if d := diffService(have, want); d != "" {
			pl.add(KindUpdateService, w, i, -1, d)
		}
		if err := pl.destinations(have, k, w, i); err != nil {
			return nil, err
		}
	}
	for i := range current {
		if owned[i] && !matched[i] {
			pl.add(KindRemoveService, -1, i, -1, reasonNotDesired)
		}
	}
	n := 0
	for _, es := range pl.byKind {
		n += len(es)
	}
	pl.plan.entries = make([]entry, 0, n)
	for _, es := range pl.byKind {
		pl.plan.entries = append(pl.plan.entries, es...)
	}
	return &pl.plan, nil
}

// smallList is the longest list of destinations matched by scanning
// rather than through a map: most services have a few.
const smallList = 16

// destinations plans the destinations of service svc (canonical, as the
// kernel holds it if it exists), whose key is sk: from those of
// current[h] (none if h is -1) to those of desired[w].
func (pl *planner) destinations(svc ipvs.Service, sk ipvs.ServiceKey, w, h int) error {
	want := pl.plan.desired[w].Destinations
	var have []ipvs.Destination
	if h >= 0 {
		have = pl.plan.current[h].Destinations
	}
	// The small lists' buffers are the planner's, reused service after
	// service: arrays on the stack would be cleared for each.
	haveKeys, wantKeys := pl.keyBuf[:0], pl.wantBuf[:0]
	used := pl.usedBuf[:min(len(have), smallList)]
	clear(used)
	if len(have) > smallList {
		haveKeys, used = make([]netip.AddrPort, 0, len(have)), make([]bool, len(have))
	}
	for i := range have {
		haveKeys = append(haveKeys, have[i].Key(sk))
	}
	var index map[netip.AddrPort]int
	if len(have) > smallList {
		index = make(map[netip.AddrPort]int, len(have))
	}
	// A destination listed twice (the table changed during the read) is
	// the same one: the second is set aside as if desired.
	for i, k := range haveKeys {
		if index != nil {
			if _, twice := index[k]; twice {
				used[i] = true
			} else {
				index[k] = i
			}
		} else if slices.Index(haveKeys[:i], k) >= 0 {
			used[i] = true
		}
	}
	var seen map[netip.AddrPort]bool // desired keys not in have, past smallList
	for j := range want {
		k := want[j].Key(sk)
		i := -1
		if index != nil {
			if x, ok := index[k]; ok {
				i = x
			}
		} else {
			i = slices.Index(haveKeys, k)
		}
		if i >= 0 {
			if used[i] {
				return pl.errGivenTwice(svc, want[j])
			}
			used[i] = true
			if !sameDestIn(sk, k, &have[i], &want[j]) {
				d, now := canonDest(sk, want[j]), canonDest(sk, have[i])
				pl.add(KindUpdateDestination, w, h, j, diffDest(&now, &d))
			}
			continue
		}
		// Not in the table: a creation, unless given twice.
		if len(want) <= smallList {
			if slices.Contains(wantKeys, k) {
				return pl.errGivenTwice(svc, want[j])
			}
			wantKeys = append(wantKeys, k)
		} else {
			if seen == nil {
				seen = make(map[netip.AddrPort]bool, len(want))
			}
			if seen[k] {
				return pl.errGivenTwice(svc, want[j])
			}
			seen[k] = true
		}
		pl.add(KindCreateDestination, w, h, j, reasonNew)
	}
	for i := range have {
		if !used[i] {
			pl.retire(svc, h, i)
		}
	}
	return nil
}

// errGivenTwice is the error of a desired destination given twice.
func (pl *planner) errGivenTwice(svc ipvs.Service, d ipvs.Destination) error {
	return fmt.Errorf("reconcile: desired destination %s of %s is given twice", canonDest(svc.Key(), d), svc)
}

// retire decides the fate of destination i of the current service h
// (normalized: svc), which is not desired: remove it, drain it, or let it
// drain on.
func (pl *planner) retire(svc ipvs.Service, h, i int) {
	d := canonDest(svc.Key(), pl.plan.current[h].Destinations[i])
	policy := DrainPolicyByProtocol
	if pl.opts.Drain != nil {
		policy = pl.opts.Drain(svc)
	}
	policy = policy.resolve(svc)
	persistent := pl.opts.CountPersistent && svc.Flags&ipvs.FlagPersistent != 0
	conns := uint64(d.ActiveConnections) + uint64(d.InactiveConnections)
	if persistent {
		conns += uint64(d.PersistentConnections)
	}
	if policy == DrainPolicyRemoveAtOnce {
		reason := "not desired; removed at once"
		if conns > 0 {
			reason += " with " + connections(d, persistent)
		}
		pl.add(KindRemoveDestination, -1, h, i, reason)
		return
	}
	// With the table unread, its connections are unknown: it drains,
	// and a plan from a read removes it once they end.
	var since time.Time
	held := "connections"
	if !pl.clock.unread {
		if conns == 0 {
			pl.add(KindRemoveDestination, -1, h, i, "not desired; no connections left")
			return
		}
		if pl.clock.started != nil {
			since = pl.clock.started(svc.Key(), d.Key(svc.Key()))
		}
		if t := pl.opts.DrainTimeout; t > 0 && !since.IsZero() && pl.clock.now.Sub(since) >= t {
			pl.add(KindRemoveDestination, -1, h, i, fmt.Sprintf("not desired; drain timeout %s passed with %s", t, connections(d, persistent)))
			return
		}
		held = connections(d, persistent)
	}
	atZero := d.Weight == 0
	if !atZero {
		pl.add(KindDrainDestination, -1, h, i, fmt.Sprintf("not desired; weight %d -> 0 until its %s end", d.Weight, held))
		d.Weight = 0
	}
	pl.plan.draining = append(pl.plan.draining, Draining{Service: svc, Destination: d, Since: since, atZero: atZero})
}

// The reasons of creations and removals of services are constants, so
// that planning a large table costs no string each.
const (
	reasonNew        = "not in the table"
	reasonNotDesired = "not desired"
)
