package ipvs

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// The part of ctnetlink, netfilter's conntrack netlink interface
// (linux/netfilter/nfnetlink.h, nfnetlink_conntrack.h), that the flush
// speaks: a dump of the table, filtered by the kernel where it can, and
// deletes. A ctnetlink message is a netlink header, then struct nfgenmsg
// (the address family, the version, a resource ID), laid out as a Generic
// Netlink header is, so nlmsg frames both.
const (
	nfnlSubsysCTNetlink = 1 // NFNL_SUBSYS_CTNETLINK, the high byte of the message type
	ctMsgNew            = 0 // IPCTNL_MSG_CT_NEW: a dumped entry
	ctMsgGet            = 1 // IPCTNL_MSG_CT_GET
	ctMsgDelete         = 2 // IPCTNL_MSG_CT_DELETE

	ctTypeEntry  = nfnlSubsysCTNetlink<<8 | ctMsgNew
	ctTypeGet    = nfnlSubsysCTNetlink<<8 | ctMsgGet
	ctTypeDelete = nfnlSubsysCTNetlink<<8 | ctMsgDelete

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
	ctFilterIPSrc   = 1 << 0
	ctFilterIPDst   = 1 << 1
	ctFilterProto   = 1 << 3
	ctFilterSrcPort = 1 << 4
	ctFilterDstPort = 1 << 5
)

// ctDumpFilter is what a dump of one family asks the kernel to filter on:
// the fields all the flush's filters share. It only narrows what the
// kernel sends; every entry that arrives is still matched in full, so a
// kernel that ignores CTA_FILTER (before 5.8) sends the whole table and
// the flush stays exact.
type ctDumpFilter struct {
	origFlags, replyFlags uint32
	proto                 uint8
	virtual, real         netip.AddrPort // the original destination, the reply source
}

// dumpFilter returns the filter of the dump of family f (0 IPv4, 1 IPv6):
// each field that all the matcher's keys of that family agree on.
//
// IPv6 addresses are never filtered: Linux 5.10, 6.1 and 7.2 compare
// them with ipv6_addr_cmp where they mean equality, and so drop exactly
// the entries asked for (TestKernelConntrackFilterIPv6 pins it); the
// kernel still filters IPv6 entries by protocol and ports.
func (m *conntrackMatcher) dumpFilter(f int) ctDumpFilter {
	var d ctDumpFilter
	first := true
	for k := range m.keys {
		if familyIndex(k.virtual.Addr()) != f {
			continue
		}
		if first {
			first = false
			d = ctDumpFilter{
				origFlags:  ctFilterProto | ctFilterIPDst | ctFilterDstPort,
				replyFlags: ctFilterProto | ctFilterIPSrc | ctFilterSrcPort,
				proto:      uint8(k.protocol), virtual: k.virtual, real: k.real,
			}
			continue
		}
		if uint8(k.protocol) != d.proto {
			// Ports mean nothing to the kernel without the protocol.
			return ctDumpFilter{}
		}
		if k.virtual.Addr() != d.virtual.Addr() {
			d.origFlags &^= ctFilterIPDst
		}
		if k.virtual.Port() != d.virtual.Port() {
			d.origFlags &^= ctFilterDstPort
		}
		if k.real.Addr() != d.real.Addr() {
			d.replyFlags &^= ctFilterIPSrc
		}
		if k.real.Port() != d.real.Port() {
			d.replyFlags &^= ctFilterSrcPort
		}
	}
	if f == 1 {
		d.origFlags &^= ctFilterIPDst
		d.replyFlags &^= ctFilterIPSrc
	}
	return d
}

// appendCTDump appends the request of a dump of the family's entries,
// with the dump filter d unless it is empty.
func appendCTDump(b []byte, seq uint32, family uint8, d ctDumpFilter) []byte {
	b, off := nlmsg.StartRequest(b, ctTypeGet, nlmsg.FlagRequest|nlmsg.FlagDump, seq, family, 0)
	if d.origFlags|d.replyFlags != 0 {
		w := attrWriter{b: b}
		ctFilterTuple(&w, ctaTupleOrig, d.origFlags, d.proto, d.virtual, ctaIPv4Dst, ctaProtoDstPort)
		ctFilterTuple(&w, ctaTupleReply, d.replyFlags, d.proto, d.real, ctaIPv4Src, ctaProtoSrcPort)
		n := w.nest(ctaFilter)
		w.u32(ctaFilterOrigFlags, d.origFlags)
		w.u32(ctaFilterReplyFlags, d.replyFlags)
		w.end(n)
		b = w.b
	}
	return nlmsg.FinishRequest(b, off)
}

// ctFilterTuple writes the tuple typ with the fields flags name: the
// address as the IPv4 attribute ip4 (or its IPv6 counterpart, two on),
// the port as port.
func ctFilterTuple(w *attrWriter, typ uint16, flags uint32, proto uint8, ap netip.AddrPort, ip4, port uint16) {
	if flags == 0 {
		return
	}
	t := w.nest(typ)
	if flags&(ctFilterIPSrc|ctFilterIPDst) != 0 {
		n := w.nest(ctaTupleIP)
		if ap.Addr().Is4() {
			w.addr(ip4, ap.Addr())
		} else {
			w.addr(ip4+2, ap.Addr())
		}
		w.end(n)
	}
	n := w.nest(ctaTupleProto)
	w.u8(ctaProtoNum, proto)
	if flags&(ctFilterSrcPort|ctFilterDstPort) != 0 {
		w.be16(port, ap.Port())
	}
	w.end(n)
	w.end(t)
}

// ctEntry is what the flush reads of a dumped conntrack entry: the
// fields a filter matches, and what deletes the entry and no other.
type ctEntry struct {
	proto             uint8
	origDst, replySrc netip.AddrPort
	// orig is the CTA_TUPLE_ORIG attribute, header and all, as the kernel
	// sent it: a delete sends it back, zone of its direction included.
	orig []byte
	id   []byte // CTA_ID's 4 bytes
	zone []byte // CTA_ZONE's 2 bytes, or nil (the default zone)
}

// decodeCTEntry decodes the payload of a dumped entry's message into e,
// without allocating: e's slices alias msg.
func decodeCTEntry(msg []byte, e *ctEntry) error {
	if len(msg) < nlmsg.GenlHeaderLen {
		return fmt.Errorf("conntrack message of %d bytes has no nfgenmsg header", len(msg))
	}
	*e = ctEntry{}
	a := attrs{b: msg, off: nlmsg.GenlHeaderLen}
	var origOK, replyOK bool
	for a.next() {
		switch a.typ {
		case ctaTupleOrig:
			e.orig = a.b[a.start-attrHeaderLen : a.end]
			var src netip.AddrPort
			if err := decodeCTTuple(a.data(), &e.proto, &src, &e.origDst); err != nil {
				return fmt.Errorf("original tuple: %w", err)
			}
			origOK = true
		case ctaTupleReply:
			var proto uint8
			var dst netip.AddrPort
			if err := decodeCTTuple(a.data(), &proto, &e.replySrc, &dst); err != nil {
				return fmt.Errorf("reply tuple: %w", err)
			}
			replyOK = true
		case ctaID:
			e.id = a.fixed("CTA_ID", 4)
		case ctaZone:
			e.zone = a.fixed("CTA_ZONE", 2)
		}
	}
	switch {
	case a.err != nil:
		return a.err
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

// decodeCTTuple reads a tuple's protocol and its source and destination
// addresses and ports; a tuple without ports (ICMP) has them zero.
func decodeCTTuple(b []byte, proto *uint8, src, dst *netip.AddrPort) error {
	var sa, da netip.Addr
	var sp, dp uint16
	a := attrs{b: b}
	for a.next() {
		switch a.typ {
		case ctaTupleIP:
			ip := attrs{b: a.data()}
			for ip.next() {
				switch ip.typ {
				case ctaIPv4Src:
					sa = ctAddr(ip.fixed("CTA_IP_V4_SRC", 4))
				case ctaIPv4Dst:
					da = ctAddr(ip.fixed("CTA_IP_V4_DST", 4))
				case ctaIPv6Src:
					sa = ctAddr(ip.fixed("CTA_IP_V6_SRC", 16))
				case ctaIPv6Dst:
					da = ctAddr(ip.fixed("CTA_IP_V6_DST", 16))
				}
			}
			if ip.err != nil {
				return ip.err
			}
		case ctaTupleProto:
			p := attrs{b: a.data()}
			for p.next() {
				switch p.typ {
				case ctaProtoNum:
					*proto = p.u8("CTA_PROTO_NUM")
				case ctaProtoSrcPort:
					sp = p.be16("CTA_PROTO_SRC_PORT")
				case ctaProtoDstPort:
					dp = p.be16("CTA_PROTO_DST_PORT")
				}
			}
			if p.err != nil {
				return p.err
			}
		}
	}
	if a.err != nil {
		return a.err
	}
	if !sa.IsValid() || !da.IsValid() {
		return fmt.Errorf("tuple has no source or destination address")
	}
	*src, *dst = netip.AddrPortFrom(sa, sp), netip.AddrPortFrom(da, dp)
	return nil
}

// ctAddr is the address of a CTA_IP_* attribute's payload, which
// attrs.fixed checked: the zero Addr for nil.
func ctAddr(b []byte) netip.Addr {
	switch len(b) {
	case 4:
		return netip.AddrFrom4([4]byte(b))
	case 16:
		return netip.AddrFrom16([16]byte(b))
	}
	return netip.Addr{}
}

// appendCTDelete appends the request that deletes e and only e: its
// original tuple finds the entry, its ID must be the entry's, and its
// zone says where to look. Its flags ask for no acknowledgement: the
// kernel answers only a refusal, and the flush sets NLM_F_ACK on the
// last request of a datagram (setCTAck) to know where the answers end.
func appendCTDelete(b []byte, seq uint32, family uint8, e *ctEntry) []byte {
	b, off := nlmsg.StartRequest(b, ctTypeDelete, nlmsg.FlagRequest, seq, family, 0)
	b = append(b, e.orig...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	w := attrWriter{b: b}
	w.bytes(ctaID, e.id)
	if e.zone != nil {
		w.bytes(ctaZone, e.zone)
	}
	return nlmsg.FinishRequest(w.b, off)
}

// setCTAck adds NLM_F_ACK to the flags of the request at the start of b.
func setCTAck(b []byte) {
	binary.NativeEndian.PutUint16(b[6:], binary.NativeEndian.Uint16(b[6:])|nlmsg.FlagAck)
}
