package reconcile

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ipvs-go/ipvs"
)

// DrainPolicy says what becomes of a destination that is no longer
// desired in a service that stays.
type DrainPolicy uint8

// Possible DrainPolicy values.
const (
	// DrainPolicyByProtocol is kube-proxy's default: destinations of TCP
	// services (and of firewall-mark services, whose protocol the kernel
	// does not report) drain; those of UDP and SCTP services are removed
	// at once, since their flows never go idle by themselves.
	DrainPolicyByProtocol DrainPolicy = iota
	// DrainPolicyGracefully sets the destination's weight to 0, so it gets
	// no new connections, and removes it once its connections have ended
	// or Options.DrainTimeout has passed.
	DrainPolicyGracefully
	// DrainPolicyRemoveAtOnce removes the destination in the same plan.
	DrainPolicyRemoveAtOnce
)

// String returns "by protocol", "drain" or "remove".
func (p DrainPolicy) String() string {
	switch p {
	case DrainPolicyByProtocol:
		return "by protocol"
	case DrainPolicyGracefully:
		return "drain"
	case DrainPolicyRemoveAtOnce:
		return "remove"
	}
	return fmt.Sprintf("policy(%d)", uint8(p))
}

// resolve turns DrainPolicyByProtocol into the policy it means for svc.
func (p DrainPolicy) resolve(svc ipvs.Service) DrainPolicy {
	if p != DrainPolicyByProtocol {
		return p
	}
	switch svc.Protocol {
	case ipvs.ProtocolUDP, ipvs.ProtocolSCTP:
		return DrainPolicyRemoveAtOnce
	}
	return DrainPolicyGracefully
}

// Options configure a plan.
type Options struct {
	// Owns says which services of the table are this caller's; nil owns
	// all. A service it does not own is never updated or removed, nor
	// are its destinations, and a desired service must be owned.
	Owns func(ipvs.Service) bool
	// Drain chooses the policy for the destinations of a service (as the
	// kernel holds it) that are no longer desired; nil, or
	// DrainPolicyByProtocol, means kube-proxy's default.
	Drain func(ipvs.Service) DrainPolicy
	// DrainTimeout, if positive, removes a draining destination this long
	// after it was first seen draining, even with connections left. Only
	// a Reconciler knows when that was: it remembers each drain from one
	// Sync (or Plan) to the next. Compute and NewPlan, which remember
	// nothing, leave it to connections to end drains.
	DrainTimeout time.Duration
	// CountPersistent counts the persistent connections (templates) of a
	// draining destination of a persistent service as connections that
	// keep it: its clients' affinity then ends before it goes.
	CountPersistent bool
	// Sysctls are the namespace's IPVS settings, from which the plan
	// advises on drains and removals (see Plan.Advisories). If nil,
	// NewPlan and the Reconciler read them when a plan drains or removes
	// a destination, and Compute advises nothing.
	Sysctls *ipvs.Sysctls
	// FlushConntrack deletes, after Apply removes a masquerading
	// destination of a UDP or SCTP service (alone or with its service),
	// the conntrack entries of its flows, with ipvs.Client.FlushConntrack,
	// in one flush for all (see Plan.ConntrackFlushes). It cleans the
	// conntrack table; it does not move flows, which expire_nodest_conn
	// does (the package ipvs README has the facts).
	FlushConntrack bool
}

// Kind is the kind of a Change.
type Kind uint8

// Possible Kind values, in the order a plan applies them.
const (
	KindCreateService Kind = iota + 1
	KindUpdateService
	KindCreateDestination
	KindUpdateDestination
	// KindDrainDestination sets the weight of a destination that is no
	// longer desired to 0; it stays until its connections end.
	KindDrainDestination
	KindRemoveDestination
	KindRemoveService
)

var kindNames = [...]string{
	KindCreateService:     "create service",
	KindUpdateService:     "update service",
	KindCreateDestination: "create destination",
	KindUpdateDestination: "update destination",
	KindDrainDestination:  "drain destination",
	KindRemoveDestination: "remove destination",
	KindRemoveService:     "remove service",
}

// String returns the kind's name, such as "create service".
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// isDestination reports whether changes of kind k are destination writes.
func (k Kind) isDestination() bool { return k >= KindCreateDestination && k <= KindRemoveDestination }

// Change is one write of a Plan.
type Change struct {
	Kind Kind
	// Service is the service written (as desired for a create or an
	// update, as the kernel holds it for a removal) or the one the
	// destination belongs to.
	Service ipvs.Service
	// Destination is the destination written, for destination kinds: as
	// desired for a create or an update, as the kernel holds it (with its
	// connection counts) for a removal, and so with weight 0 for a drain.
	Destination ipvs.Destination
	// Reason says why, such as "not in the table", "weight 1 -> 2" or
	// "not desired; no connections left".
	Reason string
}

// String returns the change on one line, as
// "update destination 10.0.0.2:80 of tcp 10.0.0.1:80: weight 1 -> 2", with
// the settings of a creation in parentheses.
func (c Change) String() string {
	var b strings.Builder
	b.WriteString(c.Kind.String())
	b.WriteByte(' ')
	if c.Kind.isDestination() {
		b.WriteString(c.Destination.String())
		b.WriteString(" of ")
	}
	b.WriteString(c.Service.String())
	if c.Reason != "" {
		b.WriteString(": ")
		b.WriteString(c.Reason)
	}
	// What a creation sets is worth seeing in a dry run; it is
	// written out here rather than kept in every Reason.
	switch c.Kind {
	case KindCreateService:
		s := c.Service
		fmt.Fprintf(&b, " (scheduler %s", s.Scheduler)
		if s.PersistenceEngine != "" {
			fmt.Fprintf(&b, ", persistence engine %s", s.PersistenceEngine)
		}
		if s.Flags != 0 {
			fmt.Fprintf(&b, ", flags %s", s.Flags)
		}
		if s.Flags&ipvs.FlagPersistent != 0 {
			fmt.Fprintf(&b, ", timeout %s, netmask %s", s.Timeout, s.Netmask)
		}
		b.WriteByte(')')
	case KindCreateDestination:
		fmt.Fprintf(&b, " (%s, weight %d)", c.Destination.Forward, c.Destination.Weight)
	}
	return b.String()
}

// Draining is a destination that is no longer desired and stays, at
// weight 0, because it still has connections.
type Draining struct {
	Service     ipvs.Service
	Destination ipvs.Destination // as the kernel holds it, with its counts
	// Since is when it was first seen at weight 0 and not desired, if
	// known.
	Since time.Time
	// atZero: the kernel already had it at weight 0 when the plan read it.
	atZero bool
}

// Plan is the list of writes that turns a table into the desired one.
//
// A plan borrows the tables it was computed from until its Changes are
// made. Compute keeps current and desired, and NewPlan and a Reconciler
// keep desired, as they are: the plan holds, for each write, where its
// service and destination are in them and why, and makes a write's
// Change from its rows when it needs one, so that a plan costs a few
// bytes a write whatever the size of the rows.
//
// The first call of Changes (or of String, which calls it) copies the
// rows the plan writes into its Changes and lets go of the tables: from
// then on the plan, Apply included, sends those Changes, and the caller
// may change or reuse its tables. Until then a row changed in place is
// written as it is when Apply sends it (while the change's Kind and
// Reason stay as computed), and a table or a Destinations slice grown,
// shrunk or reordered leaves the plan pointing at other rows, or out of
// range: a caller that reuses its tables while it keeps a plan calls
// Changes first.
type Plan struct {
	owns       func(ipvs.Service) bool // Options.Owns
	entries    []entry
	draining   []Draining
	advisories []Advisory
	flushes    []ConntrackFlush // Options.FlushConntrack
	flushed    int              // entries Apply's flushes deleted

	mu sync.Mutex // guards what follows: Changes replaces the tables by changes
	// The borrowed tables, until changes are made; then nil.
	current, desired []ipvs.VirtualServer
	changes          []Change
	detached         bool // changes are made
}

// Changes returns the plan's writes, in the order Apply sends them:
// services created, services updated, destinations created, updated,
// drained and removed, services removed. The first call makes the slice
// from the tables the plan was computed from, which the plan then no
// longer refers to (see Plan); Len and Empty need none.
func (p *Plan) Changes() []Change {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.detached {
		v := view{p: p, current: p.current, desired: p.desired}
		p.changes = make([]Change, len(p.entries))
		for i := range p.entries {
			p.changes[i] = v.change(i)
		}
		p.current, p.desired, p.detached = nil, nil, true
	}
	return p.changes
}

// Len returns the number of writes of the plan.
func (p *Plan) Len() int { return len(p.entries) }

// Empty reports whether the plan has no writes: the owned part of the
// table is as desired, but for destinations still draining.
func (p *Plan) Empty() bool { return len(p.entries) == 0 }

// view is what the changes of a plan are made from at one time: its
// Changes once made, else the tables it borrows.
type view struct {
	p                *Plan
	changes          []Change // nil until Changes is called
	current, desired []ipvs.VirtualServer
	last             serviceOf // the service of the last change made
}

// view returns the plan's view now.
func (p *Plan) view() *view {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.detached {
		return &view{p: p, changes: p.changes}
	}
	return &view{p: p, current: p.current, desired: p.desired}
}

// change makes the Change of entry i.
func (p *Plan) change(i int) Change { return p.view().change(i) }

// serviceOf is the canonical service of a change, and its key, kept
// from one change to the next: a plan's changes of one service come
// together.
type serviceOf struct {
	desired bool // of the desired table, else of the current one
	index   int32
	svc     ipvs.Service
	key     ipvs.ServiceKey
	set     bool
}

// change makes the Change of entry i, reusing the service of the last
// change made if it is this one's too.
func (v *view) change(i int) Change {
	if v.changes != nil {
		return v.changes[i]
	}
	e := &v.p.entries[i]
	c := Change{Kind: e.kind, Reason: e.reason}
	desired, index := true, e.want
	if e.kind != KindCreateService && e.kind != KindUpdateService && e.have >= 0 {
		desired, index = false, e.have
	}
	svc := &v.last
	if !svc.set || svc.desired != desired || svc.index != index {
		table := v.current
		if desired {
			table = v.desired
		}
		*svc = serviceOf{desired: desired, index: index, svc: canonService(table[index].Service), set: true}
		svc.key = svc.svc.Key()
	}
	c.Service = svc.svc
	switch e.kind {
	case KindCreateDestination, KindUpdateDestination:
		c.Destination = canonDest(svc.key, v.desired[e.want].Destinations[e.dest])
	case KindDrainDestination, KindRemoveDestination:
		c.Destination = canonDest(svc.key, v.current[e.have].Destinations[e.dest])
		if e.kind == KindDrainDestination {
			c.Destination.Weight = 0
		}
	}
	return c
}

// Draining returns the destinations that stay at weight 0 after the plan,
// waiting for their connections to end.
func (p *Plan) Draining() []Draining { return p.draining }

// Advisories returns the kernel settings that work against what the plan
// does to the destinations it drains or removes: expire_nodest_conn 0
// while destinations with connections (or of UDP and SCTP services) are
// removed, conn_reuse_mode 0 while any is drained or removed, and
// expire_quiescent_template 0 while a persistent service's destination
// drains. See the kernel's Documentation/networking/ipvs-sysctl.rst.
func (p *Plan) Advisories() []Advisory { return p.advisories }

// String returns the plan one change a line, then one line per
// destination still draining, per advisory and per conntrack flush; ""
// for nothing at all.
func (p *Plan) String() string {
	var b strings.Builder
	for _, c := range p.Changes() {
		b.WriteString(c.String())
		b.WriteByte('\n')
	}
	for _, d := range p.draining {
		fmt.Fprintf(&b, "# draining %s of %s: %s\n", d.Destination, d.Service, connections(d.Destination, true))
	}
	for _, a := range p.advisories {
		fmt.Fprintf(&b, "# advisory: %s\n", a)
	}
	p.writeFlushes(&b)
	return b.String()
}

// connections describes a destination's connection counts.
func connections(d ipvs.Destination, persistent bool) string {
	s := fmt.Sprintf("%d active, %d inactive", d.ActiveConnections, d.InactiveConnections)
	if persistent {
		s += fmt.Sprintf(", %d persistent", d.PersistentConnections)
	}
	return s + " connections"
}
