package director

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/reconcile"
)

// Observer hears of the director's syncs, for metrics. Synced is called
// after each sync, from the loop.
type Observer interface {
	Synced(r SyncReport)
}

// SyncReport is what one sync did.
type SyncReport struct {
	Start    time.Time
	Duration time.Duration
	// Err is why the sync could not read or plan, if it could not.
	Err error
	// Changes are the plan's writes, those refused included.
	Changes []reconcile.Change
	// Failed are the writes the kernel refused (or that were not sent).
	Failed []*reconcile.ChangeError
	// Drift: the table had been as desired, and someone changed it.
	Drift bool
}

type nopObserver struct{}

func (nopObserver) Synced(SyncReport) {}

// syncRecord is what the director keeps of its last syncs, for its
// status.
type syncRecord struct {
	at, lastWrite time.Time
	duration      time.Duration
	// read and readFor are the start and length of the last sync that
	// read the table, from which the next is due.
	read          time.Time
	readFor       time.Duration
	err           string
	failed        []string
	syncs, writes uint64
	changes       uint64 // writes the kernel applied
}

// syncOnce runs one sync, the desired table refreshed first.
func (d *Director) syncOnce(ctx context.Context) { d.sync(ctx, true) }

// sync runs one sync; refresh says a change came since the last refresh
// of the desired table. The first one seeds the weights from the table
// first. A sync between the periodic ones, which a change brings, plans
// from the table as the last sync left it, if that one applied whole,
// rather than read the whole table between a failed check and its write.
// Someone else's change to the table makes such a write fail, and a
// read follows at once, or waits for the periodic sync, which reads and
// repairs it.
func (d *Director) sync(ctx context.Context, refresh bool) {
	d.syncMu.Lock()
	defer d.syncMu.Unlock()
	start := d.now()
	d.syncing.Store(start.UnixNano())
	defer d.syncing.Store(0)
	d.mu.Lock()
	seeded, interval := d.seeded, d.cfg.Director.SyncEvery()
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, max(30*time.Second, 3*interval))
	defer cancel()
	if !seeded {
		table, err := d.client.VirtualServers(ctx)
		if err != nil {
			d.finishSync(SyncReport{Start: start, Duration: d.now().Sub(start), Err: fmt.Errorf("reading the table: %w", err)}, nil, false, true)
			return
		}
		d.mu.Lock()
		d.seedLocked(table)
		d.mu.Unlock()
		refresh = true
	}
	d.mu.Lock()
	if refresh {
		d.refreshLocked()
	}
	desired, rec, applied := d.desired, d.rec, d.applied
	converged := applied != nil && !d.pending
	known := d.known && applied != nil && start.Before(d.readDue(interval))
	d.mu.Unlock()
	if err := d.own(desired); err != nil {
		d.finishSync(SyncReport{Start: start, Duration: d.now().Sub(start), Err: err}, nil, false, true)
		return
	}
	if known {
		plan, err := rec.SyncFrom(ctx, applied, desired)
		r := d.report(start, plan, err)
		if err == nil {
			d.finishSync(r, desired, true, false)
			return
		}
		// What the plan wrote is reported; a sync that reads follows
		// at once and plans the rest: a repair, which the rule of one
		// write an interval does not hold back.
		d.finishSync(r, desired, false, false)
		start = d.now()
		converged = false
	}
	plan, err := rec.Sync(ctx, desired)
	r := d.report(start, plan, err)
	r.Drift = converged && slices.ContainsFunc(r.Changes, func(c reconcile.Change) bool { return !drainEnds(c) })
	d.finishSync(r, desired, err == nil, true)
}

// drainEnds reports whether c removes a destination at weight 0, whose
// drain ends: a change of the director's own, not a repair.
func drainEnds(c reconcile.Change) bool {
	return c.Kind == reconcile.KindRemoveDestination && c.Destination.Weight == 0
}

// report is the report of a sync that began at start and planned plan,
// with the error of its Sync or SyncFrom.
func (d *Director) report(start time.Time, plan *reconcile.Plan, err error) SyncReport {
	r := SyncReport{Start: start, Duration: d.now().Sub(start)}
	if plan != nil {
		r.Changes = plan.Changes()
	}
	for _, e := range joined(err) {
		var ce *reconcile.ChangeError
		if errors.As(e, &ce) {
			r.Failed = append(r.Failed, ce)
		} else if r.Err == nil {
			r.Err = e
		}
	}
	if plan == nil && r.Err == nil {
		r.Err = err
	}
	return r
}

// joined splits an errors.Join.
func joined(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// finishSync records a sync, logs it and reports it; whole says the
// plan applied whole, so that the table is as desired, and read that
// the sync read the table, or was to.
func (d *Director) finishSync(r SyncReport, desired []ipvs.VirtualServer, whole, read bool) {
	d.mu.Lock()
	ls := &d.lastSync
	ls.at, ls.duration = r.Start, r.Duration
	if read {
		ls.read, ls.readFor = r.Start, r.Duration
	}
	d.known = whole
	ls.syncs++
	ls.err, ls.failed = "", nil
	if r.Err != nil {
		ls.err = r.Err.Error()
	}
	for _, f := range r.Failed {
		ls.failed = append(ls.failed, f.Error())
	}
	if len(r.Changes) > 0 {
		ls.lastWrite = r.Start
		ls.writes++
		ls.changes += uint64(len(r.Changes) - len(r.Failed))
	}
	if whole {
		d.applied = desired
		d.pending = !sameTables(d.desired, desired)
	}
	d.mu.Unlock()
	if whole {
		ids := make([]string, len(desired))
		for i, vs := range desired {
			ids[i] = vs.Service.String()
		}
		d.disown(ids)
	}
	d.logSync(r)
	d.observer.Synced(r)
}

// logSync logs what a sync did.
func (d *Director) logSync(r SyncReport) {
	if r.Err != nil {
		d.log.Error("sync failed; retrying at the next", "err", r.Err)
		return
	}
	failed := make(map[string]bool, len(r.Failed))
	for _, f := range r.Failed {
		failed[f.Change.String()] = true
		d.log.Error("write refused; retrying at the next sync", "change", f.Change.String(), "err", f.Err)
	}
	msg := "changed the table"
	if r.Drift {
		msg = "repaired a change made behind the director's back"
	}
	for _, c := range r.Changes {
		if !failed[c.String()] {
			if r.Drift {
				d.log.Warn(msg, "change", c.String())
			} else {
				d.log.Info(msg, "change", c.String())
			}
		}
	}
}

// own records, before a sync writes them, the services of desired as
// owned, so that a crash after the write still knows them.
func (d *Director) own(desired []ipvs.VirtualServer) error {
	st := d.store.snapshot()
	var missing []string
	for _, vs := range desired {
		if id := vs.Service.String(); !slices.Contains(st.Owned, id) {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return d.store.update(func(s *storeData) {
		s.Owned = append(s.Owned, missing...)
		slices.Sort(s.Owned)
	})
}

// disown forgets the owned services other than ids, once a sync removed
// them whole.
func (d *Director) disown(ids []string) {
	st := d.store.snapshot()
	slices.Sort(ids)
	if slices.Equal(st.Owned, ids) {
		return
	}
	if err := d.store.update(func(s *storeData) { s.Owned = ids }); err != nil {
		d.log.Error("recording the services owned", "err", err)
		return
	}
	d.mu.Lock()
	d.setOwned(ids)
	d.mu.Unlock()
}

// sameTables reports whether two desired tables are the same.
func sameTables(a, b []ipvs.VirtualServer) bool {
	return slices.EqualFunc(a, b, func(x, y ipvs.VirtualServer) bool {
		return x.Service == y.Service && slices.Equal(x.Destinations, y.Destinations)
	})
}
