package text

import (
	"encoding/binary"
	"net/netip"

	"github.com/ipvs-go/ipvs"
)

// Family numbers as libipvs compares them (AF_INET, AF_INET6).
func afNumber(f ipvs.Family, a netip.Addr) int {
	if f == 0 {
		if a.Is4() {
			f = ipvs.FamilyIPv4
		} else {
			f = ipvs.FamilyIPv6
		}
	}
	return int(f)
}

// words returns an address as libipvs holds it: four 32-bit words in host
// order of their network bytes, IPv4 in the first.
func words(a netip.Addr) [4]uint32 {
	var w [4]uint32
	if a.Is4() {
		b := a.As4()
		w[0] = binary.BigEndian.Uint32(b[:])
		return w
	}
	if !a.IsValid() {
		return w
	}
	b := a.As16()
	for i := range w {
		w[i] = binary.BigEndian.Uint32(b[4*i:])
	}
	return w
}

// cmpAddr compares as libipvs does, by the difference of unsigned words
// taken as a signed int: it wraps, so 10.0.0.1 sorts after 192.168.0.1,
// and ipvsadm's order must be reproduced with it.
func cmpAddr(v6 bool, a, b netip.Addr) int {
	wa, wb := words(a), words(b)
	if !v6 {
		return int(int32(wa[0] - wb[0]))
	}
	for i := range wa {
		if r := int(int32(wa[i] - wb[i])); r != 0 {
			return r
		}
	}
	return 0
}

// cmpServices is libipvs's ipvs_cmp_services.
func cmpServices(a, b *ipvs.VirtualServer) int {
	if r := int(int32(a.FWMark - b.FWMark)); r != 0 {
		return r
	}
	afa, afb := afNumber(a.Family, a.Address), afNumber(b.Family, b.Address)
	if r := afa - afb; r != 0 {
		return r
	}
	if r := int(a.Protocol) - int(b.Protocol); r != 0 {
		return r
	}
	if r := cmpAddr(afa == int(ipvs.FamilyIPv6), a.Address, b.Address); r != 0 {
		return r
	}
	return int(a.Port) - int(b.Port)
}

// cmpDests is libipvs's ipvs_cmp_dests: the first one's family decides how
// many words are compared.
func cmpDests(a, b *ipvs.Destination) int {
	if r := cmpAddr(!a.Address.Is4(), a.Address, b.Address); r != 0 {
		return r
	}
	return int(a.Port) - int(b.Port)
}

// mergeSort sorts as glibc's qsort (a top-down merge sort, first half
// smaller, ties to the left), which matters because libipvs's comparisons
// are not transitive.
func mergeSort[T any](s []T, cmp func(a, b *T) int) {
	if len(s) < 2 {
		return
	}
	tmp := make([]T, len(s))
	msort(s, tmp, cmp)
}

func msort[T any](s, tmp []T, cmp func(a, b *T) int) {
	n := len(s)
	if n <= 1 {
		return
	}
	n1 := n / 2
	b1, b2 := s[:n1], s[n1:]
	msort(b1, tmp, cmp)
	msort(b2, tmp, cmp)
	out := tmp[:0]
	i, j := 0, 0
	for i < len(b1) && j < len(b2) {
		if cmp(&b1[i], &b2[j]) <= 0 {
			out = append(out, b1[i])
			i++
		} else {
			out = append(out, b2[j])
			j++
		}
	}
	out = append(out, b1[i:]...)
	copy(s, out)
}
