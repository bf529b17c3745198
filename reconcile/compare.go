package reconcile

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/ipvs-go/ipvs"
)

// serviceKey is the identity of a service, as the kernel looks it up: a
// firewall mark with its family, or a protocol, address and port. It holds
// no pointer, so that maps hash it fast.
type serviceKey struct {
	addr     [16]byte
	fwmark   uint32
	port     uint16
	protocol ipvs.Protocol
	family   ipvs.Family
}

// destKey is the identity of a destination within its service.
type destKey struct {
	addr [16]byte
	port uint16
}

// familyOf is the family an address implies, or 0 for none.
func familyOf(a netip.Addr) ipvs.Family {
	switch {
	case !a.IsValid():
		return 0
	case a.Unmap().Is4():
		return ipvs.FamilyIPv4
	}
	return ipvs.FamilyIPv6
}

// normService returns svc as the kernel reads it back: its family filled
// in, an IPv4 address in 4 bytes, no kernel-set or read-only fields, a
// whole number of seconds and the full-length netmask as the zero one.
func normService(svc ipvs.Service) ipvs.Service {
	if svc.Family == 0 {
		svc.Family = familyOf(svc.Address)
	}
	if svc.Family == ipvs.FamilyIPv4 {
		svc.Address = svc.Address.Unmap()
	}
	svc.Flags &^= ipvs.FlagHashed
	svc.FlagsMask = 0
	svc.Timeout = svc.Timeout.Truncate(time.Second)
	full := 32
	if svc.Family == ipvs.FamilyIPv6 {
		full = 128
	}
	if svc.Netmask.Bits(svc.Family) == full {
		svc.Netmask = ipvs.Netmask{}
	}
	svc.Stats = ipvs.Stats{}
	return svc
}

// normDest returns dst as the kernel reads it back in service svc (already
// normalized): family filled in, the service's port for a zero port of a
// non-fwmark service, tunnel fields only for tunnels, no read-only fields.
// The connection counts are kept: the planner needs them.
func normDest(svc ipvs.Service, dst ipvs.Destination) ipvs.Destination {
	if dst.Family == 0 {
		dst.Family = familyOf(dst.Address)
		if dst.Family == 0 {
			dst.Family = svc.Family
		}
	}
	if dst.Family == ipvs.FamilyIPv4 {
		dst.Address = dst.Address.Unmap()
	}
	if dst.Port == 0 && svc.FWMark == 0 {
		dst.Port = svc.Port
	}
	if dst.Forward != ipvs.ForwardTunnel {
		dst.TunnelType, dst.TunnelPort, dst.TunnelFlags = 0, 0, 0
	}
	dst.Stats = ipvs.Stats{}
	return dst
}

// keyOf returns the identity of svc, normalized.
func keyOf(svc ipvs.Service) serviceKey {
	if svc.FWMark != 0 {
		return serviceKey{family: svc.Family, fwmark: svc.FWMark}
	}
	return serviceKey{family: svc.Family, protocol: svc.Protocol, addr: svc.Address.As16(), port: svc.Port}
}

// destKeyOf returns the identity of dst, normalized.
func destKeyOf(dst ipvs.Destination) destKey { return destKey{dst.Address.As16(), dst.Port} }

// destKeyIn returns the identity of dst in service svc (normalized), as
// destKeyOf(normDest(svc, dst)) does, without copying dst. An IPv4
// address's 16-byte form is the same mapped or not.
func destKeyIn(svc *ipvs.Service, dst *ipvs.Destination) destKey {
	k := destKey{dst.Address.As16(), dst.Port}
	if k.port == 0 && svc.FWMark == 0 {
		k.port = svc.Port
	}
	return k
}

// diffService describes how the settings of normalized services a and b
// differ, or returns "" when they are the same.
func diffService(a, b ipvs.Service) string {
	var d differ
	field(&d, "scheduler", a.Scheduler, b.Scheduler)
	field(&d, "persistence engine", a.PersistenceEngine, b.PersistenceEngine)
	field(&d, "flags", a.Flags, b.Flags)
	field(&d, "timeout", a.Timeout, b.Timeout)
	field(&d, "netmask", a.Netmask, b.Netmask)
	return d.String()
}

// diffDest describes how the settings of normalized destinations a and b
// differ, or returns "" when they are the same. Connection counts are not
// settings.
func diffDest(a, b *ipvs.Destination) string {
	if sameDest(a, b) {
		return ""
	}
	var d differ
	field(&d, "family", a.Family, b.Family)
	field(&d, "forward", a.Forward, b.Forward)
	field(&d, "weight", a.Weight, b.Weight)
	field(&d, "upper threshold", a.UpperThreshold, b.UpperThreshold)
	field(&d, "lower threshold", a.LowerThreshold, b.LowerThreshold)
	field(&d, "tunnel type", a.TunnelType, b.TunnelType)
	field(&d, "tunnel port", a.TunnelPort, b.TunnelPort)
	field(&d, "tunnel flags", a.TunnelFlags, b.TunnelFlags)
	return d.String()
}

// sameDest reports whether normalized destinations a and b have the same
// settings: diffDest's fast path, as most are.
func sameDest(a, b *ipvs.Destination) bool {
	return a.Family == b.Family && a.Forward == b.Forward && a.Weight == b.Weight &&
		a.UpperThreshold == b.UpperThreshold && a.LowerThreshold == b.LowerThreshold &&
		a.TunnelType == b.TunnelType && a.TunnelPort == b.TunnelPort && a.TunnelFlags == b.TunnelFlags
}

// sameDestIn reports what sameDest does of destinations a and b of
// service svc once normalized, without copying them: a sync compares
// every destination of the table, and a copy of one (with its service, by
// normDest) costs more than the comparison.
func sameDestIn(svc *ipvs.Service, a, b *ipvs.Destination) bool {
	if destFamily(svc, a) != destFamily(svc, b) || a.Forward != b.Forward || a.Weight != b.Weight ||
		a.UpperThreshold != b.UpperThreshold || a.LowerThreshold != b.LowerThreshold {
		return false
	}
	return a.Forward != ipvs.ForwardTunnel ||
		a.TunnelType == b.TunnelType && a.TunnelPort == b.TunnelPort && a.TunnelFlags == b.TunnelFlags
}

// destFamily is the family normDest gives d in service svc.
func destFamily(svc *ipvs.Service, d *ipvs.Destination) ipvs.Family {
	if d.Family != 0 {
		return d.Family
	}
	if f := familyOf(d.Address); f != 0 {
		return f
	}
	return svc.Family
}

// differ collects "field a -> b" descriptions.
type differ struct{ parts []string }

// field adds the description of a field whose values a and b differ;
// strings are quoted.
func field[T comparable](d *differ, name string, a, b T) {
	if a == b {
		return
	}
	format := "%s %v -> %v"
	if _, ok := any(a).(string); ok {
		format = "%s %q -> %q"
	}
	d.parts = append(d.parts, fmt.Sprintf(format, name, a, b))
}

func (d *differ) String() string { return strings.Join(d.parts, ", ") }
