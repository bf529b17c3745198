package fakekernel

import (
	"encoding/binary"
	"net/netip"
	"syscall"

	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// The kernel's netlink attribute handling, reduced to what IPVS uses:
// liberal parsing (unknown types ignored, the last of duplicates wins,
// trailing garbage ignored), the policy checks of nla_validate, and the
// layout the kernel writes replies in.

const (
	attrHeaderLen = 4
	attrTypeMask  = 0x3fff // without NLA_F_NESTED and NLA_F_NET_BYTEORDER
)

// Attr is one attribute: its payload, and its offset from the start of
// the netlink message, which an extended ACK reports.
type Attr struct {
	Data []byte
	Off  int
}

// Attrs holds the attributes of one level, indexed by type.
type Attrs struct {
	A   [16]Attr
	set uint16 // bit t: A[t] is present
}

// ParseAttrs parses b, which starts at offset base of its message.
func ParseAttrs(b []byte, base int) Attrs {
	var as Attrs
	off := 0
	for len(b)-off >= attrHeaderLen {
		n := int(binary.NativeEndian.Uint16(b[off:]))
		if n < attrHeaderLen || n > len(b)-off {
			break
		}
		typ := int(binary.NativeEndian.Uint16(b[off+2:]) & attrTypeMask)
		if typ < len(as.A) {
			as.A[typ] = Attr{Data: b[off+attrHeaderLen : off+n], Off: base + off}
			as.set |= 1 << typ
		}
		off += align4(n)
	}
	return as
}

func align4(n int) int { return (n + 3) &^ 3 }

// Has reports whether attribute t is present.
func (as *Attrs) Has(t int) bool { return as.set&(1<<t) != 0 }

// Nested parses the attributes inside attribute t.
func (as *Attrs) Nested(t int) Attrs {
	if !as.Has(t) {
		return Attrs{}
	}
	return ParseAttrs(as.A[t].Data, as.A[t].Off+attrHeaderLen)
}

// U8 reads attribute t, a u8. It and the readers below trust the policy
// to have checked the length.
func (as *Attrs) U8(t int) uint8 { return as.A[t].Data[0] }

// U16 reads attribute t, a host-order u16.
func (as *Attrs) U16(t int) uint16 { return binary.NativeEndian.Uint16(as.A[t].Data) }

// BE16 reads attribute t, a __be16.
func (as *Attrs) BE16(t int) uint16 { return binary.BigEndian.Uint16(as.A[t].Data) }

// U32 reads attribute t, a host-order u32.
func (as *Attrs) U32(t int) uint32 { return binary.NativeEndian.Uint32(as.A[t].Data) }

// Str returns a NUL_STRING attribute up to its first NUL.
func (as *Attrs) Str(t int) string {
	d := as.A[t].Data
	for i, c := range d {
		if c == 0 {
			return string(d[:i])
		}
	}
	return string(d)
}

// Memcpy copies up to len(dst) bytes of attribute t into dst, zero
// filling the rest (nla_memcpy).
func (as *Attrs) Memcpy(t int, dst []byte) {
	clear(dst)
	copy(dst, as.A[t].Data)
}

// Policy is the kernel's nla_policy, reduced to the kinds IPVS uses.
type Policy struct {
	Kind int
	Len  int // the maximum length of strings and binaries
}

// The kinds of Policy.
const (
	PolNone = iota
	PolU8
	PolU16
	PolU32
	PolNulString
	PolBinary
	PolNested
)

// minLen is the shortest payload of each fixed-size kind.
var minLen = [...]int{PolU8: 1, PolU16: 2, PolU32: 4}

// Validate applies the policy pol to as, as nla_validate does in liberal
// mode. It returns the first offending attribute, and the errno.
func (as *Attrs) Validate(pol []Policy) (*Attr, syscall.Errno) {
	for t := range as.A {
		a := &as.A[t]
		if !as.Has(t) || t >= len(pol) {
			continue
		}
		p, n := pol[t], len(a.Data)
		switch p.Kind {
		case PolU8, PolU16, PolU32:
			if n < minLen[p.Kind] {
				return a, syscall.ERANGE
			}
		case PolNulString:
			m := n
			if p.Len > 0 {
				m = min(n, p.Len+1)
			}
			if m == 0 || indexNUL(a.Data[:m]) < 0 {
				return a, syscall.EINVAL
			}
			if n > 0 && a.Data[n-1] == 0 {
				n--
			}
			if p.Len > 0 && n > p.Len {
				return a, syscall.ERANGE
			}
		case PolBinary:
			if p.Len > 0 && n > p.Len {
				return a, syscall.ERANGE
			}
		case PolNested:
			if n != 0 && n < attrHeaderLen {
				return a, syscall.ERANGE
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

// Writer appends attributes in the kernel's layout: nlmsg's writer, whose
// bytes are the same as the kernel's (the golden requests and the replies
// captured from kernels pin both), with the kernel's own nests.
type Writer struct{ nlmsg.AttrWriter }

// U64 writes attribute t, a host-order u64.
func (w *Writer) U64(t uint16, v uint64) {
	w.Header(t, 8)
	w.B = binary.NativeEndian.AppendUint64(w.B, v)
}

// Nest writes a nest without NLA_F_NESTED, as the kernel's replies do.
func (w *Writer) Nest(t uint16, body func()) {
	off := len(w.B)
	w.Header(t, 0)
	body()
	w.End(off)
}

// Addr16 returns the 16 bytes of union nf_inet_addr that hold a.
func Addr16(a netip.Addr) [16]byte {
	var b [16]byte
	if a.Is4() {
		v := a.As4()
		copy(b[:], v[:])
	} else if a.IsValid() {
		b = a.As16()
	}
	return b
}
