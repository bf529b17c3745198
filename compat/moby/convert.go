package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"syscall"
	"time"

	lib "github.com/ipvs-go/ipvs"
)

// kernelError returns the bare errno of an error the kernel answered,
// as moby/ipvs does: programs compare it with == (err != syscall.EEXIST)
// and match its text ("file exists"). Other errors, such as the
// library's refusals of bad input, are returned as they are.
func kernelError(err error) error {
	if err == nil {
		return nil // without the allocation errors.As makes
	}
	var e *lib.Error
	if errors.As(err, &e) {
		if errno, ok := e.Err.(syscall.Errno); ok {
			return errno
		}
	}
	return err
}

// errNilService is the error of a method given a nil *Service, which
// moby/ipvs dereferences and panics on.
var errNilService = &lib.InvalidError{Field: "service", Reason: "is nil"}

// errNilDestination is errNilService's counterpart for destinations.
var errNilDestination = &lib.InvalidError{Field: "destination", Reason: "is nil"}

// addrOf converts an address as moby/ipvs sends it: an IPv4 address in
// its 4-byte form, even when given in the 16-byte one net.ParseIP makes.
func addrOf(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

// familyOf returns the family of s: its AddressFamily, or its address's.
func familyOf(s *Service, addr netip.Addr) lib.Family {
	switch {
	case s.AddressFamily != 0 || !addr.IsValid():
		return lib.Family(s.AddressFamily)
	case addr.Is4():
		return lib.FamilyIPv4
	}
	return lib.FamilyIPv6
}

// toService converts s to the library's Service. As moby/ipvs sends it, a
// firewall-mark service carries no protocol, address or port, and the
// flags replace all of the service's.
func toService(s *Service) (lib.Service, error) {
	if s == nil {
		return lib.Service{}, errNilService
	}
	out := lib.Service{
		FWMark:            s.FWMark,
		Scheduler:         s.SchedName,
		PersistenceEngine: s.PEName,
		Flags:             lib.ServiceFlags(s.Flags),
		Timeout:           time.Duration(s.Timeout) * time.Second,
	}
	var addr netip.Addr
	if s.FWMark == 0 {
		addr = addrOf(s.Address)
		out.Protocol, out.Address, out.Port = lib.Protocol(s.Protocol), addr, s.Port
	}
	out.Family = familyOf(s, addr)
	if out.Family == lib.FamilyIPv6 {
		out.Netmask = lib.PrefixMask(int(s.Netmask))
	} else {
		// The kernel reads the IPv4 mask as the bytes of the uint32 in
		// host order, which is what moby/ipvs sends.
		var m [4]byte
		binary.NativeEndian.PutUint32(m[:], s.Netmask)
		out.Netmask = lib.IPv4Mask(m)
	}
	return out, nil
}

// fromService converts a service the kernel reported into out, its
// address into ip, which has room for it.
func fromService(s *lib.Service, out *Service, ip []byte) {
	*out = Service{
		Protocol:      uint16(s.Protocol),
		Port:          s.Port,
		FWMark:        s.FWMark,
		SchedName:     s.Scheduler,
		Flags:         uint32(s.Flags),
		Timeout:       uint32(s.Timeout / time.Second),
		AddressFamily: uint16(s.Family),
		PEName:        s.PersistenceEngine,
		Stats:         fromStats(&s.Stats),
	}
	if s.Address.IsValid() {
		out.Address = net.IP(append(ip[:0:len(ip)], s.Address.AsSlice()...))
	}
	if s.Family == lib.FamilyIPv6 {
		out.Netmask = uint32(s.Netmask.Bits(lib.FamilyIPv6))
	} else {
		m := s.Netmask.IPv4Mask()
		out.Netmask = binary.NativeEndian.Uint32(m[:])
	}
}

// fromServices converts the services the kernel listed, sharing their
// allocations as fromDestinations does.
func fromServices(svcs []lib.Service) []*Service {
	if len(svcs) == 0 {
		return nil
	}
	out := make([]*Service, len(svcs))
	backing := make([]Service, len(svcs))
	ips := make([]byte, 16*len(svcs))
	for k := range svcs {
		fromService(&svcs[k], &backing[k], ips[16*k:16*k+16])
		out[k] = &backing[k]
	}
	return out
}

// toDestination converts d to the library's Destination, refusing a
// weight the kernel would refuse, which the conversion would otherwise
// wrap.
func toDestination(d *Destination) (lib.Destination, error) {
	if d == nil {
		return lib.Destination{}, errNilDestination
	}
	if d.Weight < 0 || d.Weight > math.MaxInt32 {
		return lib.Destination{}, &lib.InvalidError{Field: "destination weight", Reason: fmt.Sprintf("%d is outside 0..%d", d.Weight, math.MaxInt32)}
	}
	return lib.Destination{
		Address:        addrOf(d.Address),
		Port:           d.Port,
		Forward:        lib.ForwardMethod(d.ConnectionFlags & ConnectionFlagFwdMask),
		Weight:         uint32(d.Weight),
		UpperThreshold: d.UpperThreshold,
		LowerThreshold: d.LowerThreshold,
	}, nil
}

// fromDestinations converts the destinations the kernel reported, with
// their whole 32-bit weights. A table's worth of them is converted in a
// walk, so they share their allocations: one array of Destinations and
// one of address bytes per call.
func fromDestinations(ds []lib.Destination) []*Destination {
	if len(ds) == 0 {
		return nil
	}
	out := make([]*Destination, len(ds))
	backing := make([]Destination, len(ds))
	ips := make([]byte, 0, 16*len(ds))
	for k := range ds {
		d := &ds[k]
		var ip net.IP
		if d.Address.IsValid() {
			ips = append(ips, d.Address.AsSlice()...)
			ip = net.IP(ips[len(ips)-d.Address.BitLen()/8 : len(ips) : len(ips)])
		}
		backing[k] = Destination{
			Address:             ip,
			Port:                d.Port,
			Weight:              int(d.Weight),
			ConnectionFlags:     uint32(d.Forward),
			AddressFamily:       uint16(d.Family),
			UpperThreshold:      d.UpperThreshold,
			LowerThreshold:      d.LowerThreshold,
			ActiveConnections:   int(d.ActiveConnections),
			InactiveConnections: int(d.InactiveConnections),
			Stats:               DstStats(fromStats(&d.Stats)),
		}
		out[k] = &backing[k]
	}
	return out
}

// fromStats narrows the counters to the widths of the kernel's 32-bit
// STATS attribute, which moby/ipvs reads: the same values it would see.
func fromStats(s *lib.Stats) SvcStats {
	return SvcStats{
		Connections: uint32(s.Connections),
		PacketsIn:   uint32(s.InPackets),
		PacketsOut:  uint32(s.OutPackets),
		BytesIn:     s.InBytes,
		BytesOut:    s.OutBytes,
		CPS:         uint32(s.ConnectionRate),
		BPSOut:      uint32(s.OutByteRate),
		PPSIn:       uint32(s.InPacketRate),
		PPSOut:      uint32(s.OutPacketRate),
		BPSIn:       uint32(s.InByteRate),
	}
}
