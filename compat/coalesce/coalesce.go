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
	"sync"

	"github.com/ipvs-go/ipvs"
)

// Writer coalesces the concurrent writes of one drop-in client. Its zero
// value is ready.
type Writer struct {
	mu      sync.Mutex
	queue   []*write
	sending bool
	batches int // Applies made, for tests
}

// write is one caller's write: its single call, how to add it to a
// batch, and its result once done is closed.
type write struct {
	single func(context.Context) error
	add    func(*ipvs.Batch)
	err    error
	done   chan struct{}
}

// Do makes one write through c: the single call single when no other
// write waits with it, else added to a batch by add.
func (w *Writer) Do(ctx context.Context, c *ipvs.Client, single func(context.Context) error, add func(*ipvs.Batch)) error {
	o := &write{single: single, add: add, done: make(chan struct{})}
	w.mu.Lock()
	w.queue = append(w.queue, o)
	if w.sending {
		w.mu.Unlock()
		<-o.done
		return o.err
	}
	w.sending = true
	for len(w.queue) > 0 {
		ops := w.queue
		w.queue = nil
		w.mu.Unlock()
		w.send(ctx, c, ops)
		w.mu.Lock()
	}
	w.sending = false
	w.mu.Unlock()
	return o.err
}

// send makes the writes ops and hands each its result.
func (w *Writer) send(ctx context.Context, c *ipvs.Client, ops []*write) {
	defer func() {
		for _, o := range ops {
			close(o.done)
		}
	}()
	if len(ops) == 1 {
		ops[0].err = ops[0].single(ctx)
		return
	}
	var b ipvs.Batch
	for _, o := range ops {
		o.add(&b)
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
