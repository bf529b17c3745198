package ipvs

import (
	"fmt"
	"net/netip"
	"time"
)

// ServiceKey is what identifies a virtual service to the kernel: a
// Protocol, Address and Port, or a firewall mark (FWMark) with its
// Family. It is comparable, so that it serves as a map key, and
// canonical: two Services name the same kernel service exactly when their
// Keys are equal (when they are valid; Service.Validate says). Make it
// with Service.Key.
type ServiceKey struct {
	Family   Family
	Protocol Protocol
	Address  netip.Addr
	Port     uint16
	FWMark   uint32
}

// Key returns the identity of the service, as the kernel reads it back:
//   - a zero Family is the family of Address; an IPv4-mapped IPv6 address
//     (::ffff:10.0.0.1, the form net.IP gives IPv4 addresses) is IPv4,
//     unless Family says FamilyIPv6;
//   - an IPv4 Address is in its 4-byte form, and an IPv6 one has no zone.
//
// Every method of Client that names a service, and the packages reconcile
// and ipvstest, identify services by their Key.
func (s Service) Key() ServiceKey { return s.key() }

// key is Key without copying the service, for the paths that encode
// thousands of them.
func (s *Service) key() ServiceKey {
	f := addrFamily(s.Family, s.Address)
	return ServiceKey{Family: f, Protocol: s.Protocol, Address: inFamily(f, s.Address).WithZone(""), Port: s.Port, FWMark: s.FWMark}
}

// String names the service as ipvsadm lists it: "tcp 10.0.0.1:80",
// "udp [2001:db8::1]:53" or "fwmark 7 ipv4".
func (k ServiceKey) String() string {
	if k.FWMark != 0 {
		return fmt.Sprintf("fwmark %d %s", k.FWMark, k.Family)
	}
	return k.Protocol.String() + " " + netip.AddrPortFrom(k.Address, k.Port).String()
}

// String names the service as ipvsadm lists it, by its Key.
func (s Service) String() string { return s.key().String() }

// Canonical returns s as the kernel reads it back once created: its
// identity fields as Key has them, FlagHashed and FlagsMask cleared (the
// kernel sets the one on every service and reports no mask, so a
// canonical Flags is the whole set of flags), Timeout in whole seconds,
// and a full-length Netmask (/32, /128) as the zero one. A service whose
// family is not known keeps its Netmask.
//
// Stats are kept: they are read-only, reported by the kernel and never
// sent. Clear them to compare a desired service with one read back.
func (s Service) Canonical() Service {
	k := s.key()
	c := s
	c.Family, c.Protocol, c.Address, c.Port, c.FWMark = k.Family, k.Protocol, k.Address, k.Port, k.FWMark
	c.Flags &^= FlagHashed
	c.FlagsMask = 0
	c.Timeout = c.Timeout.Truncate(time.Second)
	if (k.Family == FamilyIPv4 || k.Family == FamilyIPv6) && c.Netmask.check(k.Family) == nil {
		c.Netmask = netmaskFromWire(k.Family, c.Netmask.wire(k.Family))
	}
	return c
}

// destKey is what identifies a destination within its service.
type destKey struct {
	family Family
	addr   netip.Addr
	port   uint16
}

// Key returns the identity of the destination within the service svc
// identifies: its address, canonical as in Service.Key (so its family
// is the address's: 4 bytes for IPv4, 16 for IPv6), and its port, which
// for a Port of 0 in a service that is not a fwmark service is the
// service's port, as the kernel stores it.
func (d Destination) Key(svc ServiceKey) netip.AddrPort {
	port := d.Port
	if port == 0 && svc.FWMark == 0 {
		port = svc.Port
	}
	// A table holds thousands of destinations, most with a plain IPv4
	// address, which needs neither of addrFamily's and inFamily's rules.
	a := d.Address
	if !a.Is4() || d.Family != 0 && d.Family != FamilyIPv4 {
		a = inFamily(addrFamily(d.Family, a), a).WithZone("")
	}
	return netip.AddrPortFrom(a, port)
}

// key is Key with the family kept apart, which requests send; it does not
// copy the destination.
func (d *Destination) key(svc ServiceKey) destKey {
	f := addrFamily(d.Family, d.Address)
	port := d.Port
	if port == 0 && svc.FWMark == 0 {
		port = svc.Port
	}
	return destKey{family: f, addr: inFamily(f, d.Address), port: port}
}

// String returns the destination's address and port, as "10.0.0.2:80" or
// "[2001:db8::2]:80"; a Port of 0 stays 0, since it names no service.
func (d Destination) String() string { return d.key(ServiceKey{}).String() }

func (k destKey) String() string { return netip.AddrPortFrom(k.addr, k.port).String() }

// Canonical returns d as the kernel reads it back as a destination of
// the service svc identifies: Family, Address and Port as Key has them (a
// destination whose family its address does not tell has the service's,
// as the kernel defaults it), and the tunnel fields zero unless Forward
// is ForwardTunnel, since they are sent only for tunnels.
//
// The read-only fields, the connection counts and Stats, are kept.
func (d Destination) Canonical(svc ServiceKey) Destination {
	k := d.key(svc)
	c := d
	c.Family, c.Address, c.Port = k.family, k.addr.WithZone(""), k.port
	if c.Family == 0 {
		c.Family = svc.Family
	}
	if c.Forward != ForwardTunnel {
		c.TunnelType, c.TunnelPort, c.TunnelFlags = 0, 0, 0
	}
	return c
}
