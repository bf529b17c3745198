package ipvs

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// The attribute codec is our own rather than netlink.AttributeEncoder and
// AttributeDecoder: those allocate for every attribute and every nest,
// while a table of tens of thousands of services is encoded and decoded
// here in reused buffers. The wire rules are the usual ones: a 4-byte
// header (length, type), the payload, padding to 4 bytes. Integers are in
// host order (binary.NativeEndian) except where the kernel says otherwise;
// the exceptions have the helpers below.

const (
	attrHeaderLen = 4
	// attrNested is NLA_F_NESTED. Requests set it on every nest, as current
	// netlink practice asks; the kernel accepts nests with or without it
	// and never sets it in replies, so the decoder ignores it.
	attrNested = 0x8000
	// attrTypeMask strips NLA_F_NESTED and NLA_F_NET_BYTEORDER.
	attrTypeMask = 0x3fff
)

// attrWriter appends attributes to a buffer.
type attrWriter struct{ b []byte }

func (w *attrWriter) header(typ uint16, n int) {
	w.b = binary.NativeEndian.AppendUint16(w.b, uint16(attrHeaderLen+n))
	w.b = binary.NativeEndian.AppendUint16(w.b, typ)
}

func (w *attrWriter) pad() {
	for len(w.b) != nlmsg.Align(len(w.b)) {
		w.b = append(w.b, 0)
	}
}

func (w *attrWriter) bytes(typ uint16, v []byte) {
	w.header(typ, len(v))
	w.b = append(w.b, v...)
	w.pad()
}

func (w *attrWriter) u8(typ uint16, v uint8) {
	w.header(typ, 1)
	w.b = append(w.b, v)
	w.pad()
}

func (w *attrWriter) u16(typ uint16, v uint16) {
	w.header(typ, 2)
	w.b = binary.NativeEndian.AppendUint16(w.b, v)
	w.pad()
}

// be16 writes a __be16: service, destination and tunnel ports.
func (w *attrWriter) be16(typ uint16, v uint16) {
	w.header(typ, 2)
	w.b = binary.BigEndian.AppendUint16(w.b, v)
	w.pad()
}

func (w *attrWriter) u32(typ uint16, v uint32) {
	w.header(typ, 4)
	w.b = binary.NativeEndian.AppendUint32(w.b, v)
}

// be32 writes a __be32: the IPv4 service netmask and IPv4 multicast group.
func (w *attrWriter) be32(typ uint16, v uint32) {
	w.header(typ, 4)
	w.b = binary.BigEndian.AppendUint32(w.b, v)
}

// str writes a NUL-terminated string (NLA_NUL_STRING).
func (w *attrWriter) str(typ uint16, s string) {
	w.header(typ, len(s)+1)
	w.b = append(w.b, s...)
	w.b = append(w.b, 0)
	w.pad()
}

// addr writes an address as the kernel's union nf_inet_addr prefix: 4
// bytes for IPv4, 16 for IPv6. Never the v4-mapped 16-byte form, which the
// kernel reads as 0.0.0.0 for an IPv4 service.
func (w *attrWriter) addr(typ uint16, a netip.Addr) {
	if a.Is4() {
		v := a.As4()
		w.bytes(typ, v[:])
		return
	}
	v := a.As16()
	w.bytes(typ, v[:])
}

// nest starts a nested attribute and returns the offset end needs.
func (w *attrWriter) nest(typ uint16) int {
	off := len(w.b)
	w.header(typ|attrNested, 0)
	return off
}

func (w *attrWriter) end(off int) {
	binary.NativeEndian.PutUint16(w.b[off:], uint16(len(w.b)-off))
}

// attrs iterates over the attributes in b without allocating. Malformed
// input stops the iteration with err set; callers check err after the loop.
type attrs struct {
	b []byte
	// off is where the next attribute starts in b, and start and end
	// bound the current one's payload: offsets, not slices, since moving
	// them then writes no pointer, which costs a write barrier while the
	// collector runs, in the loop every object's decoding spends its time.
	off, start, end int
	typ             uint16
	err             error
}

// data returns the current attribute's payload.
func (a *attrs) data() []byte { return a.b[a.start:a.end] }

func (a *attrs) next() bool {
	b := a.b[a.off:]
	if len(b) < attrHeaderLen {
		if len(b) != 0 {
			a.setErr(fmt.Errorf("%d trailing bytes are too short for an attribute", len(b)))
		}
		return false
	}
	l := int(binary.NativeEndian.Uint16(b))
	if l < attrHeaderLen || l > len(b) {
		a.setErr(fmt.Errorf("attribute type %d has length %d, with %d bytes left", binary.NativeEndian.Uint16(b[2:])&attrTypeMask, l, len(b)))
		return false
	}
	a.typ = binary.NativeEndian.Uint16(b[2:]) & attrTypeMask
	a.start, a.end = a.off+attrHeaderLen, a.off+l
	a.off += min(nlmsg.Align(l), len(b))
	return true
}

// setErr records the first error and ends the iteration: a getter's
// error stops next too, since it empties the input.
func (a *attrs) setErr(err error) {
	if a.err == nil {
		a.err = err
	}
	a.off = len(a.b)
}

// The getters below check the payload length of a known attribute and set
// err on a mismatch, naming the attribute.

// fixed returns the payload if it has n bytes, else nil with err set.
func (a *attrs) fixed(name string, n int) []byte {
	if a.end-a.start != n {
		if a.err == nil {
			a.setErr(fmt.Errorf("attribute %s has %d bytes, want %d", name, a.end-a.start, n))
		}
		return nil
	}
	return a.data()
}

func (a *attrs) u8(name string) uint8 {
	if v := a.fixed(name, 1); v != nil {
		return v[0]
	}
	return 0
}

func (a *attrs) u16(name string) uint16 {
	if v := a.fixed(name, 2); v != nil {
		return binary.NativeEndian.Uint16(v)
	}
	return 0
}

func (a *attrs) be16(name string) uint16 {
	if v := a.fixed(name, 2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (a *attrs) u32(name string) uint32 {
	if v := a.fixed(name, 4); v != nil {
		return binary.NativeEndian.Uint32(v)
	}
	return 0
}

func (a *attrs) u64(name string) uint64 {
	if v := a.fixed(name, 8); v != nil {
		return binary.NativeEndian.Uint64(v)
	}
	return 0
}

// str reads a NUL-terminated string, tolerating a missing NUL.
func (a *attrs) str() string { return string(nlmsg.CString(a.data())) }
