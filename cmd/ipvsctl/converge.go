package main

import (
	"fmt"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/reconcile"
)

// groupObjects bounds the services and destinations of one group of a
// plan (one service with more makes a group of its own). A table is
// planned and applied a group at a time, so that only the desired
// table's compact form is held whole: each group's ipvs values, plan and
// batch are garbage once the group is sent, and planSets groups are
// held at a time (see send), so a group is kept small. Services are independent
// in the kernel, so the groups' order changes nothing but the order of
// the writes.
const groupObjects = 1024

// planSets is how many groups' buffers groups keeps, used in turn.
const planSets = 3

// plans computes the plan from current to t a group of services at a
// time (see groups), and hands each group's plan to fn before computing
// the next. A plan stays valid as long as its group's buffers do.
func (t *desiredTable) plans(current *kernelTable, opts reconcile.Options, fn func(*reconcile.Plan) error) error {
	return t.groups(current, func(want, have []ipvs.VirtualServer) error {
		p, err := reconcile.Compute(have, want, opts)
		if err != nil {
			return err
		}
		return fn(p)
	})
}

// groups cuts the tables t and current into groups of services, in the
// order of t, then the services of current that t does not desire, and
// hands each group's desired and current services to fn before making
// the next. The groups' services refer to buffers that the group
// planSets after reuses: they stay valid until fn has returned for the
// planSets-1 groups after theirs, so that fn may hand them, or a plan
// that refers to them, to another goroutine that is done with them by
// then.
func (t *desiredTable) groups(current *kernelTable, fn func(want, have []ipvs.VirtualServer) error) error {
	if current == nil {
		current = &kernelTable{}
	}
	t.clip()
	// Where each service of current is; a dump that lists a service
	// twice (the table changed meanwhile) puts both in its group.
	first := make(map[ipvs.ServiceKey]int32, len(current.services))
	next := make([]int32, len(current.services))
	for i := len(current.services) - 1; i >= 0; i-- {
		k := current.services[i].Key()
		j, ok := first[k]
		if !ok {
			j = -1
		}
		next[i], first[k] = j, int32(i)
	}
	// The buffers of a group: its desired and current services, and the
	// destinations of each. Groups use the sets in turn.
	type buffers struct {
		want, have      []ipvs.VirtualServer
		arena, curArena []ipvs.Destination
	}
	var sets [planSets]buffers
	set := 0
	g := &sets[0]
	want, have := g.want, g.have
	var room, curRoom []ipvs.Destination
	objects := 0
	flush := func() error {
		if len(want) == 0 && len(have) == 0 {
			return nil
		}
		g.want, g.have = want, have
		if err := fn(want, have); err != nil {
			return err
		}
		set = (set + 1) % planSets
		g = &sets[set]
		clear(g.want)
		clear(g.have)
		want, have, objects = g.want[:0], g.have[:0], 0
		room, curRoom = g.arena, g.curArena
		return nil
	}
	takeCurrent := func(k ipvs.ServiceKey) {
		j, ok := first[k]
		if !ok {
			return
		}
		delete(first, k)
		for ; j >= 0; j = next[j] {
			n := len(current.dests[j])
			if len(curRoom) < n {
				// Room for the group, or more for one service: a group
				// holds at most groupObjects, but one service above
				// them and its twins of a dump.
				g.curArena = make([]ipvs.Destination, max(2*groupObjects, 2*n))
				curRoom = g.curArena
			}
			var v ipvs.VirtualServer
			v, curRoom = current.virtualServer(int(j), curRoom)
			have = append(have, v)
			objects += 1 + n
		}
	}
	for i := range t.entries {
		e := &t.entries[i]
		if !t.desired(e) {
			continue
		}
		n := e.count()
		if objects > 0 && objects+n > groupObjects {
			if err := flush(); err != nil {
				return err
			}
		}
		if len(room) < n-1 {
			g.arena = make([]ipvs.Destination, max(groupObjects, n-1))
			room = g.arena
		}
		var v ipvs.VirtualServer
		v, room = e.virtualServer(room)
		want = append(want, v)
		objects += n
		takeCurrent(e.svc.Key())
	}
	// The services the input does not desire: removed if owned, else
	// left alone.
	for i, s := range current.services {
		k := s.Key()
		if _, ok := first[k]; !ok {
			continue
		}
		if objects > 0 && objects+1+len(current.dests[i]) > groupObjects {
			if err := flush(); err != nil {
				return err
			}
		}
		takeCurrent(k)
	}
	return flush()
}

// converge makes the kernel's table t: the services in groups (see
// plans), then the timeouts and daemons a plan does not cover, and the
// zeroing of counters the input asked for. With dryRun it prints what it
// would do instead.
func (e *env) converge(t *desiredTable, current *kernelTable, running []ipvs.Daemon, opts reconcile.Options, dryRun bool) int {
	var extra []string
	var writes []func() error
	if t.timeouts != nil {
		cur, err := e.client.Timeouts(e.ctx)
		if err != nil {
			return e.readFailed(err)
		}
		want := cur
		setNonZero(&want.TCP, t.timeouts.TCP)
		setNonZero(&want.TCPFin, t.timeouts.TCPFin)
		setNonZero(&want.UDP, t.timeouts.UDP)
		if want != cur {
			extra = append(extra, fmt.Sprintf("set timeouts: tcp %d tcpfin %d udp %d", secs(want.TCP), secs(want.TCPFin), secs(want.UDP)))
			writes = append(writes, func() error { return e.client.SetTimeouts(e.ctx, want) })
		}
	}
	for _, d := range running {
		if w := t.daemons[d.State]; w == nil || !sameDaemon(*w, d) {
			extra = append(extra, "stop daemon "+d.String())
			writes = append(writes, func() error { return e.client.StopDaemon(e.ctx, d.State) })
		}
	}
	for _, state := range []ipvs.DaemonState{ipvs.DaemonMaster, ipvs.DaemonBackup} {
		w := t.daemons[state]
		if w == nil || runningSame(running, *w) {
			continue
		}
		extra = append(extra, "start daemon "+w.String())
		writes = append(writes, func() error { return e.client.StartDaemon(e.ctx, *w) })
	}
	for _, z := range t.zero {
		extra = append(extra, "zero counters")
		writes = append(writes, func() error {
			if z.HasService {
				return e.client.ZeroServiceStats(e.ctx, z.Service)
			}
			return e.client.ZeroStats(e.ctx)
		})
	}
	code := 0
	var err error
	if dryRun {
		err = t.plans(current, opts, func(p *reconcile.Plan) error {
			e.out.WriteString(p.String())
			return nil
		})
	} else {
		code, err = e.send(t, current, opts)
	}
	if err != nil {
		if c := e.interrupted(); c != 0 {
			return c
		}
		fmt.Fprintln(e.errw, err)
		return 2
	}
	if dryRun {
		for _, s := range extra {
			fmt.Fprintln(e.out, s)
		}
		return 0
	}
	for i, w := range writes {
		if err := w(); err != nil {
			fmt.Fprintf(e.errw, "%s: %v\n", extra[i], err)
			code = 255
		}
	}
	return code
}

func secs(d time.Duration) int { return int(d / time.Second) }

// sameDaemon compares a desired daemon with a running one; the running
// one's zero fields were filled in by the kernel, so only the desired
// one's set fields count.
func sameDaemon(want, got ipvs.Daemon) bool {
	return want.State == got.State && want.Interface == got.Interface && want.SyncID == got.SyncID &&
		(want.MaxLength == 0 || want.MaxLength == got.MaxLength) &&
		(!want.Group.IsValid() || want.Group == got.Group) &&
		(want.Port == 0 || want.Port == got.Port) && (want.TTL == 0 || want.TTL == got.TTL)
}

func runningSame(running []ipvs.Daemon, want ipvs.Daemon) bool {
	for _, d := range running {
		if sameDaemon(want, d) {
			return true
		}
	}
	return false
}
