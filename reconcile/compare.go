package reconcile

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/ipvs-go/ipvs"
)

// Services and destinations are compared as the kernel reads them back:
// by package ipvs's identity (Service.Key, Destination.Key) and in its
// canonical forms (Canonical), without their counters, which are no
// settings.

// canonService returns svc in canonical form without its counters: what
// a plan compares, and what its changes report.
func canonService(svc ipvs.Service) ipvs.Service {
	svc = svc.Canonical()
	svc.Stats = ipvs.Stats{}
	return svc
}

// canonDest returns dst in canonical form as a destination of the
// service svc identifies, without its counters; the connection counts are
// kept, since the planner needs them.
func canonDest(svc ipvs.ServiceKey, dst ipvs.Destination) ipvs.Destination {
	dst = dst.Canonical(svc)
	dst.Stats = ipvs.Stats{}
	return dst
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

// sameDestIn reports what sameDest does of destinations a and b, whose
// key in the service svc identifies is k, once made canonical, without
// copying them: a sync compares every destination of the table, and a
// copy of one costs more than the comparison.
func sameDestIn(svc ipvs.ServiceKey, k netip.AddrPort, a, b *ipvs.Destination) bool {
	if destFamily(svc, k, a) != destFamily(svc, k, b) || a.Forward != b.Forward || a.Weight != b.Weight ||
		a.UpperThreshold != b.UpperThreshold || a.LowerThreshold != b.LowerThreshold {
		return false
	}
	return a.Forward != ipvs.ForwardTunnel ||
		a.TunnelType == b.TunnelType && a.TunnelPort == b.TunnelPort && a.TunnelFlags == b.TunnelFlags
}

// destFamily is the family Canonical gives d, whose key is k, in the
// service svc identifies: its own, else its key's address's, else the
// service's.
func destFamily(svc ipvs.ServiceKey, k netip.AddrPort, d *ipvs.Destination) ipvs.Family {
	switch {
	case d.Family != 0:
		return d.Family
	case k.Addr().Is4():
		return ipvs.FamilyIPv4
	case k.Addr().IsValid():
		return ipvs.FamilyIPv6
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
