package ipvs

import (
	"fmt"
	"net/netip"

	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// The attribute rules that are IPVS's own, shared by its objects' codecs.
// The generic codec (headers, padding, the typed writers and the bounds-
// checked reader) is internal/nlmsg's; each object's layout is with its
// type, in service.go, destination.go, daemon.go, stats.go and
// timeouts.go.

// decodeNested finds the nest of type typ among the top-level attributes
// p of a reply and decodes its payload.
func decodeNested(p []byte, typ uint16, name string, decode func(b []byte) error) error {
	a := nlmsg.NewAttrReader(p)
	for a.Next() {
		if a.Type() == typ {
			return decode(a.Data())
		}
	}
	if a.Err() != nil {
		return a.Err()
	}
	return fmt.Errorf("reply has no %s attribute", name)
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
