package main

import (
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/reconcile"
)

// sending is a group's plan as the sender takes it, with its writes
// encoded in b when they are creations alone; b nil: the plan's Apply
// encodes and sends them.
type sending struct {
	p *reconcile.Plan
	b *ipvs.Batch
}

var errSendStopped = errors.New("the sender stopped")

// sendGCPercent is the collector's GOGC while a table is sent.
const sendGCPercent = 50

// send applies the plans of t's groups (see plans) to the kernel. Sending
// a batch is the kernel's work, done within the write that sends it: a
// goroutine plans and encodes the next group meanwhile, on the other CPU,
// so that the kernel's work is what a restore's time is mostly made of.
// A group that only creates, as every group of a restore into an empty
// table does, is encoded there; any other goes through the plan's Apply,
// which reads again what a creation finds already there. It returns the
// status of the writes (255 if any failed) and why the planning ended
// early, if it did.
func (e *env) send(t *desiredTable, current *kernelTable, opts reconcile.Options) (int, error) {
	// The desired table is held whole while it is sent, and each group
	// is garbage once sent: the collector runs twice as often as by
	// default meanwhile, on the CPU the kernel's work leaves idle, so
	// that the heap grows half as far above the table.
	defer debug.SetGCPercent(debug.SetGCPercent(sendGCPercent))
	// The groups planned ahead of the one sent: as many as plans keeps
	// valid beyond the one sent and the one being planned. One absorbs
	// the planning's unevenness (a collection, a large service).
	groups := make(chan sending, planSets-2)
	stop := make(chan struct{})
	var planErr error
	go func() {
		defer close(groups)
		// Batches in turn, as plans uses its buffers: one being sent,
		// one waiting, and the next being encoded.
		var batches [planSets]ipvs.Batch
		n := 0
		planErr = t.plans(current, opts, func(p *reconcile.Plan) error {
			if p.Empty() {
				return nil
			}
			g := sending{p: p}
			if b := &batches[n%planSets]; encodeCreations(b, p) {
				g.b, n = b, n+1
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
		if !e.sendGroup(g) {
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
// applied, printing what was not.
func (e *env) sendGroup(g sending) bool {
	if g.b != nil {
		_, err := e.client.Apply(e.ctx, g.b)
		if err == nil {
			return true
		}
		if e.ctx.Err() != nil {
			fmt.Fprintln(e.errw, err)
			return false
		}
		// The plan's Apply sends the group again and says what was not
		// applied, change by change: what this batch created meets
		// EEXIST there, and is read back as done.
	}
	if _, err := g.p.Apply(e.ctx, e.client); err != nil {
		fmt.Fprintln(e.errw, err)
		return false
	}
	return true
}

// encodeCreations encodes p's writes into b, as the plan's Apply would,
// if they are all creations, and reports whether they were.
func encodeCreations(b *ipvs.Batch, p *reconcile.Plan) bool {
	b.Reset()
	changes := p.Changes()
	for i := range changes {
		if k := changes[i].Kind; k != reconcile.KindCreateService && k != reconcile.KindCreateDestination {
			b.Reset()
			return false
		}
	}
	for i := range changes {
		c := &changes[i]
		if c.Kind == reconcile.KindCreateService {
			b.CreateService(c.Service)
		} else {
			b.CreateDestination(c.Service, c.Destination)
		}
	}
	return true
}
