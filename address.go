package ipvs

import (
	"encoding/binary"
	"math"
	"math/bits"
	"net/netip"
	"strconv"
)

// Family is an address family: of a service, a destination or a
// multicast group.
type Family uint16

// Possible Family values.
const (
	FamilyIPv4 Family = 2  // AF_INET
	FamilyIPv6 Family = 10 // AF_INET6
)

// String returns "ipv4", "ipv6" or the number of an unknown family.
func (f Family) String() string {
	switch f {
	case FamilyIPv4:
		return "ipv4"
	case FamilyIPv6:
		return "ipv6"
	}
	return "family(" + strconv.Itoa(int(f)) + ")"
}

// Protocol is the transport protocol of a virtual service.
type Protocol uint16

// Possible Protocol values: the ones IPVS can balance.
const (
	ProtocolTCP  Protocol = 6   // IPPROTO_TCP
	ProtocolUDP  Protocol = 17  // IPPROTO_UDP
	ProtocolSCTP Protocol = 132 // IPPROTO_SCTP
)

// String returns "tcp", "udp", "sctp" or the number of another protocol.
func (p Protocol) String() string {
	switch p {
	case ProtocolTCP:
		return "tcp"
	case ProtocolUDP:
		return "udp"
	case ProtocolSCTP:
		return "sctp"
	}
	return "proto(" + strconv.Itoa(int(p)) + ")"
}

// addrFamily returns f, or when f is zero the family of a. An
// IPv4-mapped IPv6 address (::ffff:a.b.c.d) is IPv4 here, and this is
// the one place that decides it, for every caller: the client's requests,
// Key and Canonical, and through them reconcile, ipvsctl and the
// exporter. The reasons:
//   - Go hands IPv4 addresses around in that form: net.ParseIP and
//     net.IPv4 make 16-byte values, and netip.AddrFromSlice keeps them
//     mapped, so a program that converts a net.IP passes a mapped address
//     without meaning IPv6;
//   - an IPv6 service on a mapped address never matches a packet: the
//     kernel looks IPv4 traffic up among AF_INET services only, so taking
//     it as IPv6 would create a service that silently balances nothing.
//
// A caller who does mean IPv6 says so with FamilyIPv6, which is kept.
func addrFamily(f Family, a netip.Addr) Family {
	if f != 0 || !a.IsValid() {
		return f
	}
	if a.Is4() || a.Is4In6() {
		return FamilyIPv4
	}
	return FamilyIPv6
}

// inFamily returns a as family f sends it, and as the kernel reads it
// back: an IPv4 address in its 4-byte form, whichever form it was given
// in. (An IPv6 address's zone, which the kernel has no place for, the
// keys drop; requests never send it.)
func inFamily(f Family, a netip.Addr) netip.Addr {
	if f == FamilyIPv4 {
		return a.Unmap()
	}
	return a
}

// checkAddrFamily checks that the address of field is valid for family f,
// which must be ipv4 or ipv6.
func checkAddrFamily(field string, f Family, a netip.Addr) error {
	switch {
	case f != FamilyIPv4 && f != FamilyIPv6:
		return invalidf(field+" family", "%s is not ipv4 or ipv6", f)
	case f == FamilyIPv4 && !a.Unmap().Is4(), f == FamilyIPv6 && a.Is4():
		return invalidf(field+" address", "%s does not match family %s", a, f)
	}
	return nil
}

// Netmask is the granularity of a persistent service: clients whose
// addresses agree under the mask share a destination. The kernel wants a
// 32-bit mask for IPv4 services and a prefix length for IPv6 ones; the
// encoder writes each as it must.
//
// The zero Netmask means the full length of the service's family (/32 or
// /128), which is also what ipvsadm uses unless told otherwise; a
// full-length mask is always read back as the zero Netmask. An IPv4 mask
// need not be contiguous (ipvsadm -M 255.0.255.0 sets one): such a mask is
// kept as the kernel stores it, so that a service read and written back
// is left unchanged.
type Netmask struct {
	// prefix is the prefix length plus one, so that the zero value is
	// "full"; mask, when not zero, is a non-contiguous IPv4 mask instead.
	prefix uint8
	mask   uint32
}

// PrefixMask returns the Netmask of a prefix length: 0 to 32 for IPv4
// services, 1 to 128 for IPv6 ones. Other lengths are kept (a negative one
// as -1, a large one as 253) so that the client's refusal names them.
func PrefixMask(bits int) Netmask {
	if bits < 0 {
		return Netmask{prefix: netmaskNegative}
	}
	return Netmask{prefix: uint8(min(bits, netmaskNegative-2) + 1)}
}

// netmaskNegative marks a Netmask made from a negative prefix length.
const netmaskNegative = math.MaxUint8

// IPv4Mask returns the Netmask of an IPv4 mask, such as 255.255.255.0 or
// the non-contiguous 255.0.255.0. A contiguous mask is the same Netmask
// as PrefixMask of its length, and an all-ones mask is the zero Netmask.
func IPv4Mask(mask [4]byte) Netmask {
	return netmaskFromWire(FamilyIPv4, binary.BigEndian.Uint32(mask[:]))
}

// IPv4Mask returns the mask of an IPv4 service.
func (m Netmask) IPv4Mask() [4]byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], m.wire(FamilyIPv4))
	return b
}

// Bits returns the prefix length for a service of family f. For a
// non-contiguous IPv4 mask it is the length of its leading run of ones.
func (m Netmask) Bits(f Family) int {
	switch {
	case m.mask != 0:
		return bits.LeadingZeros32(^m.mask)
	case m.prefix == 0 && f == FamilyIPv6:
		return 128
	case m.prefix == 0:
		return 32
	case m.prefix == netmaskNegative:
		return -1
	}
	return int(m.prefix) - 1
}

// String returns "/N", the mask of a non-contiguous IPv4 mask such as
// "255.0.255.0", or "full" for the zero Netmask.
func (m Netmask) String() string {
	switch {
	case m.mask != 0:
		return netip.AddrFrom4(m.IPv4Mask()).String()
	case m.prefix == 0:
		return "full"
	}
	return "/" + strconv.Itoa(m.Bits(0))
}

// check refuses a Netmask the kernel would refuse or mangle for a service
// of family f.
func (m Netmask) check(f Family) error {
	n := m.Bits(f)
	switch {
	case f == FamilyIPv6 && m.mask != 0:
		return invalidf("service netmask", "%s is an ipv4 mask, and the service is ipv6", m)
	case f == FamilyIPv6 && (n < 1 || n > 128):
		return invalidf("service netmask", "prefix length %d is outside 1..128 for ipv6", n)
	case f == FamilyIPv4 && (n < 0 || n > 32):
		return invalidf("service netmask", "prefix length %d is outside 0..32 for ipv4", n)
	}
	return nil
}

// wire returns the NETMASK attribute value for family f: the mask itself
// (to be sent big-endian) for IPv4, the prefix length for IPv6.
func (m Netmask) wire(f Family) uint32 {
	if m.mask != 0 {
		return m.mask
	}
	n := m.Bits(f)
	if f == FamilyIPv6 {
		return uint32(n)
	}
	if n <= 0 {
		return 0
	}
	return math.MaxUint32 << (32 - n)
}

// netmaskFromWire is the inverse of wire. A full-length mask reads as the
// zero Netmask, for either family, so that equal masks compare equal.
func netmaskFromWire(f Family, v uint32) Netmask {
	if f == FamilyIPv6 {
		if v >= 128 {
			return Netmask{}
		}
		return Netmask{prefix: uint8(v) + 1}
	}
	ones := bits.LeadingZeros32(^v)
	switch {
	case v == math.MaxUint32:
		return Netmask{}
	case ones == 32-bits.TrailingZeros32(v) || v == 0:
		return Netmask{prefix: uint8(ones) + 1}
	}
	return Netmask{mask: v}
}
