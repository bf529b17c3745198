// Package ctnetlink speaks the part of ctnetlink, netfilter's conntrack
// netlink interface, that ipvs.Client.FlushConntrack needs: a dump of the
// table, filtered by the kernel where it can, matched against a set of
// keys, and the deletes of the matches, many to a datagram. It knows the
// messages and the flush's loop; the socket, its exchange and the
// errors' meaning are the caller's.
package ctnetlink

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// The messages (linux/netfilter/nfnetlink.h, nfnetlink_conntrack.h). A
// ctnetlink message is a netlink header, then struct nfgenmsg
// (the address family, the version, a resource ID), laid out as a Generic
// Netlink header is, so nlmsg frames both.
const (
	nfnlSubsysCTNetlink = 1 // NFNL_SUBSYS_CTNETLINK, the high byte of the message type
	ctMsgNew            = 0 // IPCTNL_MSG_CT_NEW: a dumped entry
	ctMsgGet            = 1 // IPCTNL_MSG_CT_GET
	ctMsgDelete         = 2 // IPCTNL_MSG_CT_DELETE

	TypeEntry  = nfnlSubsysCTNetlink<<8 | ctMsgNew
	typeGet    = nfnlSubsysCTNetlink<<8 | ctMsgGet
	typeDelete = nfnlSubsysCTNetlink<<8 | ctMsgDelete

	afInet  = 2  // AF_INET, nfgen_family
	afInet6 = 10 // AF_INET6
)

// Attributes (enum ctattr_type and the nested enums).
const (
	ctaTupleOrig  = 1  // CTA_TUPLE_ORIG
	ctaTupleReply = 2  // CTA_TUPLE_REPLY
	ctaID         = 12 // CTA_ID, __be32
	ctaZone       = 18 // CTA_ZONE, __be16
	ctaFilter     = 25 // CTA_FILTER (Linux 5.8)

	ctaTupleIP    = 1 // CTA_TUPLE_IP
	ctaTupleProto = 2 // CTA_TUPLE_PROTO

	ctaIPv4Src = 1 // CTA_IP_V4_SRC
	ctaIPv4Dst = 2 // CTA_IP_V4_DST
	ctaIPv6Src = 3 // CTA_IP_V6_SRC
	ctaIPv6Dst = 4 // CTA_IP_V6_DST

	ctaProtoNum     = 1 // CTA_PROTO_NUM, u8
	ctaProtoSrcPort = 2 // CTA_PROTO_SRC_PORT, __be16
	ctaProtoDstPort = 3 // CTA_PROTO_DST_PORT, __be16

	ctaFilterOrigFlags  = 1 // CTA_FILTER_ORIG_FLAGS, u32
	ctaFilterReplyFlags = 2 // CTA_FILTER_REPLY_FLAGS, u32
)

// The fields of a tuple that CTA_FILTER's flags make the kernel compare
// (CTA_FILTER_F_*, net/netfilter/nf_internals.h).
const (
	FilterIPSrc   = 1 << 0
	FilterIPDst   = 1 << 1
	filterProto   = 1 << 3
	filterSrcPort = 1 << 4
	filterDstPort = 1 << 5
)

// Key is what the flush matches an entry by: the protocol, the original
// destination (the virtual service) and the reply source (the real
// server), IPv4 addresses in their 4-byte form.
type Key struct {
	Proto         uint8
	Virtual, Real netip.AddrPort
}

// Matcher tells whether a conntrack entry is one of a set of keys, in one
// map lookup whatever their number, so that a flush walks the table once
// for any number of removed destinations.
type Matcher struct {
	keys map[Key]struct{}
	// Families says which halves of the table the keys need read: IPv4
	// (0), IPv6 (1).
	Families [2]bool
}

// NewMatcher returns the matcher of keys, which the caller validated.
func NewMatcher(keys []Key) *Matcher {
	m := &Matcher{keys: make(map[Key]struct{}, len(keys))}
	for _, k := range keys {
		m.keys[k] = struct{}{}
		m.Families[familyIndex(k.Virtual.Addr())] = true
	}
	return m
}

func familyIndex(a netip.Addr) int {
	if a.Is4() {
		return 0
	}
	return 1
}

// Match reports whether an entry with these tuples is one of the keys:
// protocol, original destination and reply source.
func (m *Matcher) Match(proto uint8, origDst, replySrc netip.AddrPort) bool {
	k := Key{
		Proto:   proto,
		Virtual: netip.AddrPortFrom(origDst.Addr().Unmap(), origDst.Port()),
		Real:    netip.AddrPortFrom(replySrc.Addr().Unmap(), replySrc.Port()),
	}
	_, ok := m.keys[k]
	return ok
}

// DumpFilter is what a dump of one family asks the kernel to filter on:
// the fields all the flush's keys share. It only narrows what the kernel
// sends; every entry that arrives is still matched in full, so a kernel
// that ignores CTA_FILTER (before 5.8) sends the whole table and the
// flush stays exact.
type DumpFilter struct {
	OrigFlags, ReplyFlags uint32 // CTA_FILTER_F_* of each tuple
	Proto                 uint8
	Virtual, Real         netip.AddrPort // the original destination, the reply source
}

// DumpFilter returns the filter of the dump of family f (0 IPv4, 1 IPv6):
// each field that all the matcher's keys of that family agree on.
//
// IPv6 addresses are never filtered: Linux 5.10, 6.1 and 7.2 compare
// them with ipv6_addr_cmp where they mean equality, and so drop exactly
// the entries asked for (TestKernelConntrackFilterIPv6 pins it); the
// kernel still filters IPv6 entries by protocol and ports.
func (m *Matcher) DumpFilter(f int) DumpFilter {
	var d DumpFilter
	first := true
	for k := range m.keys {
		if familyIndex(k.Virtual.Addr()) != f {
			continue
		}
		if first {
			first = false
			d = DumpFilter{
				OrigFlags:  filterProto | FilterIPDst | filterDstPort,
				ReplyFlags: filterProto | FilterIPSrc | filterSrcPort,
				Proto:      k.Proto, Virtual: k.Virtual, Real: k.Real,
			}
			continue
		}
		if k.Proto != d.Proto {
			// Ports mean nothing to the kernel without the protocol.
			return DumpFilter{}
		}
		if k.Virtual.Addr() != d.Virtual.Addr() {
			d.OrigFlags &^= FilterIPDst
		}
		if k.Virtual.Port() != d.Virtual.Port() {
			d.OrigFlags &^= filterDstPort
		}
		if k.Real.Addr() != d.Real.Addr() {
			d.ReplyFlags &^= FilterIPSrc
		}
		if k.Real.Port() != d.Real.Port() {
			d.ReplyFlags &^= filterSrcPort
		}
	}
	if f == 1 {
		d.OrigFlags &^= FilterIPDst
		d.ReplyFlags &^= FilterIPSrc
	}
	return d
}

// AppendDump appends the request of a dump of the family's entries,
// with the dump filter d unless it is empty.
func AppendDump(b []byte, seq uint32, family uint8, d DumpFilter) []byte {
	b, off := nlmsg.StartRequest(b, typeGet, nlmsg.FlagRequest|nlmsg.FlagDump, seq, family, 0)
	if d.OrigFlags|d.ReplyFlags != 0 {
		w := nlmsg.AttrWriter{B: b}
		filterTuple(&w, ctaTupleOrig, d.OrigFlags, d.Proto, d.Virtual, ctaIPv4Dst, ctaProtoDstPort)
		filterTuple(&w, ctaTupleReply, d.ReplyFlags, d.Proto, d.Real, ctaIPv4Src, ctaProtoSrcPort)
		n := w.Nest(ctaFilter)
		w.U32(ctaFilterOrigFlags, d.OrigFlags)
		w.U32(ctaFilterReplyFlags, d.ReplyFlags)
		w.End(n)
		b = w.B
	}
	return nlmsg.FinishRequest(b, off)
}

// filterTuple writes the tuple typ with the fields flags name: the
// address as the IPv4 attribute ip4 (or its IPv6 counterpart, two on),
// the port as port.
func filterTuple(w *nlmsg.AttrWriter, typ uint16, flags uint32, proto uint8, ap netip.AddrPort, ip4, port uint16) {
	if flags == 0 {
		return
	}
	t := w.Nest(typ)
	if flags&(FilterIPSrc|FilterIPDst) != 0 {
		n := w.Nest(ctaTupleIP)
		if ap.Addr().Is4() {
			w.Addr(ip4, ap.Addr())
		} else {
			w.Addr(ip4+2, ap.Addr())
		}
		w.End(n)
	}
	n := w.Nest(ctaTupleProto)
	w.U8(ctaProtoNum, proto)
	if flags&(filterSrcPort|filterDstPort) != 0 {
		w.BE16(port, ap.Port())
	}
	w.End(n)
	w.End(t)
}

// entry is what the flush reads of a dumped conntrack entry: the
// fields a filter matches, and what deletes the entry and no other.
type entry struct {
	proto             uint8
	origDst, replySrc netip.AddrPort
	// orig is the CTA_TUPLE_ORIG attribute, header and all, as the kernel
	// sent it: a delete sends it back, zone of its direction included.
	orig []byte
	id   []byte // CTA_ID's 4 bytes
	zone []byte // CTA_ZONE's 2 bytes, or nil (the default zone)
}

// decodeEntry decodes the payload of a dumped entry's message into e,
// without allocating: e's slices alias msg.
func decodeEntry(msg []byte, e *entry) error {
	if len(msg) < nlmsg.GenlHeaderLen {
		return fmt.Errorf("conntrack message of %d bytes has no nfgenmsg header", len(msg))
	}
	*e = entry{}
	a := nlmsg.NewAttrReader(msg[nlmsg.GenlHeaderLen:])
	var origOK, replyOK bool
	for a.Next() {
		switch a.Type() {
		case ctaTupleOrig:
			e.orig = a.Attr()
			var src netip.AddrPort
			if err := decodeTuple(a.Data(), &e.proto, &src, &e.origDst); err != nil {
				return fmt.Errorf("original tuple: %w", err)
			}
			origOK = true
		case ctaTupleReply:
			var proto uint8
			var dst netip.AddrPort
			if err := decodeTuple(a.Data(), &proto, &e.replySrc, &dst); err != nil {
				return fmt.Errorf("reply tuple: %w", err)
			}
			replyOK = true
		case ctaID:
			e.id = a.Fixed("CTA_ID", 4)
		case ctaZone:
			e.zone = a.Fixed("CTA_ZONE", 2)
		}
	}
	switch {
	case a.Err() != nil:
		return a.Err()
	case !origOK:
		return fmt.Errorf("conntrack entry has no original tuple")
	case !replyOK:
		return fmt.Errorf("conntrack entry has no reply tuple")
	case e.id == nil:
		// Every kernel sends it; without it a delete could hit a new
		// flow's entry that took the tuple.
		return fmt.Errorf("conntrack entry has no ID")
	}
	return nil
}

// decodeTuple reads a tuple's protocol and its source and destination
// addresses and ports; a tuple without ports (ICMP) has them zero.
func decodeTuple(b []byte, proto *uint8, src, dst *netip.AddrPort) error {
	var sa, da netip.Addr
	var sp, dp uint16
	a := nlmsg.NewAttrReader(b)
	for a.Next() {
		switch a.Type() {
		case ctaTupleIP:
			ip := nlmsg.NewAttrReader(a.Data())
			for ip.Next() {
				switch ip.Type() {
				case ctaIPv4Src:
					sa = tupleAddr(ip.Fixed("CTA_IP_V4_SRC", 4))
				case ctaIPv4Dst:
					da = tupleAddr(ip.Fixed("CTA_IP_V4_DST", 4))
				case ctaIPv6Src:
					sa = tupleAddr(ip.Fixed("CTA_IP_V6_SRC", 16))
				case ctaIPv6Dst:
					da = tupleAddr(ip.Fixed("CTA_IP_V6_DST", 16))
				}
			}
			if ip.Err() != nil {
				return ip.Err()
			}
		case ctaTupleProto:
			p := nlmsg.NewAttrReader(a.Data())
			for p.Next() {
				switch p.Type() {
				case ctaProtoNum:
					*proto = p.U8("CTA_PROTO_NUM")
				case ctaProtoSrcPort:
					sp = p.BE16("CTA_PROTO_SRC_PORT")
				case ctaProtoDstPort:
					dp = p.BE16("CTA_PROTO_DST_PORT")
				}
			}
			if p.Err() != nil {
				return p.Err()
			}
		}
	}
	if a.Err() != nil {
		return a.Err()
	}
	if !sa.IsValid() || !da.IsValid() {
		return fmt.Errorf("tuple has no source or destination address")
	}
	*src, *dst = netip.AddrPortFrom(sa, sp), netip.AddrPortFrom(da, dp)
	return nil
}

// tupleAddr is the address of a CTA_IP_* attribute's payload, which
// attrs.fixed checked: the zero Addr for nil.
func tupleAddr(b []byte) netip.Addr {
	switch len(b) {
	case 4:
		return netip.AddrFrom4([4]byte(b))
	case 16:
		return netip.AddrFrom16([16]byte(b))
	}
	return netip.Addr{}
}

// appendDelete appends the request that deletes e and only e: its
// original tuple finds the entry, its ID must be the entry's, and its
// zone says where to look. Its flags ask for no acknowledgement: the
// kernel answers only a refusal, and the flush sets NLM_F_ACK on the
// last request of a datagram (setAck) to know where the answers end.
func appendDelete(b []byte, seq uint32, family uint8, e *entry) []byte {
	b, off := nlmsg.StartRequest(b, typeDelete, nlmsg.FlagRequest, seq, family, 0)
	b = append(b, e.orig...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	w := nlmsg.AttrWriter{B: b}
	w.Bytes(ctaID, e.id)
	if e.zone != nil {
		w.Bytes(ctaZone, e.zone)
	}
	return nlmsg.FinishRequest(w.B, off)
}

// setAck adds NLM_F_ACK to the flags of the request at the start of b.
func setAck(b []byte) {
	binary.NativeEndian.PutUint16(b[6:], binary.NativeEndian.Uint16(b[6:])|nlmsg.FlagAck)
}
