package nlmsg

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// The attribute codec is our own rather than netlink.AttributeEncoder and
// AttributeDecoder: those allocate for every attribute and every nest,
// while a table of tens of thousands of services is encoded and decoded
// in reused buffers. The wire rules are the usual ones: a 4-byte header
// (length, type), the payload, padding to 4 bytes. Integers are in host
// order (binary.NativeEndian) except where the kernel says otherwise; the
// exceptions have the BE helpers below. Every method is small enough for
// the compiler to inline into the encoders and decoders that call it.

// Attribute header layout and flags (linux/netlink.h).
const (
	AttrHeaderLen = 4 // sizeof(struct nlattr)
	// AttrNested is NLA_F_NESTED. Requests set it on every nest, as
	// current netlink practice asks; kernels accept nests with or without
	// it and do not set it in the replies read here, so the reader
	// ignores it.
	AttrNested = 0x8000
	// AttrTypeMask strips NLA_F_NESTED and NLA_F_NET_BYTEORDER.
	AttrTypeMask = 0x3fff
)

// AttrWriter appends attributes to B.
type AttrWriter struct{ B []byte }

// Header writes the header of an attribute of type typ whose payload of
// n bytes the caller appends next, then pads with Pad.
func (w *AttrWriter) Header(typ uint16, n int) {
	w.B = binary.NativeEndian.AppendUint16(w.B, uint16(AttrHeaderLen+n))
	w.B = binary.NativeEndian.AppendUint16(w.B, typ)
}

// Pad pads B to the netlink alignment.
func (w *AttrWriter) Pad() {
	for len(w.B) != Align(len(w.B)) {
		w.B = append(w.B, 0)
	}
}

// Bytes writes an attribute with payload v.
func (w *AttrWriter) Bytes(typ uint16, v []byte) {
	w.Header(typ, len(v))
	w.B = append(w.B, v...)
	w.Pad()
}

// U8 writes a u8.
func (w *AttrWriter) U8(typ uint16, v uint8) {
	w.Header(typ, 1)
	w.B = append(w.B, v)
	w.Pad()
}

// U16 writes a host-order u16.
func (w *AttrWriter) U16(typ uint16, v uint16) {
	w.Header(typ, 2)
	w.B = binary.NativeEndian.AppendUint16(w.B, v)
	w.Pad()
}

// BE16 writes a __be16, as ports are.
func (w *AttrWriter) BE16(typ uint16, v uint16) {
	w.Header(typ, 2)
	w.B = binary.BigEndian.AppendUint16(w.B, v)
	w.Pad()
}

// U32 writes a host-order u32.
func (w *AttrWriter) U32(typ uint16, v uint32) {
	w.Header(typ, 4)
	w.B = binary.NativeEndian.AppendUint32(w.B, v)
}

// BE32 writes a __be32, as an IPv4 netmask or a conntrack ID is.
func (w *AttrWriter) BE32(typ uint16, v uint32) {
	w.Header(typ, 4)
	w.B = binary.BigEndian.AppendUint32(w.B, v)
}

// Str writes a NUL-terminated string (NLA_NUL_STRING).
func (w *AttrWriter) Str(typ uint16, s string) {
	w.Header(typ, len(s)+1)
	w.B = append(w.B, s...)
	w.B = append(w.B, 0)
	w.Pad()
}

// Addr writes an address as a prefix of union nf_inet_addr: 4 bytes for
// IPv4, 16 for IPv6. Never the v4-mapped 16-byte form, which IPVS reads
// as 0.0.0.0 for an IPv4 service.
func (w *AttrWriter) Addr(typ uint16, a netip.Addr) {
	if a.Is4() {
		v := a.As4()
		w.Bytes(typ, v[:])
		return
	}
	v := a.As16()
	w.Bytes(typ, v[:])
}

// Nest starts a nested attribute, flagged NLA_F_NESTED, and returns the
// offset End needs once its attributes are written.
func (w *AttrWriter) Nest(typ uint16) int {
	off := len(w.B)
	w.Header(typ|AttrNested, 0)
	return off
}

// End closes the nest that Nest started at off.
func (w *AttrWriter) End(off int) {
	binary.NativeEndian.PutUint16(w.B[off:], uint16(len(w.B)-off))
}

// AttrReader iterates over attributes without allocating. Malformed input
// stops the iteration with Err set; callers check Err after the loop:
//
//	a := nlmsg.NewAttrReader(b)
//	for a.Next() {
//		switch a.Type() { ... }
//	}
//	if err := a.Err(); err != nil { ... }
type AttrReader struct {
	b []byte
	// off is where the next attribute starts in b, and start and end
	// bound the current one's payload: offsets, not slices, since moving
	// them then writes no pointer, which costs a write barrier while the
	// collector runs, in the loop every object's decoding spends its time.
	off, start, end int
	typ             uint16
	err             error
}

// NewAttrReader returns a reader of the attributes in b.
func NewAttrReader(b []byte) AttrReader { return AttrReader{b: b} }

// Next moves to the next attribute, and reports whether there is one.
func (a *AttrReader) Next() bool {
	b := a.b[a.off:]
	if len(b) < AttrHeaderLen {
		if len(b) != 0 {
			a.setErr(fmt.Errorf("%d trailing bytes are too short for an attribute", len(b)))
		}
		return false
	}
	l := int(binary.NativeEndian.Uint16(b))
	if l < AttrHeaderLen || l > len(b) {
		a.setErr(fmt.Errorf("attribute type %d has length %d, with %d bytes left", binary.NativeEndian.Uint16(b[2:])&AttrTypeMask, l, len(b)))
		return false
	}
	a.typ = binary.NativeEndian.Uint16(b[2:]) & AttrTypeMask
	a.start, a.end = a.off+AttrHeaderLen, a.off+l
	a.off += min(Align(l), len(b))
	return true
}

// Type returns the current attribute's type, without the flag bits.
func (a *AttrReader) Type() uint16 { return a.typ }

// Data returns the current attribute's payload.
func (a *AttrReader) Data() []byte { return a.b[a.start:a.end] }

// Attr returns the current attribute, header and all.
func (a *AttrReader) Attr() []byte { return a.b[a.start-AttrHeaderLen : a.end] }

// Err returns the first error met: malformed input, or a getter's
// payload of the wrong length.
func (a *AttrReader) Err() error { return a.err }

// setErr records the first error and ends the iteration: a getter's
// error stops Next too, since it empties the input.
func (a *AttrReader) setErr(err error) {
	if a.err == nil {
		a.err = err
	}
	a.off = len(a.b)
}

// The getters below check the payload length of a known attribute and set
// Err on a mismatch, naming the attribute.

// Fixed returns the payload if it has n bytes, else nil with Err set.
func (a *AttrReader) Fixed(name string, n int) []byte {
	if a.end-a.start != n {
		if a.err == nil {
			a.setErr(fmt.Errorf("attribute %s has %d bytes, want %d", name, a.end-a.start, n))
		}
		return nil
	}
	return a.Data()
}

// U8 reads a u8.
func (a *AttrReader) U8(name string) uint8 {
	if v := a.Fixed(name, 1); v != nil {
		return v[0]
	}
	return 0
}

// U16 reads a host-order u16.
func (a *AttrReader) U16(name string) uint16 {
	if v := a.Fixed(name, 2); v != nil {
		return binary.NativeEndian.Uint16(v)
	}
	return 0
}

// BE16 reads a __be16.
func (a *AttrReader) BE16(name string) uint16 {
	if v := a.Fixed(name, 2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

// U32 reads a host-order u32.
func (a *AttrReader) U32(name string) uint32 {
	if v := a.Fixed(name, 4); v != nil {
		return binary.NativeEndian.Uint32(v)
	}
	return 0
}

// U64 reads a host-order u64.
func (a *AttrReader) U64(name string) uint64 {
	if v := a.Fixed(name, 8); v != nil {
		return binary.NativeEndian.Uint64(v)
	}
	return 0
}

// Str reads a NUL-terminated string, tolerating a missing NUL.
func (a *AttrReader) Str() string { return string(CString(a.Data())) }
