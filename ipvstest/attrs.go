package ipvstest

import (
	"encoding/binary"
	"net/netip"
)

// The kernel's netlink attribute handling, reduced to what IPVS uses:
// liberal parsing (unknown types ignored, the last of duplicates wins,
// trailing garbage ignored) and the policy checks of nla_validate.

const (
	attrHeaderLen = 4
	attrTypeMask  = 0x3fff // without NLA_F_NESTED and NLA_F_NET_BYTEORDER
)

// attr is one attribute: its payload, and its offset from the start of
// the netlink message, which an extended ACK reports.
type attr struct {
	data []byte
	off  int
}

// attrs holds the attributes of one level, indexed by type.
type attrs struct {
	a   [16]attr
	set uint16 // bit t: a[t] is present
}

// parseAttrs parses b, which starts at offset base of its message.
func parseAttrs(b []byte, base int) attrs {
	var as attrs
	off := 0
	for len(b)-off >= attrHeaderLen {
		n := int(binary.NativeEndian.Uint16(b[off:]))
		if n < attrHeaderLen || n > len(b)-off {
			break
		}
		typ := int(binary.NativeEndian.Uint16(b[off+2:]) & attrTypeMask)
		if typ < len(as.a) {
			as.a[typ] = attr{data: b[off+attrHeaderLen : off+n], off: base + off}
			as.set |= 1 << typ
		}
		off += align4(n)
	}
	return as
}

func align4(n int) int { return (n + 3) &^ 3 }

func (as *attrs) has(t int) bool { return as.set&(1<<t) != 0 }

// nested parses the attributes inside attribute t.
func (as *attrs) nested(t int) attrs {
	if !as.has(t) {
		return attrs{}
	}
	return parseAttrs(as.a[t].data, as.a[t].off+attrHeaderLen)
}

func (as *attrs) u8(t int) uint8 { return as.a[t].data[0] }
func (as *attrs) u16(t int) uint16 {
	return binary.NativeEndian.Uint16(as.a[t].data)
}
func (as *attrs) be16(t int) uint16 { return binary.BigEndian.Uint16(as.a[t].data) }
func (as *attrs) u32(t int) uint32 {
	return binary.NativeEndian.Uint32(as.a[t].data)
}

// str returns a NUL_STRING attribute up to its first NUL.
func (as *attrs) str(t int) string {
	d := as.a[t].data
	for i, c := range d {
		if c == 0 {
			return string(d[:i])
		}
	}
	return string(d)
}

// memcpy copies up to len(dst) bytes of attribute t into dst, zero
// filling the rest (nla_memcpy).
func (as *attrs) memcpy(t int, dst []byte) {
	clear(dst)
	copy(dst, as.a[t].data)
}

// policy is the kernel's nla_policy, reduced to the kinds IPVS uses.
type policy struct {
	kind int
	len  int // the maximum length of strings and binaries
}

const (
	polNone = iota
	polU8
	polU16
	polU32
	polNulString
	polBinary
	polNested
)

// minLen is the shortest payload of each fixed-size kind.
var minLen = [...]int{polU8: 1, polU16: 2, polU32: 4}

// validate applies the policy pol to as, as nla_validate does in liberal
// mode. It returns the first offending attribute, and the errno.
func (as *attrs) validate(pol []policy) (*attr, errno) {
	for t := range as.a {
		a := &as.a[t]
		if !as.has(t) || t >= len(pol) {
			continue
		}
		p, n := pol[t], len(a.data)
		switch p.kind {
		case polU8, polU16, polU32:
			if n < minLen[p.kind] {
				return a, eRANGE
			}
		case polNulString:
			m := n
			if p.len > 0 {
				m = min(n, p.len+1)
			}
			if m == 0 || indexNUL(a.data[:m]) < 0 {
				return a, eINVAL
			}
			if n > 0 && a.data[n-1] == 0 {
				n--
			}
			if p.len > 0 && n > p.len {
				return a, eRANGE
			}
		case polBinary:
			if p.len > 0 && n > p.len {
				return a, eRANGE
			}
		case polNested:
			if n != 0 && n < attrHeaderLen {
				return a, eRANGE
			}
		}
	}
	return nil, 0
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// writer appends attributes in the kernel's layout.
type writer struct{ b []byte }

func (w *writer) header(t uint16, n int) {
	w.b = binary.NativeEndian.AppendUint16(w.b, uint16(attrHeaderLen+n))
	w.b = binary.NativeEndian.AppendUint16(w.b, t)
}

func (w *writer) pad() {
	for len(w.b)%4 != 0 {
		w.b = append(w.b, 0)
	}
}

func (w *writer) bytes(t uint16, v []byte) {
	w.header(t, len(v))
	w.b = append(w.b, v...)
	w.pad()
}

func (w *writer) u8(t uint16, v uint8) { w.bytes(t, []byte{v}) }
func (w *writer) u16(t uint16, v uint16) {
	w.bytes(t, binary.NativeEndian.AppendUint16(nil, v))
}
func (w *writer) be16(t uint16, v uint16) {
	w.bytes(t, binary.BigEndian.AppendUint16(nil, v))
}
func (w *writer) u32(t uint16, v uint32) {
	w.header(t, 4)
	w.b = binary.NativeEndian.AppendUint32(w.b, v)
}
func (w *writer) u64(t uint16, v uint64) {
	w.header(t, 8)
	w.b = binary.NativeEndian.AppendUint64(w.b, v)
}
func (w *writer) str(t uint16, s string) {
	w.header(t, len(s)+1)
	w.b = append(w.b, s...)
	w.b = append(w.b, 0)
	w.pad()
}

// nest writes a nest without NLA_F_NESTED, as the kernel's replies do.
func (w *writer) nest(t uint16, body func()) {
	off := len(w.b)
	w.header(t, 0)
	body()
	binary.NativeEndian.PutUint16(w.b[off:], uint16(len(w.b)-off))
}

// addr16 returns the 16 bytes of union nf_inet_addr that hold a.
func addr16(a netip.Addr) [16]byte {
	var b [16]byte
	if a.Is4() {
		v := a.As4()
		copy(b[:], v[:])
	} else if a.IsValid() {
		b = a.As16()
	}
	return b
}
