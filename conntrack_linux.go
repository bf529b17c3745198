//go:build linux

package ipvs

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// FlushConntrack deletes the conntrack entries that the filters select,
// in the client's network namespace, and returns how many it deleted. It
// reads the table once, whatever the number of filters (the IPv4 half,
// the IPv6 half or both, as the filters need), asking the kernel to send
// only the entries with the fields all the filters share (Linux 5.8 and
// later can), and deletes each selected entry by its original tuple and
// its ID, many to a datagram: an entry that a new flow made in the place
// of a selected one meanwhile has another ID, and stays.
//
// Call it after removing masquerading UDP or SCTP destinations (see
// ConntrackFilter for the others), whose entries otherwise stay until
// IPVS expires its own. It does not move a flow, and does not touch
// IPVS's own connection entries, which decide where a flow goes and
// which no interface deletes: set Sysctls.ExpireNodestConn, so that IPVS
// expires the entries of a removed destination at once and schedules
// their flows anew (the package README has the facts, measured on each
// kernel).
//
// Errors are *Error values. One matches ErrNoConntrack (and
// os.ErrNotExist) when the namespace's kernel has no conntrack netlink
// interface, os.ErrPermission without CAP_NET_ADMIN over the namespace,
// os.ErrInvalid for a bad filter, before anything is read. Entries
// deleted before an error stay deleted; the count says how many.
func (c *Client) FlushConntrack(ctx context.Context, filters ...ConntrackFilter) (int, error) {
	m, err := newConntrackMatcher(filters)
	if err != nil {
		return 0, &Error{Op: opFlushConntrack, Err: err}
	}
	if len(filters) == 0 {
		return 0, nil
	}
	fail := func(err error) error {
		e := &Error{Op: opFlushConntrack, Object: m.object, Err: err}
		if ke := (*nlmsg.KernelError)(nil); errors.As(err, &ke) {
			e.Message = ke.Message
		}
		return e
	}
	if err := ctx.Err(); err != nil {
		return 0, fail(err)
	}
	var ns *netNS
	switch p := c.proc.(type) {
	case nil: // no procfs to tell the namespace: the caller's, as for the client's sockets
	case nsProc:
		ns = p.ns
	default:
		return 0, fail(fmt.Errorf("the client's kernel is not this machine's (an in-memory one): %w", errors.ErrUnsupported))
	}
	done, err := c.use()
	if err != nil {
		return 0, fail(err)
	}
	defer done()
	f, err := c.dialConntrack(ns)
	if err != nil {
		return 0, fail(err)
	}
	defer f.close()
	f.m = m
	if err := f.run(ctx); err != nil {
		return f.deleted, fail(err)
	}
	return f.deleted, nil
}

// ctFlush is one flush: a socket that dumps the table and one that
// deletes the matches while the dump goes on, a datagram of deletes at a
// time, so that its memory is bounded whatever the table's size.
type ctFlush struct {
	m         *conntrackMatcher
	dump, del *conn
	family    uint8
	entry     ctEntry

	batch          []byte // delete requests, back to back
	first, last    uint32 // their sequence numbers
	lastOff        int    // where the last one starts
	n              int    // how many
	maxBytes, maxN int
	deleted        int
}

// conntrackKernelFilter is whether dumps ask the kernel to filter; the
// tests turn it off to prove the flush exact without.
var conntrackKernelFilter = true

func (f *ctFlush) run(ctx context.Context) error {
	f.maxBytes, f.maxN = batchLimits(f.del.sock)
	for i, family := range [2]uint8{afInet, afInet6} {
		if !f.m.families[i] {
			continue
		}
		f.family = family
		var d ctDumpFilter
		if conntrackKernelFilter {
			d = f.m.dumpFilter(i)
		}
		got, err := f.dumpFamily(ctx, d)
		if got == 0 && d != (ctDumpFilter{}) && refusedFilter(err) {
			// A kernel that knows CTA_FILTER and refuses this one: the
			// whole family's entries then, matched here.
			_, err = f.dumpFamily(ctx, ctDumpFilter{})
		}
		if err != nil {
			return conntrackError("dump", err)
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
	return ok && (ke.Errno == unix.EINVAL || ke.Errno == unix.EOPNOTSUPP)
}

// dumpFamily dumps the entries of f.family that the kernel lets through d,
// and queues the deletes of those that match. It returns how many
// entries came.
func (f *ctFlush) dumpFamily(ctx context.Context, d ctDumpFilter) (got int, err error) {
	seq := f.dump.next()
	f.dump.req = appendCTDump(f.dump.req[:0], seq, f.family, d)
	err = f.dump.exchange(ctx, f.dump.req, seq, seq, ctTypeEntry, false, func(_ nlmsg.Header, msg []byte) error {
		got++
		e := &f.entry
		if err := decodeCTEntry(msg, e); err != nil {
			return fmt.Errorf("decode conntrack entry: %w", err)
		}
		if !f.m.match(e.proto, e.origDst, e.replySrc) {
			return nil
		}
		return f.queue(ctx, e)
	})
	return got, err
}

// queue adds the delete of e to the datagram being built, sending it
// first if e's would not fit.
func (f *ctFlush) queue(ctx context.Context, e *ctEntry) error {
	if f.n > 0 && (f.n == f.maxN || len(f.batch)+nlmsg.HeaderLen+nlmsg.GenlHeaderLen+len(e.orig)+16 > f.maxBytes) {
		if err := f.send(ctx); err != nil {
			return err
		}
	}
	seq := f.del.next()
	if f.n == 0 {
		f.first = seq
	}
	f.last, f.lastOff = seq, len(f.batch)
	f.batch = appendCTDelete(f.batch, seq, f.family, e)
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
func (f *ctFlush) send(ctx context.Context) error {
	if f.n == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	setCTAck(f.batch[f.lastOff:])
	sent, notDeleted := f.n, 0
	var refused error
	refuse := func(ke *nlmsg.KernelError) {
		notDeleted++
		if ke.Errno != unix.ENOENT && refused == nil {
			refused = ke
		}
	}
	first := f.first
	err := f.del.exchange(context.WithoutCancel(ctx), f.batch, first, f.last, ctTypeDelete, true, func(h nlmsg.Header, msg []byte) error {
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
		return conntrackError("delete", err)
	}
	f.deleted += sent - notDeleted
	if refused != nil {
		return conntrackError("delete", refused)
	}
	return nil
}

// dialConntrack opens the flush's two sockets in the namespace ns as
// netNS.dial opens the client's own: from a thread already there as it
// is, needing only CAP_NET_ADMIN; from one elsewhere by entering it,
// which netlink.Dial does on a thread of its own.
func (c *Client) dialConntrack(ns *netNS) (*ctFlush, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	nsfd := 0
	if ns != nil && !ns.here() {
		nsfd = int(ns.f.Fd())
	}
	var conns [2]*conn
	for i := range conns {
		nc, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: nsfd})
		if err == nil {
			// As for the client's own sockets: best effort.
			for _, o := range []netlink.ConnOption{netlink.ExtendedAcknowledge, netlink.CapAcknowledge} {
				_ = nc.SetOption(o, true)
			}
		}
		var s *rawSocket
		if err == nil {
			if s, err = newRawSocket(nc); err != nil {
				_ = nc.Close()
			}
		}
		if err != nil {
			if i > 0 {
				_ = conns[0].sock.Close()
			}
			return nil, conntrackError("dial netfilter netlink", setnsError(err))
		}
		conns[i] = newConn(s, c.replyTimeout, c.bufSize[poolDefault], &c.closed)
	}
	return &ctFlush{dump: conns[0], del: conns[1]}, nil
}

func (f *ctFlush) close() {
	_ = f.dump.sock.Close()
	_ = f.del.sock.Close()
}

// conntrackError says what an errno of netfilter netlink means here.
func conntrackError(what string, err error) error {
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("%s: conntrack needs CAP_NET_ADMIN over the network namespace: %w", what, err)
	case errors.Is(err, unix.EPROTONOSUPPORT), errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.EINVAL):
		// No nfnetlink (the socket is refused), or no ctnetlink
		// subsystem in it (nfnetlink refuses the message type).
		return fmt.Errorf("%s: %w: %w", what, ErrNoConntrack, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
