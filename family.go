package ipvs

import (
	"fmt"
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

// decodeAddr interprets a union nf_inet_addr for the given family. The
// kernel sends all 16 bytes in replies, and uses only the first 4 for
// IPv4; requests may carry only those 4.
func decodeAddr(f Family, b []byte) (netip.Addr, error) {
	switch {
	case f == FamilyIPv4 && len(b) >= 4 && len(b) <= 16:
		return netip.AddrFrom4([4]byte(b[:4])), nil
	case f == FamilyIPv6 && len(b) == 16:
		return netip.AddrFrom16([16]byte(b)), nil
	case f != FamilyIPv4 && f != FamilyIPv6:
		return netip.Addr{}, fmt.Errorf("address of unknown family %s", f)
	}
	return netip.Addr{}, fmt.Errorf("%s address has %d bytes", f, len(b))
}
