package main

import (
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/reconcile"
)

// sending is a group as the sender takes it (see groups): its desired
// and current services, and either its writes encoded in b, when they
// are creations alone, or its plan, whose Apply encodes and sends them.
type sending struct {
	want, have []ipvs.VirtualServer
	b          *ipvs.Batch
	p          *reconcile.Plan
}

var errSendStopped = errors.New("the sender stopped")

// sendGCPercent is the collector's GOGC while a table is sent, and
// through the whole of a restore.
const sendGCPercent = 50

// send applies t's groups (see groups) to the kernel. Sending a batch is
// the kernel's work, done within the write that sends it: a goroutine
// plans and encodes the next groups meanwhile, on the other CPU, so that
// the kernel's work is what a restore's time is mostly made of. A group
// of services the kernel's table does not have, as every group of a
// restore into an empty table is, is only creations: it is encoded there
// as its plan's Apply would, without the plan; any other goes through
// its plan's Apply, which reads again what a creation finds already
// there. It returns the status of the writes (255 if any failed) and why
// the planning ended early, if it did.
func (e *env) send(t *desiredTable, current *kernelTable, opts reconcile.Options) (int, error) {
	// The desired table is held whole while it is sent, and each group
	// is garbage once sent: the collector runs twice as often as by
	// default meanwhile, on the CPU the kernel's work leaves idle, so
	// that the heap grows half as far above the table.
	defer debug.SetGCPercent(debug.SetGCPercent(sendGCPercent))
	// The groups planned ahead of the one sent: as many as groups keeps
	// valid beyond the one sent and the one being planned. One absorbs
	// the planning's unevenness (a collection, a large service).
	groups := make(chan sending, planSets-2)
	stop := make(chan struct{})
	var planErr error
	go func() {
		defer close(groups)
		// Batches in turn, as groups uses its buffers: one being sent,
		// one waiting, and the next being encoded.
		var batches [planSets]ipvs.Batch
		n := 0
		planErr = t.groups(current, func(want, have []ipvs.VirtualServer) error {
			g := sending{want: want, have: have}
			if len(have) == 0 {
				g.b = &batches[n%planSets]
				n++
				encodeCreations(g.b, want)
			} else {
				p, err := reconcile.Compute(have, want, opts)
				if err != nil {
					return err
				}
				if p.Empty() {
					return nil
				}
				g.p = p
			}
			select {
			case groups <- g:
				return nil
			case <-stop:
				return errSendStopped
			}
		})
	}()
	code := 0
	for g := range groups {
		ok, err := e.sendGroup(g, opts)
		if err != nil {
			close(stop)
			for range groups {
			}
			return code, err
		}
		if !ok {
			code = 255
		}
		if e.ctx.Err() != nil {
			close(stop)
			for range groups {
			}
			return code, e.ctx.Err()
		}
	}
	// groups is closed after planErr is written.
	return code, planErr
}

// sendGroup sends one group's writes and reports whether all were
// applied, printing what was not; the error is the planning's.
func (e *env) sendGroup(g sending, opts reconcile.Options) (bool, error) {
	if g.b != nil {
		_, err := e.client.Apply(e.ctx, g.b)
		if err == nil {
			return true, nil
		}
		if e.ctx.Err() != nil {
			fmt.Fprintln(e.errw, err)
			return false, nil
		}
		// The group's plan's Apply sends it again and says what was not
		// applied, change by change: what the batch created meets
		// EEXIST there, and is read back as done.
		if g.p, err = reconcile.Compute(g.have, g.want, opts); err != nil {
			return false, err
		}
	}
	if _, err := g.p.Apply(e.ctx, e.client); err != nil {
		fmt.Fprintln(e.errw, err)
		return false, nil
	}
	return true, nil
}

// encodeCreations encodes into b the creation of the services want and
// their destinations, in the order and the form of their plan's changes
// from a table without them (reconcile.Compute).
func encodeCreations(b *ipvs.Batch, want []ipvs.VirtualServer) {
	b.Reset()
	creations(want, func(svc ipvs.Service, d *ipvs.Destination) {
		if d == nil {
			b.CreateService(svc)
		} else {
			b.CreateDestination(svc, *d)
		}
	})
}

// creations calls fn for each creation of the plan from a table without
// the services want to want: each service (d nil), then each
// destination of each, in canonical form as reconcile's changes are.
func creations(want []ipvs.VirtualServer, fn func(svc ipvs.Service, d *ipvs.Destination)) {
	for i := range want {
		fn(canonService(want[i].Service), nil)
	}
	for i := range want {
		s := canonService(want[i].Service)
		k := s.Key()
		for j := range want[i].Destinations {
			d := want[i].Destinations[j].Canonical(k)
			d.Stats = ipvs.Stats{}
			fn(s, &d)
		}
	}
}

// canonService is a service in canonical form, without its counters.
func canonService(s ipvs.Service) ipvs.Service {
	s = s.Canonical()
	s.Stats = ipvs.Stats{}
	return s
}
