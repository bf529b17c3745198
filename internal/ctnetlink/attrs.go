package ctnetlink

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// The few attribute rules ctnetlink needs: a 4-byte header (length,
// type), the payload, padding to 4 bytes; integers in host order unless
// the kernel says big-endian (__be16 ports, __be32 IDs). The package ipvs
// has the full codec for IPVS's attributes; this one is the flush's
// subset, kept here so that the package stands alone.

const (
	attrHeaderLen = 4
	attrNested    = 0x8000 // NLA_F_NESTED, set on every nest of a request
	attrTypeMask  = 0x3fff // strips NLA_F_NESTED and NLA_F_NET_BYTEORDER
)

// writer appends attributes to a buffer.
type writer struct{ b []byte }

func (w *writer) header(typ uint16, n int) {
	w.b = binary.NativeEndian.AppendUint16(w.b, uint16(attrHeaderLen+n))
	w.b = binary.NativeEndian.AppendUint16(w.b, typ)
}

func (w *writer) pad() {
	for len(w.b) != nlmsg.Align(len(w.b)) {
		w.b = append(w.b, 0)
	}
}

func (w *writer) bytes(typ uint16, v []byte) {
	w.header(typ, len(v))
	w.b = append(w.b, v...)
	w.pad()
}

func (w *writer) u8(typ uint16, v uint8) {
	w.header(typ, 1)
	w.b = append(w.b, v)
	w.pad()
}

// be16 writes a __be16: ports.
func (w *writer) be16(typ uint16, v uint16) {
	w.header(typ, 2)
	w.b = binary.BigEndian.AppendUint16(w.b, v)
	w.pad()
}

func (w *writer) u32(typ uint16, v uint32) {
	w.header(typ, 4)
	w.b = binary.NativeEndian.AppendUint32(w.b, v)
}

// addr writes an address in its 4-byte form for IPv4, 16 for IPv6.
func (w *writer) addr(typ uint16, a netip.Addr) {
	if a.Is4() {
		v := a.As4()
		w.bytes(typ, v[:])
		return
	}
	v := a.As16()
	w.bytes(typ, v[:])
}

// nest starts a nested attribute and returns the offset end needs.
func (w *writer) nest(typ uint16) int {
	off := len(w.b)
	w.header(typ|attrNested, 0)
	return off
}

func (w *writer) end(off int) {
	binary.NativeEndian.PutUint16(w.b[off:], uint16(len(w.b)-off))
}

// attrs iterates over the attributes in b without allocating. Malformed
// input stops the iteration with err set; callers check err after the loop.
type attrs struct {
	b               []byte
	off, start, end int // the next attribute; the current one's payload
	typ             uint16
	err             error
}

// data returns the current attribute's payload.
func (a *attrs) data() []byte { return a.b[a.start:a.end] }

// whole returns the current attribute, header and all.
func (a *attrs) whole() []byte { return a.b[a.start-attrHeaderLen : a.end] }

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

// setErr records the first error and ends the iteration.
func (a *attrs) setErr(err error) {
	if a.err == nil {
		a.err = err
	}
	a.off = len(a.b)
}

// fixed returns the payload if it has n bytes, else nil with err set,
// naming the attribute.
func (a *attrs) fixed(name string, n int) []byte {
	if a.end-a.start != n {
		a.setErr(fmt.Errorf("attribute %s has %d bytes, want %d", name, a.end-a.start, n))
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
