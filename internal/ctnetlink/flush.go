package ctnetlink

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// Conn is a netlink socket of the caller's, which numbers requests and
// exchanges a datagram of them for the kernel's answers, as the client's
// one exchange path does: each data message of type typ, and each
// NLMSG_ERROR for a request before the last, goes to each; the answer to
// the last request ends the exchange, a refusal as a *nlmsg.KernelError.
type Conn interface {
	Next() uint32
	Exchange(ctx context.Context, b []byte, first, last uint32, typ uint16, ack bool, each func(h nlmsg.Header, msg []byte) error) error
}

// Flush is one flush: a socket that dumps the table and one that deletes
// the matches while the dump goes on, a datagram of deletes at a time, so
// that its memory is bounded whatever the table's size.
type Flush struct {
	Dump, Delete Conn
	Matcher      *Matcher
	// MaxBytes and MaxN bound a datagram of deletes: its bytes, and the
	// deletes whose refusals its socket can queue.
	MaxBytes, MaxN int
	// KernelFilter asks the kernel to filter dumps (DumpFilter); without
	// it each dump reads the whole family.
	KernelFilter bool
	// Wrap turns an error of a step ("dump", "delete") into the one
	// returned, saying what the errno means to the caller.
	Wrap func(step string, err error) error

	// Deleted counts the entries deleted, also when Run fails.
	Deleted int

	family uint8
	entry  entry
	req    []byte // the dump request

	batch       []byte // delete requests, back to back
	first, last uint32 // their sequence numbers
	lastOff     int    // where the last one starts
	n           int    // how many
}

// Run flushes: it reads the table once, the IPv4 half, the IPv6 half or
// both, as the keys need, and deletes each matching entry by its original
// tuple and its ID: an entry that a new flow made in the place of a
// selected one meanwhile has another ID, and stays.
func (f *Flush) Run(ctx context.Context) error {
	for i, family := range [2]uint8{afInet, afInet6} {
		if !f.Matcher.Families[i] {
			continue
		}
		f.family = family
		var d DumpFilter
		if f.KernelFilter {
			d = f.Matcher.DumpFilter(i)
		}
		got, err := f.dumpFamily(ctx, d)
		if got == 0 && d != (DumpFilter{}) && refusedFilter(err) {
			// A kernel that knows CTA_FILTER and refuses this one: the
			// whole family's entries then, matched here.
			_, err = f.dumpFamily(ctx, DumpFilter{})
		}
		if err != nil {
			return f.Wrap("dump", err)
		}
		if err := f.send(ctx); err != nil {
			return err
		}
	}
	return nil
}

// refusedFilter reports whether the kernel itself refused a dump request
// (not one of the deletes made meanwhile, whose errors come wrapped) in a
// way a filter it does not take would explain.
func refusedFilter(err error) bool {
	ke, ok := err.(*nlmsg.KernelError)
	return ok && (ke.Errno == syscall.EINVAL || ke.Errno == syscall.EOPNOTSUPP)
}

// dumpFamily dumps the entries of f.family that the kernel lets through d,
// and queues the deletes of those that match. It returns how many
// entries came.
func (f *Flush) dumpFamily(ctx context.Context, d DumpFilter) (got int, err error) {
	seq := f.Dump.Next()
	f.req = AppendDump(f.req[:0], seq, f.family, d)
	err = f.Dump.Exchange(ctx, f.req, seq, seq, TypeEntry, false, func(_ nlmsg.Header, msg []byte) error {
		got++
		e := &f.entry
		if err := decodeEntry(msg, e); err != nil {
			return fmt.Errorf("decode conntrack entry: %w", err)
		}
		if !f.Matcher.Match(e.proto, e.origDst, e.replySrc) {
			return nil
		}
		return f.queue(ctx, e)
	})
	return got, err
}

// queue adds the delete of e to the datagram being built, sending it
// first if e's would not fit.
func (f *Flush) queue(ctx context.Context, e *entry) error {
	if f.n > 0 && (f.n == f.MaxN || len(f.batch)+nlmsg.HeaderLen+nlmsg.GenlHeaderLen+len(e.orig)+16 > f.MaxBytes) {
		if err := f.send(ctx); err != nil {
			return err
		}
	}
	seq := f.Delete.Next()
	if f.n == 0 {
		f.first = seq
	}
	f.last, f.lastOff = seq, len(f.batch)
	f.batch = appendDelete(f.batch, seq, f.family, e)
	f.n++
	return nil
}

// send sends the queued deletes as one datagram, the last asking for an
// ACK so that the end of the kernel's answers is known, and counts those
// it did not refuse. An entry gone meanwhile (expired, or deleted by
// another) is refused with ENOENT, as is one whose tuple a new flow took
// (another ID), which stays; any other refusal ends the flush. The
// answers to a datagram sent are always read, so that the count is exact
// even when ctx ends.
func (f *Flush) send(ctx context.Context) error {
	if f.n == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	setAck(f.batch[f.lastOff:])
	sent, notDeleted := f.n, 0
	var refused error
	refuse := func(ke *nlmsg.KernelError) {
		notDeleted++
		if ke.Errno != syscall.ENOENT && refused == nil {
			refused = ke
		}
	}
	err := f.Delete.Exchange(context.WithoutCancel(ctx), f.batch, f.first, f.last, typeDelete, true, func(h nlmsg.Header, msg []byte) error {
		if h.Type != nlmsg.TypeError {
			return fmt.Errorf("unexpected message of type %d among the answers to deletes", h.Type)
		}
		errno, ke, err := nlmsg.ParseError(h.Flags, msg)
		if err != nil {
			return err
		}
		if errno != 0 {
			refuse(ke)
		}
		return nil
	})
	f.batch, f.n = f.batch[:0], 0
	var ke *nlmsg.KernelError
	switch {
	case errors.As(err, &ke):
		refuse(ke)
	case err != nil:
		// Some of the datagram's deletes may have been applied: the
		// count stays a lower bound.
		return f.Wrap("delete", err)
	}
	f.Deleted += sent - notDeleted
	if refused != nil {
		return f.Wrap("delete", refused)
	}
	return nil
}
