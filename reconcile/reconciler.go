package reconcile

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"github.com/ipvs-go/ipvs"
)

// Reconciler converges a client's table to desired tables, one Sync at a
// time, and remembers since when each destination has been draining, for
// Options.DrainTimeout.
//
// That memory is only ever used to end a drain early: a restarted
// Reconciler, which has none, starts each drain's clock anew at its first
// Sync, so a drain may last longer than DrainTimeout across a restart but
// never ends before its connections do or its timeout has passed. A
// destination is never left at weight 0 by a restart either: a desired one
// gets its desired weight back from the table it reads, and one that is not
// desired keeps draining.
//
// A Reconciler is safe for concurrent use; Syncs run one at a time, while
// other users of the same Client go on as they would.
type Reconciler struct {
	client *ipvs.Client
	opts   Options
	clock  func() time.Time

	mu    sync.Mutex
	since map[drainID]time.Time
}

// drainID identifies a destination of a service.
type drainID struct {
	svc ipvs.ServiceKey
	dst netip.AddrPort
}

// NewReconciler returns a Reconciler of the table of c.
func NewReconciler(c *ipvs.Client, opts Options) *Reconciler {
	return &Reconciler{client: c, opts: opts, clock: time.Now, since: map[drainID]time.Time{}}
}

// Plan reads the table once and returns the plan to desired, without
// applying it. The plans of Plan, Sync and SyncFrom borrow the tables
// they are given until their Changes are made (see the type Plan).
func (r *Reconciler) Plan(ctx context.Context, desired []ipvs.VirtualServer) (*Plan, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.plan(ctx, desired)
}

// Sync reads the table once, plans the changes to desired and applies them
// in one batch. It returns the plan; the error is the read's, the plan's,
// or that of Plan.Apply, an *ApplyError with a *ChangeError for each write
// that was not applied.
func (r *Reconciler) Sync(ctx context.Context, desired []ipvs.VirtualServer) (*Plan, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, err := r.plan(ctx, desired)
	if err != nil {
		return nil, err
	}
	_, err = p.Apply(ctx, r.client)
	return p, err
}

// SyncFrom plans the changes from current, a table the caller knows the
// kernel to hold (such as the desired table of its last Sync that
// applied whole), to desired, without reading the table, and applies
// them in one batch; it returns as Sync does. A caller that must change
// a large table at once saves the read.
//
// Without a read, connection counts are unknown: a destination no longer
// desired drains (weight 0) whatever its count, unless its policy
// removes it at once; the next Sync, which reads them, starts its drain
// clock and removes it once they end. A current that is not what the
// kernel holds (someone else changed the table) makes writes the kernel
// refuses, or leaves a table not as desired: a Sync repairs either.
func (r *Reconciler) SyncFrom(ctx context.Context, current, desired []ipvs.VirtualServer) (*Plan, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, err := compute(current, desired, r.opts, drainClock{now: r.clock(), unread: true})
	if err != nil {
		return nil, err
	}
	_, err = p.Apply(ctx, r.client)
	return p, err
}

// plan reads the table and plans from it. r.mu is held.
func (r *Reconciler) plan(ctx context.Context, desired []ipvs.VirtualServer) (*Plan, error) {
	current, err := r.client.VirtualServers(ctx)
	if err != nil {
		return nil, err
	}
	p, err := r.planTable(current, desired)
	if err != nil {
		return nil, err
	}
	p.adviseFrom(ctx, r.client, &r.opts)
	return p, nil
}

// planTable plans from the table current with the drain times, and
// records the new ones. r.mu is held.
func (r *Reconciler) planTable(current, desired []ipvs.VirtualServer) (*Plan, error) {
	now := r.clock()
	p, err := compute(current, desired, r.opts, drainClock{now: now, started: func(svc ipvs.ServiceKey, dst netip.AddrPort) time.Time {
		return r.since[drainID{svc, dst}]
	}})
	if err != nil {
		return nil, err
	}
	// Only a destination read at weight 0 starts its clock: one this plan
	// drains may yet fail to be, so its clock starts at the next read.
	since := make(map[drainID]time.Time, len(p.draining))
	for i := range p.draining {
		d := &p.draining[i]
		if !d.atZero {
			continue
		}
		k := d.Service.Key()
		id := drainID{k, d.Destination.Key(k)}
		t, ok := r.since[id]
		if !ok {
			t = now
		}
		since[id], d.Since = t, t
	}
	r.since = since
	return p, nil
}
