//go:build linux

package ipvs

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"

	"github.com/mdlayher/netlink"
	"github.com/ti-mo/conntrack"
	"github.com/ti-mo/netfilter"
	"golang.org/x/sys/unix"
)

// FlushConntrack deletes the conntrack entries that the filters select,
// in the client's network namespace, and returns how many it deleted. It
// reads the table once, whatever the number of filters (the IPv4 half,
// the IPv6 half or both, as the filters need), and deletes each selected
// entry by its original tuple and its ID: an entry that a new flow made
// in the place of a selected one meanwhile has another ID, and stays.
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
	if err := ctx.Err(); err != nil {
		return 0, &Error{Op: opFlushConntrack, Object: m.object, Err: err}
	}
	var ns *netNS
	switch p := c.proc.(type) {
	case nil: // no procfs to tell the namespace: the caller's, as for the client's sockets
	case nsProc:
		ns = p.ns
	default:
		return 0, &Error{Op: opFlushConntrack, Object: m.object,
			Err: fmt.Errorf("the client's kernel is not this machine's (an in-memory one): %w", errors.ErrUnsupported)}
	}
	done, err := c.use()
	if err != nil {
		return 0, &Error{Op: opFlushConntrack, Object: m.object, Err: err}
	}
	defer done()
	n, err := flushConntrack(ctx, ns, m)
	if err != nil {
		return n, &Error{Op: opFlushConntrack, Object: m.object, Err: err}
	}
	return n, nil
}

// flushConntrack dumps the table through ti-mo/conntrack on one socket
// and deletes the matches on another, both in the namespace ns.
func flushConntrack(ctx context.Context, ns *netNS, m *conntrackMatcher) (int, error) {
	dump, del, err := dialConntrack(ns)
	if err != nil {
		return 0, err
	}
	// Closing the sockets is what ends a read in progress when the
	// context does; neither client takes a context.
	stop := context.AfterFunc(ctx, func() { _ = dump.Close(); _ = del.Close() })
	defer func() {
		if stop() {
			_ = dump.Close()
			_ = del.Close()
		}
	}()
	deleted := 0
	for i, family := range [2]netfilter.ProtoFamily{netfilter.ProtoIPv4, netfilter.ProtoIPv6} {
		if !m.families[i] {
			continue
		}
		flows, err := dump.DumpFilter(conntrack.NewFilter().Family(family), nil)
		if err != nil {
			return deleted, ctxOr(ctx, conntrackError("dump", err))
		}
		for j := range flows {
			f := &flows[j]
			o, r := &f.TupleOrig, &f.TupleReply
			if !m.match(o.Proto.Protocol, netip.AddrPortFrom(o.IP.DestinationAddress, o.Proto.DestinationPort),
				netip.AddrPortFrom(r.IP.SourceAddress, r.Proto.SourcePort)) {
				continue
			}
			req, err := deleteRequest(family, f)
			if err != nil {
				return deleted, err
			}
			switch _, err := del.Query(req); {
			case err == nil:
				deleted++
			case errors.Is(err, unix.ENOENT):
				// Expired since the dump, or replaced by a new flow's
				// entry (another ID), which must stay.
			default:
				return deleted, ctxOr(ctx, conntrackError("delete "+o.String(), err))
			}
		}
	}
	return deleted, nil
}

// dialConntrack opens the flush's two sockets in the namespace ns as
// netNS.dial opens the client's own: from a thread already there as it
// is, needing only CAP_NET_ADMIN; from one elsewhere by entering it,
// which netlink.Dial does on a thread of its own.
func dialConntrack(ns *netNS) (*conntrack.Conn, *netfilter.Conn, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cfg := &netlink.Config{}
	if ns != nil && !ns.here() {
		cfg.NetNS = int(ns.f.Fd())
	}
	dump, err := conntrack.Dial(cfg)
	if err != nil {
		return nil, nil, conntrackError("dial netfilter netlink", setnsError(err))
	}
	del, err := netfilter.Dial(cfg)
	if err != nil {
		_ = dump.Close()
		return nil, nil, conntrackError("dial netfilter netlink", setnsError(err))
	}
	return dump, del, nil
}

// ctxOr returns the context's error once it has ended, since the error of
// a socket closed under a call then says less.
func ctxOr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
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

// The ctnetlink message and attribute types a delete request uses
// (linux/netfilter/nfnetlink_conntrack.h).
const (
	ctMsgDelete   = 2  // IPCTNL_MSG_CT_DELETE
	ctaTupleOrig  = 1  // CTA_TUPLE_ORIG
	ctaID         = 12 // CTA_ID
	ctaZone       = 18 // CTA_ZONE
	ctaTupleIP    = 1  // CTA_TUPLE_IP
	ctaTupleProto = 2  // CTA_TUPLE_PROTO
	ctaIPv4Src    = 1  // CTA_IP_V4_SRC; +2 for CTA_IP_V6_SRC
	ctaIPv4Dst    = 2  // CTA_IP_V4_DST; +2 for CTA_IP_V6_DST
	ctaProtoNum   = 1  // CTA_PROTO_NUM
	ctaProtoSrc   = 2  // CTA_PROTO_SRC_PORT
	ctaProtoDst   = 3  // CTA_PROTO_DST_PORT
)

// deleteRequest is the request that deletes f and only f: its original
// tuple finds the entry, its ID must match it, and its zone says where
// to look. ti-mo/conntrack's own Delete sends no ID.
func deleteRequest(family netfilter.ProtoFamily, f *conntrack.Flow) (netlink.Message, error) {
	o := &f.TupleOrig
	src, dst := o.IP.SourceAddress, o.IP.DestinationAddress
	ipType := uint16(0)
	if family == netfilter.ProtoIPv6 {
		ipType = 2
	} else {
		src, dst = src.Unmap(), dst.Unmap()
	}
	ports := func(t uint16, p uint16) netfilter.Attribute {
		a := netfilter.Attribute{Type: t}
		a.PutUint16(p)
		return a
	}
	attrs := []netfilter.Attribute{
		{Type: ctaTupleOrig, Nested: true, Children: []netfilter.Attribute{
			{Type: ctaTupleIP, Nested: true, Children: []netfilter.Attribute{
				{Type: ctaIPv4Src + ipType, Data: src.AsSlice()},
				{Type: ctaIPv4Dst + ipType, Data: dst.AsSlice()},
			}},
			{Type: ctaTupleProto, Nested: true, Children: []netfilter.Attribute{
				{Type: ctaProtoNum, Data: []byte{o.Proto.Protocol}},
				ports(ctaProtoSrc, o.Proto.SourcePort),
				ports(ctaProtoDst, o.Proto.DestinationPort),
			}},
		}},
	}
	id := netfilter.Attribute{Type: ctaID}
	id.PutUint32(f.ID)
	attrs = append(attrs, id)
	if f.Zone != 0 {
		attrs = append(attrs, ports(ctaZone, f.Zone))
	}
	return netfilter.MarshalNetlink(netfilter.Header{
		SubsystemID: netfilter.NFSubsysCTNetlink,
		MessageType: ctMsgDelete,
		Family:      family,
		Flags:       netlink.Request | netlink.Acknowledge,
	}, attrs)
}
