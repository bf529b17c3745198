package director

import (
	"context"
	"net/netip"
	"strconv"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvsd/check"
)

// The loop: a refresh recomputes the desired table whenever a check or
// the configuration changes; a sync reads the table once, plans, and
// writes the plan in one batch. Syncs run every sync interval to repair
// what others changed, and sooner when the desired table changed, but a
// sync that writes comes at least one interval after the last one that
// did: however many checks flap, the table is written at most once per
// interval.

// heartbeat is the longest the loop sleeps, so that its liveness shows.
const heartbeat = time.Second

// refreshGap is the least time between two refreshes of the desired
// table while checks keep changing.
const refreshGap = 20 * time.Millisecond

// Run runs the loop until ctx ends; then it takes the virtual servers
// with omega out of the table and returns. It first reads the table once
// to learn the weights of real servers whose checks have not spoken yet,
// and retries that read, without writing, until it succeeds.
func (d *Director) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	// changed: a check or the configuration changed since the last
	// refresh, which comes at once after a quiet while, else refreshGap
	// after the last, so that a storm of changes costs a bounded share
	// of a core.
	var changed bool
	var lastRefresh time.Time
	for {
		now := d.now()
		d.loopTick.Store(now.UnixNano())
		if changed && now.Sub(lastRefresh) >= refreshGap {
			d.refresh()
			changed, lastRefresh = false, now
		}
		next := d.nextSync(now)
		if !next.After(now) {
			// Syncs due back to back (an overloaded machine, a table
			// slower to read than the interval) must still let the
			// daemon stop and the checks' changes reach the table.
			select {
			case <-ctx.Done():
				d.shutdown()
				return nil
			case <-d.checks.Changes():
				changed = true
			case <-d.dirty:
				changed = true
			default:
			}
			// The sync refreshes the desired table again only if a change
			// came since the refresh above, which walks every real
			// server.
			d.sync(ctx, changed)
			if changed {
				changed, lastRefresh = false, d.now()
			}
			continue
		}
		wait := min(next.Sub(now), heartbeat)
		if changed {
			wait = min(wait, lastRefresh.Add(refreshGap).Sub(now))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			d.shutdown()
			return nil
		case <-timer.C:
		case <-d.checks.Changes():
			changed = true
		case <-d.dirty:
			changed = true
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
	// The periodic sync may write too: it comes an interval after the
	// last write, as any does.
	next := d.readDue(interval)
	if w := d.lastSync.lastWrite.Add(interval); next.Before(w) {
		next = w
	}
	// A change waiting goes at once, unless the last sync failed: that
	// one is tried again an interval later, as its log says.
	if d.pending && d.seeded && d.lastSync.err == "" {
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

// readDue returns when the periodic sync, which reads the table, is due;
// d.mu is held. Before the first sync, lastSync.read is zero: at once.
// It counts from the end of the last that read, so that a read slower
// than the interval does not make the next one due at once.
func (d *Director) readDue(interval time.Duration) time.Time {
	return d.lastSync.read.Add(d.lastSync.readFor + interval)
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
