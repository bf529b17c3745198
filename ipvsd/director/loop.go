package director

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvsd/check"
	"github.com/ipvs-go/ipvs/reconcile"
)

// The loop: a refresh recomputes the desired table whenever a check or
// the configuration changes; a sync reads the table once, plans, and
// writes the plan in one batch. Syncs run every sync interval to repair
// what others changed, and sooner when the desired table changed, but a
// sync that writes comes at least one interval after the last one that
// did: however many checks flap, the table is written at most once per
// interval.

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
	err           string
	failed        []string
	syncs, writes uint64
}

// heartbeat is the longest the loop sleeps, so that its liveness shows.
const heartbeat = time.Second

// Run runs the loop until ctx ends; then it takes the virtual servers
// with omega out of the table and returns. It first reads the table once
// to learn the weights of real servers whose checks have not spoken yet,
// and retries that read, without writing, until it succeeds.
func (d *Director) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		now := d.now()
		d.loopTick.Store(now.UnixNano())
		if next := d.nextSync(now); !next.After(now) {
			d.syncOnce(ctx)
			continue
		} else {
			timer.Reset(min(next.Sub(now), heartbeat))
		}
		select {
		case <-ctx.Done():
			d.shutdown()
			return nil
		case <-timer.C:
		case <-d.checks.Changes():
			d.refresh()
		case <-d.dirty:
			d.refresh()
		}
	}
}

// nextSync returns when the next sync is due.
func (d *Director) nextSync(now time.Time) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cfg == nil {
		return now.Add(heartbeat)
	}
	interval := d.cfg.Director.SyncEvery()
	// Before the first sync, lastSync.at is zero: at once.
	next := d.lastSync.at.Add(interval)
	if d.pending && d.seeded {
		w := d.lastSync.lastWrite.Add(interval)
		if w.Before(now) {
			w = now
		}
		if w.Before(next) {
			next = w
		}
	}
	return next
}

// refresh recomputes the desired table.
func (d *Director) refresh() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.refreshLocked()
}

// refreshLocked recomputes every virtual server's desired state from the
// checks' statuses, runs the hooks of what changed, and records quorum
// states; d.mu is held.
func (d *Director) refreshLocked() {
	if d.cfg == nil {
		return
	}
	statuses := map[check.Key]check.Status{}
	for _, st := range d.checks.Statuses() {
		statuses[st.Key] = st
	}
	table := make([]ipvs.VirtualServer, 0, len(d.vss))
	for _, rt := range d.vss {
		bs := rt.cfg.Backends()
		hs := make([]health, len(bs))
		for i := range bs {
			hs[i] = combine(rt.keys[i], statuses)
		}
		prior := d.prior[rt.id]
		res := desire(rt.cfg, hs, rt.admins, rt.quorumUp, prior)
		d.notify(rt, hs, res)
		rt.healths, rt.refreshed, rt.quorumUp, rt.last = hs, true, res.quorumUp, res
		if d.seeded {
			next := make(map[netip.AddrPort]known, len(bs))
			for i, b := range bs {
				next[addrPort(b.Destination)] = known{present: res.backends[i].wanted, weight: res.backends[i].weight}
			}
			d.prior[rt.id] = next
		}
		table = append(table, res.vs)
	}
	d.desired = table
	d.pending = !sameTables(table, d.applied)
}

// notify runs the hooks of the changes from rt's last refresh to hs and
// res, and logs them; d.mu is held.
func (d *Director) notify(rt *vsRuntime, hs []health, res desired) {
	timeout := d.cfg.Director.HookDeadline()
	for i, b := range rt.cfg.Backends() {
		was := check.Unknown
		if rt.refreshed {
			was = rt.healths[i].state
		}
		now := hs[i].state
		if now == was || now == check.Unknown || was == check.Unknown && now == check.Up {
			continue
		}
		rs := addrPort(b.Destination).String()
		event, cmd := "notify_up", b.NotifyUp
		if now == check.Down {
			event, cmd = "notify_down", b.NotifyDown
			d.log.Warn("real server down", "virtual_server", rt.name, "real_server", rs, "why", hs[i].why)
		} else {
			d.log.Info("real server up", "virtual_server", rt.name, "real_server", rs)
		}
		if cmd != nil {
			d.hooks.Run(Hook{Event: event, Command: *cmd, Timeout: timeout, Env: []string{
				"IPVSD_EVENT=" + event, "IPVSD_VIRTUAL_SERVER=" + rt.name, "IPVSD_SERVICE=" + rt.id, "IPVSD_REAL_SERVER=" + rs}})
		}
	}
	if res.quorumUp == rt.quorumUp {
		return
	}
	event, cmd := "quorum_up", rt.cfg.QuorumUp
	if !res.quorumUp {
		event, cmd = "quorum_down", rt.cfg.QuorumDown
		d.log.Warn("quorum lost", "virtual_server", rt.name, "live_weight", res.live, "quorum", rt.cfg.QuorumWeight())
	} else {
		d.log.Info("quorum gained", "virtual_server", rt.name, "live_weight", res.live, "quorum", rt.cfg.QuorumWeight())
	}
	if cmd != nil {
		d.hooks.Run(Hook{Event: event, Command: *cmd, Timeout: timeout, Env: []string{
			"IPVSD_EVENT=" + event, "IPVSD_VIRTUAL_SERVER=" + rt.name, "IPVSD_SERVICE=" + rt.id,
			"IPVSD_LIVE_WEIGHT=" + strconv.FormatUint(res.live, 10), "IPVSD_QUORUM=" + strconv.FormatUint(uint64(rt.cfg.QuorumWeight()), 10)}})
	}
}

// seedLocked learns from the table, read at start-up, how the real
// servers whose checks have not spoken yet stand: at their weight, or,
// of a service the table has, out of it; d.mu is held.
func (d *Director) seedLocked(table []ipvs.VirtualServer) {
	d.prior = priorFrom(table, d.vss)
	d.seeded = true
}

// priorFrom returns what the table says of the real servers of vss.
func priorFrom(table []ipvs.VirtualServer, vss []*vsRuntime) map[string]map[netip.AddrPort]known {
	out := make(map[string]map[netip.AddrPort]known, len(table))
	for _, vs := range table {
		m := make(map[netip.AddrPort]known, len(vs.Destinations))
		for _, dst := range vs.Destinations {
			m[addrPort(dst)] = known{present: true, weight: dst.Weight}
		}
		out[vs.Service.String()] = m
	}
	for _, rt := range vss {
		m := out[rt.id]
		if m == nil {
			continue
		}
		for _, b := range rt.cfg.Backends() {
			if _, ok := m[addrPort(b.Destination)]; !ok {
				m[addrPort(b.Destination)] = known{}
			}
		}
	}
	return out
}

// syncOnce runs one sync: the first one seeds the weights from the table
// first.
func (d *Director) syncOnce(ctx context.Context) {
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
			d.finishSync(SyncReport{Start: start, Duration: d.now().Sub(start), Err: fmt.Errorf("reading the table: %w", err)}, nil, false)
			return
		}
		d.mu.Lock()
		d.seedLocked(table)
		d.mu.Unlock()
	}
	d.mu.Lock()
	d.refreshLocked()
	desired, rec := d.desired, d.rec
	converged := d.applied != nil && !d.pending
	d.mu.Unlock()
	if err := d.own(desired); err != nil {
		d.finishSync(SyncReport{Start: start, Duration: d.now().Sub(start), Err: err}, nil, false)
		return
	}
	plan, err := rec.Sync(ctx, desired)
	r := SyncReport{Start: start, Duration: d.now().Sub(start)}
	if plan != nil {
		r.Changes = plan.Changes()
		r.Drift = converged && len(r.Changes) > 0
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
	d.finishSync(r, desired, err == nil)
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
// plan applied whole, so that the table is as desired.
func (d *Director) finishSync(r SyncReport, desired []ipvs.VirtualServer, whole bool) {
	d.mu.Lock()
	ls := &d.lastSync
	ls.at, ls.duration = r.Start, r.Duration
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

// shutdown takes the virtual servers with omega out of the table, after
// running their down hooks; the others stay as they are, so that a
// restart drops no connection.
func (d *Director) shutdown() {
	d.mu.Lock()
	if d.cfg == nil {
		d.mu.Unlock()
		return
	}
	var gone []*vsRuntime
	for _, rt := range d.vss {
		if rt.cfg.Omega {
			gone = append(gone, rt)
		}
	}
	timeout := d.cfg.Director.HookDeadline()
	d.mu.Unlock()
	if len(gone) == 0 {
		return
	}
	for _, rt := range gone {
		for i, b := range rt.cfg.Backends() {
			if b.NotifyDown != nil && rt.last.backends[i].live {
				d.hooks.Run(Hook{Event: "notify_down", Command: *b.NotifyDown, Timeout: timeout, Env: []string{
					"IPVSD_EVENT=notify_down", "IPVSD_VIRTUAL_SERVER=" + rt.name, "IPVSD_SERVICE=" + rt.id, "IPVSD_REAL_SERVER=" + addrPort(b.Destination).String()}})
			}
		}
		if rt.cfg.QuorumDown != nil && rt.quorumUp {
			d.hooks.Run(Hook{Event: "quorum_down", Command: *rt.cfg.QuorumDown, Timeout: timeout, Env: []string{
				"IPVSD_EVENT=quorum_down", "IPVSD_VIRTUAL_SERVER=" + rt.name, "IPVSD_SERVICE=" + rt.id}})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d.syncMu.Lock()
	defer d.syncMu.Unlock()
	// Only the omega services are owned by this last plan, which desires
	// none: they are removed, and nothing else is written.
	omega := map[string]bool{}
	for _, rt := range gone {
		omega[rt.id] = true
	}
	plan, err := reconcile.NewPlan(ctx, d.client, nil, reconcile.Options{Owns: func(s ipvs.Service) bool { return omega[s.String()] }})
	if err == nil {
		_, err = plan.Apply(ctx, d.client)
	}
	if err != nil {
		d.log.Error("removing the omega virtual servers", "err", err)
		return
	}
	for _, rt := range gone {
		d.log.Info("removed at shutdown (omega)", "virtual_server", rt.name)
	}
	st := d.store.snapshot()
	ids := slices.DeleteFunc(slices.Clone(st.Owned), func(id string) bool { return omega[id] })
	if err := d.store.update(func(s *storeData) { s.Owned = ids }); err != nil {
		d.log.Error("recording the services owned", "err", err)
	}
}
