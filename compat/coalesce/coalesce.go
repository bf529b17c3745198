// Package coalesce lets the drop-ins of compat/ reach the library's batch
// path for writes where their peers' API allows it: each write of that API
// returns its own error, so a program's writes in sequence must each wait
// for the kernel, but writes that callers make at once can share one
// Apply (a group commit). While one caller's writes are under way, the
// writes that arrive wait, and go together in the next Apply; each caller
// gets its own write's result, the same error its single call returns. A
// caller alone makes the single call, so a program that writes in
// sequence pays nothing for it.
//
// The caller that finds no write under way sends, and keeps sending what
// arrives meanwhile until nothing waits: under a steady stream of
// concurrent writes it returns later than its own write was applied.
//
// It serves the drop-ins and makes no promise of compatibility to others.
package coalesce

import (
	"context"
	"fmt"
	"sync"

	"github.com/ipvs-go/ipvs"
)

// Kind is what a write does.
type Kind uint8

// The writes of the drop-ins' APIs.
const (
	CreateService Kind = iota + 1
	UpdateService
	RemoveService
	CreateDestination
	UpdateDestination
	RemoveDestination
)

// Op is one write: what it does, to which service and, for the writes of
// destinations, to which destination. It is a value, not the closures of
// a call and of its place in a batch, so that a write made alone (every
// write of a program that writes in sequence) costs no allocation here.
type Op struct {
	Kind        Kind
	Service     ipvs.Service
	Destination ipvs.Destination
}

// single makes op as a call of its own through c.
func (op *Op) single(ctx context.Context, c *ipvs.Client) error {
	switch op.Kind {
	case CreateService:
		return c.CreateService(ctx, op.Service)
	case UpdateService:
		return c.UpdateService(ctx, op.Service)
	case RemoveService:
		return c.RemoveService(ctx, op.Service)
	case CreateDestination:
		return c.CreateDestination(ctx, op.Service, op.Destination)
	case UpdateDestination:
		return c.UpdateDestination(ctx, op.Service, op.Destination)
	case RemoveDestination:
		return c.RemoveDestination(ctx, op.Service, op.Destination)
	}
	return fmt.Errorf("coalesce: write of unknown kind %d", op.Kind)
}

// add adds op to b, which then answers it in its place.
func (op *Op) add(b *ipvs.Batch) {
	switch op.Kind {
	case CreateService:
		b.CreateService(op.Service)
	case UpdateService:
		b.UpdateService(op.Service)
	case RemoveService:
		b.RemoveService(op.Service)
	case CreateDestination:
		b.CreateDestination(op.Service, op.Destination)
	case UpdateDestination:
		b.UpdateDestination(op.Service, op.Destination)
	case RemoveDestination:
		b.RemoveDestination(op.Service, op.Destination)
	}
}

// Writer coalesces the concurrent writes of one drop-in client. Its zero
// value is ready.
type Writer struct {
	mu      sync.Mutex
	queue   []*write
	sending bool
	batches int // Applies made, for tests
}

// write is a write that waits for the caller under way to send it, and
// its result once done is closed.
type write struct {
	op   Op
	err  error
	done chan struct{}
}

// Do makes the write op through c: as a single call when no other write
// is under way, else, once the one under way is done, beside the others
// that waited with it.
func (w *Writer) Do(ctx context.Context, c *ipvs.Client, op Op) error {
	w.mu.Lock()
	if w.sending {
		o := &write{op: op, done: make(chan struct{})}
		w.queue = append(w.queue, o)
		w.mu.Unlock()
		<-o.done
		return o.err
	}
	// Nothing waits while no write is under way: this one goes alone.
	w.sending = true
	w.mu.Unlock()
	err := op.single(ctx, c)
	w.mu.Lock()
	for len(w.queue) > 0 {
		ops := w.queue
		w.queue = nil
		w.mu.Unlock()
		w.send(ctx, c, ops)
		w.mu.Lock()
	}
	w.sending = false
	w.mu.Unlock()
	return err
}

// send makes the writes ops and hands each its result.
func (w *Writer) send(ctx context.Context, c *ipvs.Client, ops []*write) {
	defer func() {
		for _, o := range ops {
			close(o.done)
		}
	}()
	if len(ops) == 1 {
		ops[0].err = ops[0].op.single(ctx, c)
		return
	}
	var b ipvs.Batch
	for _, o := range ops {
		o.op.add(&b)
	}
	w.mu.Lock()
	w.batches++
	w.mu.Unlock()
	results, err := c.Apply(ctx, &b)
	for i, o := range ops {
		if i < len(results) {
			o.err = results[i]
		} else {
			o.err = err
		}
	}
}
