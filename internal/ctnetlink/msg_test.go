package ctnetlink

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"

	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// ctKernelEntry is a conntrack entry as the tests' kernel keeps it.
type ctKernelEntry struct {
	proto                        uint8
	origSrc, origDst             netip.AddrPort
	replySrc, replyDst           netip.AddrPort
	id                           uint32
	zone                         uint16
	withoutID, withoutReplyTuple bool
}

// ctFlow is the entry of a masqueraded flow from client to virtual,
// answered by real.
func ctFlow(proto uint8, client, virtual, real string, id uint32) ctKernelEntry {
	ap := netip.MustParseAddrPort
	return ctKernelEntry{proto: proto, origSrc: ap(client), origDst: ap(virtual), replySrc: ap(real), replyDst: ap(client), id: id}
}

// family is the entry's nfgen_family.
func (e ctKernelEntry) family() uint8 {
	if e.origSrc.Addr().Is4() {
		return afInet
	}
	return afInet6
}

// appendCTTuple writes a tuple as ctnetlink_dump_tuples does.
func appendCTTuple(w *nlmsg.AttrWriter, typ uint16, proto uint8, src, dst netip.AddrPort) {
	t := w.Nest(typ)
	ip := w.Nest(ctaTupleIP)
	off := uint16(0)
	if !src.Addr().Is4() {
		off = 2
	}
	w.Addr(ctaIPv4Src+off, src.Addr())
	w.Addr(ctaIPv4Dst+off, dst.Addr())
	w.End(ip)
	p := w.Nest(ctaTupleProto)
	w.U8(ctaProtoNum, proto)
	w.BE16(ctaProtoSrcPort, src.Port())
	w.BE16(ctaProtoDstPort, dst.Port())
	w.End(p)
	w.End(t)
}

// payload is the message ctnetlink_fill_info makes of the entry, after
// the netlink header: nfgenmsg, the tuples, and the attributes a flush
// skips (status, timeout, protocol info, counters, mark, use) around the
// ones it reads.
func (e ctKernelEntry) payload() []byte {
	w := nlmsg.AttrWriter{B: []byte{e.family(), 0, 0, 0}}
	appendCTTuple(&w, ctaTupleOrig, e.proto, e.origSrc, e.origDst)
	if !e.withoutReplyTuple {
		appendCTTuple(&w, ctaTupleReply, e.proto, e.replySrc, e.replyDst)
	}
	if e.zone != 0 {
		w.BE16(ctaZone, e.zone)
	}
	w.BE32(3, 0x18e)  // CTA_STATUS
	w.BE32(7, 119)    // CTA_TIMEOUT
	p := w.Nest(4)    // CTA_PROTOINFO
	s := w.Nest(3)    // CTA_PROTOINFO_SCTP
	w.U8(1, 3)        // its state
	w.BE32(2, 0x1234) // a vtag
	w.End(s)
	w.End(p)
	c := w.Nest(9) // CTA_COUNTERS_ORIG
	w.Header(1, 8) // packets, a u64
	w.B = binary.BigEndian.AppendUint64(w.B, 5)
	w.End(c)
	w.BE32(8, 0) // CTA_MARK
	if !e.withoutID {
		w.BE32(ctaID, e.id)
	}
	w.BE32(11, 1) // CTA_USE
	return w.B
}

func TestDecodeCTEntry(t *testing.T) {
	for _, k := range []ctKernelEntry{
		ctFlow(17, "10.99.0.2:40000", "10.99.1.1:53", "10.97.0.2:5353", 0xdeadbeef),
		{proto: 132, origSrc: netip.MustParseAddrPort("[fd00::2]:9"), origDst: netip.MustParseAddrPort("[fd00::1]:9"),
			replySrc: netip.MustParseAddrPort("[fd01::2]:9"), replyDst: netip.MustParseAddrPort("[fd00::2]:9"), id: 7, zone: 3},
	} {
		var e entry
		msg := k.payload()
		if err := decodeEntry(msg, &e); err != nil {
			t.Fatalf("%+v: %v", k, err)
		}
		if e.proto != k.proto || e.origDst != k.origDst || e.replySrc != k.replySrc {
			t.Errorf("decoded proto %d, original destination %s, reply source %s; want %d, %s, %s",
				e.proto, e.origDst, e.replySrc, k.proto, k.origDst, k.replySrc)
		}
		if binary.BigEndian.Uint32(e.id) != k.id {
			t.Errorf("id %x, want %x", e.id, k.id)
		}
		if (e.zone != nil) != (k.zone != 0) || (e.zone != nil && binary.BigEndian.Uint16(e.zone) != k.zone) {
			t.Errorf("zone %x, want %d", e.zone, k.zone)
		}
		// The original tuple is sent back as it came.
		w := nlmsg.AttrWriter{}
		appendCTTuple(&w, ctaTupleOrig, k.proto, k.origSrc, k.origDst)
		if !bytes.Equal(e.orig, w.B) {
			t.Errorf("original tuple\n%x, want\n%x", e.orig, w.B)
		}
	}
}

func TestDecodeCTEntryRefusesIncomplete(t *testing.T) {
	good := ctFlow(17, "10.99.0.2:40000", "10.99.1.1:53", "10.97.0.2:53", 1)
	noID, noReply := good, good
	noID.withoutID = true
	noReply.withoutReplyTuple = true
	msg := good.payload()
	for _, tt := range []struct {
		name string
		msg  []byte
		want string
	}{
		{"no ID", noID.payload(), "no ID"},
		{"no reply tuple", noReply.payload(), "no reply tuple"},
		{"no header", msg[:3], "no nfgenmsg header"},
		{"cut in the original tuple", msg[:20], "bytes left"},
		{"no original tuple", []byte{2, 0, 0, 0}, "no original tuple"},
	} {
		var e entry
		if err := decodeEntry(tt.msg, &e); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error saying %q", tt.name, err, tt.want)
		}
	}
}

// TestCTDeleteRequest checks the request that deletes one entry:
// ctnetlink's delete of the entry's family, without an ACK (the flush
// asks for one on the last of a datagram only), carrying the original
// tuple as dumped, its ID and its zone, and nothing else that could
// widen or miss it.
func TestCTDeleteRequest(t *testing.T) {
	k := ctFlow(17, "10.99.0.2:40000", "10.99.1.1:53", "10.97.0.2:53", 0xdeadbeef)
	k.zone = 7
	var e entry
	if err := decodeEntry(k.payload(), &e); err != nil {
		t.Fatal(err)
	}
	b := appendDelete([]byte("prefix.."), 42, afInet, &e)
	if string(b[:8]) != "prefix.." {
		t.Fatal("the request did not go after what the buffer held")
	}
	b = b[8:]
	h, err := nlmsg.ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if int(h.Length) != len(b) || h.Type != typeDelete || h.Flags != nlmsg.FlagRequest || h.Sequence != 42 {
		t.Errorf("header %+v, want the delete, request only, sequence 42, %d bytes", h, len(b))
	}
	if !bytes.Equal(b[16:20], []byte{afInet, 0, 0, 0}) {
		t.Errorf("nfgenmsg %x", b[16:20])
	}
	w := nlmsg.AttrWriter{}
	appendCTTuple(&w, ctaTupleOrig, 17, k.origSrc, k.origDst)
	w.BE32(ctaID, 0xdeadbeef)
	w.BE16(ctaZone, 7)
	if !bytes.Equal(b[20:], w.B) {
		t.Errorf("attributes\n%x, want\n%x", b[20:], w.B)
	}
	setAck(b)
	if h, _ := nlmsg.ParseHeader(b); h.Flags != nlmsg.FlagRequest|nlmsg.FlagAck {
		t.Errorf("flags after setAck %#x", h.Flags)
	}
}

// ctDumpAttrs decodes a dump request's filter: the flags, and the
// fields of each tuple by attribute type, as "orig/ip/2" → bytes.
func ctDumpAttrs(t testing.TB, b []byte) (orig, reply uint32, fields map[string][]byte) {
	t.Helper()
	fields = map[string][]byte{}
	var walk func(prefix string, b []byte)
	walk = func(prefix string, b []byte) {
		a := nlmsg.NewAttrReader(b)
		for a.Next() {
			name := prefix + "/" + string(rune('0'+a.Type()))
			switch {
			case prefix == "" && (a.Type() == ctaTupleOrig || a.Type() == ctaTupleReply),
				strings.Count(prefix, "/") == 1 && (a.Type() == ctaTupleIP || a.Type() == ctaTupleProto):
				walk(name, a.Data())
			case prefix == "" && a.Type() == ctaFilter:
				f := nlmsg.NewAttrReader(a.Data())
				for f.Next() {
					switch f.Type() {
					case ctaFilterOrigFlags:
						orig = f.U32("orig flags")
					case ctaFilterReplyFlags:
						reply = f.U32("reply flags")
					}
				}
			default:
				fields[name] = a.Data()
			}
		}
		if a.Err() != nil {
			t.Fatal(a.Err())
		}
	}
	walk("", b)
	return orig, reply, fields
}

// TestCTDumpFilter checks what a dump asks the kernel to filter on: the
// fields all filters of the family share, IPv6 addresses never, nothing
// at all across protocols.
func TestCTDumpFilter(t *testing.T) {
	udp := func(real string) Key {
		return Key{Proto: 17, Virtual: netip.MustParseAddrPort("10.0.0.1:53"), Real: netip.MustParseAddrPort(real)}
	}
	sctp := Key{Proto: 132, Virtual: netip.MustParseAddrPort("10.0.0.1:53"), Real: netip.MustParseAddrPort("10.0.0.2:53")}
	v6 := Key{Proto: 6, Virtual: netip.MustParseAddrPort("[2001:db8::1]:80"), Real: netip.MustParseAddrPort("[2001:db8::2]:80")}
	all4 := filterProto | FilterIPDst | filterDstPort
	allReply4 := filterProto | FilterIPSrc | filterSrcPort
	for _, tt := range []struct {
		name        string
		keys        []Key
		family      int
		orig, reply uint32
		fields      map[string]string // hex of each field sent
	}{
		{"one ipv4 destination", []Key{udp("10.0.0.2:53")}, 0, uint32(all4), uint32(allReply4),
			map[string]string{"/1/1/2": "0a000001", "/1/2/1": "11", "/1/2/3": "0035", "/2/1/1": "0a000002", "/2/2/1": "11", "/2/2/2": "0035"}},
		{"two destinations of one service", []Key{udp("10.0.0.2:53"), udp("10.0.0.3:53")}, 0,
			uint32(all4), filterProto | filterSrcPort,
			map[string]string{"/1/1/2": "0a000001", "/1/2/1": "11", "/1/2/3": "0035", "/2/2/1": "11", "/2/2/2": "0035"}},
		{"two ports of one server", []Key{udp("10.0.0.2:53"), udp("10.0.0.2:5353")}, 0,
			uint32(all4), filterProto | FilterIPSrc,
			map[string]string{"/1/1/2": "0a000001", "/1/2/1": "11", "/1/2/3": "0035", "/2/1/1": "0a000002", "/2/2/1": "11"}},
		{"two protocols", []Key{udp("10.0.0.2:53"), sctp},
			0, 0, 0, map[string]string{}},
		{"ipv6: protocol and ports only", []Key{v6, udp("10.0.0.2:53")}, 1,
			filterProto | filterDstPort, filterProto | filterSrcPort,
			map[string]string{"/1/2/1": "06", "/1/2/3": "0050", "/2/2/1": "06", "/2/2/2": "0050"}},
		{"no filter of the family", []Key{udp("10.0.0.2:53")}, 1, 0, 0, map[string]string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMatcher(tt.keys)
			fam := uint8(afInet)
			if tt.family == 1 {
				fam = afInet6
			}
			b := AppendDump(nil, 9, fam, m.DumpFilter(tt.family))
			h, err := nlmsg.ParseHeader(b)
			if err != nil {
				t.Fatal(err)
			}
			if int(h.Length) != len(b) || h.Type != typeGet || h.Flags != nlmsg.FlagRequest|nlmsg.FlagDump || h.Sequence != 9 || b[16] != fam {
				t.Errorf("header %+v, family %d", h, b[16])
			}
			orig, reply, fields := ctDumpAttrs(t, b[20:])
			if orig != tt.orig || reply != tt.reply {
				t.Errorf("flags %#x, %#x; want %#x, %#x", orig, reply, tt.orig, tt.reply)
			}
			got := map[string]string{}
			for k, v := range fields {
				got[k] = hexString(v)
			}
			if len(got) != len(tt.fields) {
				t.Errorf("fields %v, want %v", got, tt.fields)
			}
			for k, v := range tt.fields {
				if got[k] != v {
					t.Errorf("field %s = %s, want %s (all: %v)", k, got[k], v, got)
				}
			}
		})
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	s := make([]byte, 0, 2*len(b))
	for _, c := range b {
		s = append(s, digits[c>>4], digits[c&15])
	}
	return string(s)
}

// FuzzDecodeCTEntry feeds the entry decoder anything: it must never
// panic, and what it accepts must make a delete request that frames.
func FuzzDecodeCTEntry(f *testing.F) {
	f.Add(ctFlow(17, "10.99.0.2:40000", "10.99.1.1:53", "10.97.0.2:53", 1).payload())
	v6 := ctFlow(132, "[fd00::2]:9", "[fd00::1]:9", "[fd01::2]:9", 2)
	v6.zone = 4
	f.Add(v6.payload())
	f.Fuzz(func(t *testing.T, msg []byte) {
		var e entry
		if decodeEntry(msg, &e) != nil {
			return
		}
		b := appendDelete(nil, 1, afInet, &e)
		if h, err := nlmsg.ParseHeader(b); err != nil || int(h.Length) != len(b) || len(b)%4 != 0 {
			t.Fatalf("delete request %x: %+v, %v", b, h, err)
		}
	})
}

func BenchmarkDecodeCTEntry(b *testing.B) {
	msg := ctFlow(17, "10.98.1.2:1024", "10.99.1.1:53", "10.97.3.2:53", 99).payload()
	m := NewMatcher([]Key{{Proto: 17, Virtual: netip.MustParseAddrPort("10.0.0.1:53"), Real: netip.MustParseAddrPort("10.97.3.2:53")}})
	b.ReportAllocs()
	var e entry
	for b.Loop() {
		if err := decodeEntry(msg, &e); err != nil {
			b.Fatal(err)
		}
		m.Match(e.proto, e.origDst, e.replySrc)
	}
}
