// Package netmask is a drop-in for github.com/cloudflare/ipvs/netmask: a
// comparable value that holds an IPv4 mask (contiguous or not) or an IPv6
// prefix length, as an IPVS service's persistence netmask.
package netmask

import (
	"encoding"
	"encoding/binary"
	"errors"
	"math/bits"
	"strconv"
	"strings"
)

// Mask is an IPv4 netmask or an IPv6 prefix length. It is comparable and
// immutable. The zero Mask is invalid: it belongs to no family.
type Mask struct {
	// mask is the IPv4 mask as a big-endian uint32 of its bytes, or the
	// IPv6 prefix length.
	mask uint32
	// z is the family: z0 (the zero Mask), z4 or z6. The field names and
	// values are the ones cloudflare/ipvs's tests construct Masks with.
	z int8
}

const (
	z0 int8 = iota
	z4
	z6
)

var (
	_ encoding.BinaryAppender = Mask{}
	_ encoding.TextAppender   = Mask{}
)

// MaskFrom4 returns the IPv4 mask of the given bytes, contiguous or not.
func MaskFrom4(mask [4]byte) Mask {
	return Mask{mask: binary.BigEndian.Uint32(mask[:]), z: z4}
}

// MaskFrom16 returns the IPv6 prefix whose mask is given, or the zero Mask
// if the mask is not a run of ones followed by zeros.
func MaskFrom16(mask [16]byte) Mask {
	n := prefixLen(mask[:])
	if n < 0 {
		return Mask{}
	}
	return Mask{mask: uint32(n), z: z6}
}

// MaskFromSlice returns the mask of a 4-byte slice (IPv4) or 16-byte one
// (IPv6, as MaskFrom16), such as a net.IPMask. For another length it
// returns the zero Mask and false.
func MaskFromSlice(mask []byte) (Mask, bool) {
	switch len(mask) {
	case 4:
		return MaskFrom4([4]byte(mask)), true
	case 16:
		return MaskFrom16([16]byte(mask)), true
	}
	return Mask{}, false
}

// MaskFrom returns the mask of ones leading one bits out of bits (32 for
// IPv4, 128 for IPv6), or the zero Mask for other values.
func MaskFrom(ones, bits int) Mask {
	if ones < 0 || ones > bits {
		return Mask{}
	}
	switch bits {
	case 32:
		return Mask{mask: leadingOnes32(ones), z: z4}
	case 128:
		return Mask{mask: uint32(ones), z: z6}
	}
	return Mask{}
}

// leadingOnes32 returns a uint32 whose n leading bits are set.
func leadingOnes32(n int) uint32 {
	if n == 0 {
		return 0
	}
	return ^uint32(0) << (32 - n)
}

// prefixLen returns the number of leading one bits of b, or -1 if a one
// follows a zero.
func prefixLen(b []byte) int {
	n := 0
	for i, v := range b {
		if v == 0xFF {
			n += 8
			continue
		}
		ones := bits.LeadingZeros8(^v)
		if v<<ones != 0 {
			return -1
		}
		for _, rest := range b[i+1:] {
			if rest != 0 {
				return -1
			}
		}
		return n + ones
	}
	return n
}

// AsSlice returns the mask as bytes: 4 for IPv4, 16 for IPv6, nil for the
// zero Mask.
func (mask Mask) AsSlice() []byte {
	switch mask.z {
	case z4:
		return binary.BigEndian.AppendUint32(nil, mask.mask)
	case z6:
		b := make([]byte, 16)
		n := int(mask.mask)
		for i := range b {
			take := min(max(n-8*i, 0), 8)
			b[i] = byte(uint16(0xFF00) >> take)
		}
		return b
	}
	return nil
}

// IsValid reports whether the Mask is not the zero Mask. A non-contiguous
// IPv4 mask is valid.
func (mask Mask) IsValid() bool { return mask.z != z0 }

// Is4 reports whether the Mask is an IPv4 mask.
func (mask Mask) Is4() bool { return mask.z == z4 }

// Is6 reports whether the Mask is an IPv6 prefix.
func (mask Mask) Is6() bool { return mask.z == z6 }

// Bits returns the prefix length, or -1 for the zero Mask and for an IPv4
// mask that is not contiguous.
func (mask Mask) Bits() int {
	switch mask.z {
	case z4:
		return prefixLen(mask.AsSlice())
	case z6:
		return int(mask.mask)
	}
	return -1
}

// AppendBinary implements encoding.BinaryAppender: it appends nothing for
// the zero Mask, the 4 bytes of an IPv4 mask, or a byte of prefix length.
func (mask Mask) AppendBinary(b []byte) ([]byte, error) {
	switch mask.z {
	case z4:
		return binary.BigEndian.AppendUint32(b, mask.mask), nil
	case z6:
		return append(b, byte(mask.mask)), nil
	}
	return b, nil
}

// MarshalBinary implements encoding.BinaryMarshaler, in AppendBinary's
// form.
func (mask Mask) MarshalBinary() ([]byte, error) {
	return mask.AppendBinary(make([]byte, 0, 4))
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler for the form of
// MarshalBinary.
func (mask *Mask) UnmarshalBinary(b []byte) error {
	switch len(b) {
	case 0:
		*mask = Mask{}
	case 1:
		*mask = MaskFrom(int(b[0]), 128)
	case 4:
		*mask = MaskFrom4([4]byte(b))
	default:
		return errors.New("unexpected slice size")
	}
	return nil
}

// AppendText implements encoding.TextAppender: nothing for the zero Mask,
// a dotted quad for IPv4, the decimal prefix length for IPv6.
func (mask Mask) AppendText(b []byte) ([]byte, error) {
	switch mask.z {
	case z4:
		for i := range 4 {
			if i > 0 {
				b = append(b, '.')
			}
			b = strconv.AppendUint(b, uint64(byte(mask.mask>>(24-8*i))), 10)
		}
	case z6:
		b = strconv.AppendUint(b, uint64(mask.mask), 10)
	}
	return b, nil
}

// MarshalText implements encoding.TextMarshaler: String's form, but empty
// for the zero Mask.
func (mask Mask) MarshalText() ([]byte, error) {
	return mask.AppendText(make([]byte, 0, len("255.255.255.255")))
}

// UnmarshalText implements encoding.TextUnmarshaler for the form of
// MarshalText: empty, a prefix length of 1 to 3 digits, or a dotted quad.
func (mask *Mask) UnmarshalText(text []byte) error {
	s := string(text)
	switch n := len(s); {
	case n == 0:
		*mask = Mask{}
		return nil
	case n <= 3:
		ones, err := strconv.ParseUint(s, 10, 8)
		if err != nil {
			return err
		}
		*mask = MaskFrom(int(ones), 128)
		return nil
	case n < len("0.0.0.0") || n > len("255.255.255.255"):
		return errors.New("unexpected slice size")
	}
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return errors.New("unexpected slice type")
	}
	var m [4]byte
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 10, 8)
		if err != nil {
			return err
		}
		m[i] = byte(v)
	}
	*mask = MaskFrom4(m)
	return nil
}

// String returns "invalid Mask" for the zero Mask, a dotted quad such as
// "255.255.255.0" for IPv4, and the prefix length such as "64" for IPv6.
func (mask Mask) String() string {
	if mask.z == z0 {
		return "invalid Mask"
	}
	b, _ := mask.AppendText(nil)
	return string(b)
}

// Equal reports whether mask and other are the same Mask.
func (mask Mask) Equal(other Mask) bool { return mask == other }
