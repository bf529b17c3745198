package ipvs

import (
	"errors"
	"syscall"
	"time"

	"github.com/cloudflare/ipvs/netmask"
	"github.com/mdlayher/netlink"

	lib "github.com/ipvs-go/ipvs"
)

// kernelError returns an error the kernel answered as cloudflare/ipvs
// returns it, a *netlink.OpError of the receive carrying the errno, so
// that programs that match its text ("file exists") or its type keep
// working. Other errors, such as the library's refusals of bad input, are
// returned as they are.
func kernelError(err error) error {
	if err == nil {
		return nil // without the allocation errors.As makes
	}
	var e *lib.Error
	if errors.As(err, &e) {
		if errno, ok := e.Err.(syscall.Errno); ok {
			return &netlink.OpError{Op: "receive", Err: errno, Message: e.Message}
		}
	}
	return err
}

// toService converts s to the library's Service. As cloudflare/ipvs sends
// it, a firewall-mark service carries no protocol, address or port, and
// the flags replace all of the service's.
func toService(s Service) lib.Service {
	out := lib.Service{
		Family:    lib.Family(s.Family),
		FWMark:    s.FWMark,
		Scheduler: s.Scheduler,
		Flags:     lib.ServiceFlags(s.Flags),
		Timeout:   time.Duration(s.Timeout) * time.Second,
	}
	if s.FWMark == 0 {
		out.Protocol, out.Address, out.Port = lib.Protocol(s.Protocol), s.Address, s.Port
	}
	switch {
	case s.Netmask.Is4():
		out.Netmask = lib.IPv4Mask([4]byte(s.Netmask.AsSlice()))
	case s.Netmask.Is6():
		out.Netmask = lib.PrefixMask(s.Netmask.Bits())
	}
	return out
}

// fromService converts a service the kernel reported.
func fromService(s *lib.Service) ServiceExtended {
	out := ServiceExtended{
		Service: Service{
			Address:   s.Address,
			Scheduler: s.Scheduler,
			Timeout:   uint32(s.Timeout / time.Second),
			Flags:     Flags(s.Flags),
			Port:      s.Port,
			FWMark:    s.FWMark,
			Family:    AddressFamily(s.Family),
			Protocol:  Protocol(s.Protocol),
		},
		Stats:   stats32(&s.Stats),
		Stats64: stats64(&s.Stats),
	}
	if s.Family == lib.FamilyIPv6 {
		out.Netmask = netmask.MaskFrom(s.Netmask.Bits(lib.FamilyIPv6), 128)
	} else {
		out.Netmask = netmask.MaskFrom4(s.Netmask.IPv4Mask())
	}
	return out
}

// toDestination converts d to the library's Destination.
func toDestination(d Destination) lib.Destination {
	return lib.Destination{
		Family:         lib.Family(d.Family),
		Address:        d.Address,
		Port:           d.Port,
		Forward:        lib.ForwardMethod(d.FwdMethod),
		Weight:         d.Weight,
		UpperThreshold: d.UpperThreshold,
		LowerThreshold: d.LowerThreshold,
		TunnelType:     lib.TunnelType(d.TunnelType),
		TunnelPort:     d.TunnelPort,
		TunnelFlags:    lib.TunnelFlags(d.TunnelFlags),
	}
}

// fromDestination converts a destination the kernel reported.
func fromDestination(d *lib.Destination) DestinationExtended {
	return DestinationExtended{
		Destination: Destination{
			Address:        d.Address,
			FwdMethod:      ForwardType(d.Forward),
			Weight:         d.Weight,
			UpperThreshold: d.UpperThreshold,
			LowerThreshold: d.LowerThreshold,
			Port:           d.Port,
			Family:         AddressFamily(d.Family),
			TunnelType:     TunnelType(d.TunnelType),
			TunnelPort:     d.TunnelPort,
			TunnelFlags:    TunnelFlags(d.TunnelFlags),
		},
		ActiveConnections:     d.ActiveConnections,
		InactiveConnections:   d.InactiveConnections,
		PersistentConnections: d.PersistentConnections,
		Stats:                 stats32(&d.Stats),
		Stats64:               stats64(&d.Stats),
	}
}

// stats64 converts the counters whole, as the kernel's STATS64 has them.
func stats64(s *lib.Stats) Stats {
	return Stats{
		Connections:        s.Connections,
		IncomingPackets:    s.InPackets,
		OutgoingPackets:    s.OutPackets,
		IncomingBytes:      s.InBytes,
		OutgoingBytes:      s.OutBytes,
		ConnectionRate:     s.ConnectionRate,
		IncomingPacketRate: s.InPacketRate,
		OutgoingPacketRate: s.OutPacketRate,
		IncomingByteRate:   s.InByteRate,
		OutgoingByteRate:   s.OutByteRate,
	}
}

// stats32 narrows the counters to the widths of the kernel's STATS
// attribute, which holds the same counters: all but the byte counts wrap
// at 2^32.
func stats32(s *lib.Stats) Stats {
	out := stats64(s)
	for _, v := range []*uint64{&out.Connections, &out.IncomingPackets, &out.OutgoingPackets, &out.ConnectionRate,
		&out.IncomingPacketRate, &out.OutgoingPacketRate, &out.IncomingByteRate, &out.OutgoingByteRate} {
		*v = uint64(uint32(*v))
	}
	return out
}
