package config

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ipvs-go/ipvs"
)

// The parsers of single fields, each reporting its own problems.

// checkDestFamily checks that a destination's family is its service's,
// unless it tunnels.
func checkDestFamily(r *report, path string, svc *ipvs.Service, d *ipvs.Destination) {
	if !d.Address.IsValid() || svc.Family == 0 {
		return
	}
	if f := familyOf(d.Address); f != svc.Family && d.Forward != ipvs.ForwardTunnel {
		r.addf(join(path, "address"), "%s is %s and the virtual server %s: only a tunnelled (TUN) real server may differ", d.Address, f, svc.Family)
	}
}

// portOr returns p, or def if p is 0.
func portOr(p, def uint16) uint16 {
	if p == 0 {
		return def
	}
	return p
}

// weight returns a weight as given, or 1.
func weight(r *report, path string, w *uint32) uint32 {
	if w == nil {
		return 1
	}
	if *w > math.MaxInt32 {
		r.addf(path, "%d is more than %d", *w, math.MaxInt32)
	}
	return *w
}

// familyOf is the IPVS family of an address.
func familyOf(a netip.Addr) ipvs.Family {
	if a.Is4() {
		return ipvs.FamilyIPv4
	}
	return ipvs.FamilyIPv6
}

// address parses an address that IPVS can use.
func address(r *report, path, s, what string) netip.Addr {
	if s == "" {
		r.addf(path, "is required")
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		r.addf(path, "%q is not an IP address", s)
		return netip.Addr{}
	case a.Zone() != "":
		r.addf(path, "%q has a zone, which IPVS does not keep", s)
	case a.Is4In6():
		r.addf(path, "%q is an IPv4-mapped IPv6 address: write %s", s, a.Unmap())
	case a.IsUnspecified(), a.IsMulticast(), a == netip.IPv4Unspecified(), a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		r.addf(path, "%s can not be a %s", a, what)
	}
	return a.Unmap()
}

// protocol parses a protocol; "" is TCP.
func protocol(r *report, path, s string) ipvs.Protocol {
	switch strings.ToUpper(s) {
	case "", "TCP":
		return ipvs.ProtocolTCP
	case "UDP":
		return ipvs.ProtocolUDP
	case "SCTP":
		return ipvs.ProtocolSCTP
	}
	r.addf(path, "%q is not a protocol: want TCP, UDP or SCTP", s)
	return ipvs.ProtocolTCP
}

// schedulerFlags turns flag names into flags.
func schedulerFlags(r *report, path string, names []string, scheduler string) ipvs.ServiceFlags {
	var out ipvs.ServiceFlags
	for i, n := range names {
		fpath := fmt.Sprintf("%s[%d]", path, i)
		var f ipvs.ServiceFlags
		switch n {
		case "flag-1":
			f = ipvs.FlagSched1
		case "flag-2":
			f = ipvs.FlagSched2
		case "flag-3":
			f = ipvs.FlagSched3
		case "sh-fallback", "mh-fallback":
			f = ipvs.FlagSHFallback
		case "sh-port", "mh-port":
			f = ipvs.FlagSHPort
		default:
			r.addf(fpath, "%q is not a scheduler flag: want flag-1, flag-2, flag-3, sh-fallback, sh-port, mh-fallback or mh-port", n)
			continue
		}
		if prefix, _, named := strings.Cut(n, "-"); named && prefix != "flag" && prefix != scheduler {
			r.addf(fpath, "%s applies to the %s scheduler, and this one is %s", n, prefix, scheduler)
		}
		out |= f
	}
	return out
}

// granularity parses a persistence mask: an IPv4 mask or a prefix length.
func granularity(r *report, path, s string, f ipvs.Family) ipvs.Netmask {
	if n, err := strconv.Atoi(s); err == nil {
		max := 32
		if f == ipvs.FamilyIPv6 {
			max = 128
		}
		if n < 1 || n > max {
			r.addf(path, "%d is not a prefix length from 1 to %d", n, max)
		}
		return ipvs.PrefixMask(n)
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		r.addf(path, "%q is not a netmask: want such as 255.255.255.0, or a prefix length", s)
		return ipvs.Netmask{}
	}
	if f == ipvs.FamilyIPv6 {
		r.addf(path, "%s is an IPv4 mask, and the virtual server is IPv6: give a prefix length", s)
	}
	return ipvs.IPv4Mask(a.As4())
}

// forwarding returns def with the forwarding method of fw applied.
func forwarding(r *report, path string, fw Forwarding, def ipvs.Destination) ipvs.Destination {
	if fw == (Forwarding{}) {
		return def
	}
	d := def
	switch strings.ToUpper(fw.Method) {
	case "":
	case "NAT":
		d.Forward = ipvs.ForwardMasquerade
	case "DR":
		d.Forward = ipvs.ForwardDirectRoute
	case "TUN":
		d.Forward = ipvs.ForwardTunnel
	default:
		r.addf(join(path, "lvs_method"), "%q is not a forwarding method: want NAT, DR or TUN", fw.Method)
	}
	tunnelled := fw.TunnelType != "" || fw.TunnelPort != 0 || fw.TunnelChecksum != ""
	if d.Forward != ipvs.ForwardTunnel {
		if tunnelled {
			r.addf(join(path, "tunnel_type"), "tunnel settings apply to lvs_method TUN")
		}
		return d
	}
	d.TunnelType, d.TunnelFlags = ipvs.TunnelIPIP, 0
	switch fw.TunnelType {
	case "", "ipip":
	case "gue":
		d.TunnelType = ipvs.TunnelGUE
	case "gre":
		d.TunnelType = ipvs.TunnelGRE
	default:
		r.addf(join(path, "tunnel_type"), "%q is not a tunnel type: want ipip, gue or gre", fw.TunnelType)
	}
	d.TunnelPort = fw.TunnelPort
	switch {
	case d.TunnelType == ipvs.TunnelGUE && d.TunnelPort == 0:
		r.addf(join(path, "tunnel_port"), "is required for a gue tunnel")
	case d.TunnelType != ipvs.TunnelGUE && d.TunnelPort != 0:
		r.addf(join(path, "tunnel_port"), "applies to gue tunnels")
	}
	switch fw.TunnelChecksum {
	case "", "nocsum":
	case "csum":
		d.TunnelFlags = ipvs.TunnelChecksum
	case "remcsum":
		d.TunnelFlags = ipvs.TunnelRemoteChecksum
		if d.TunnelType != ipvs.TunnelGUE {
			r.addf(join(path, "tunnel_checksum"), "remcsum applies to gue tunnels")
		}
	default:
		r.addf(join(path, "tunnel_checksum"), "%q is not a checksum option: want nocsum, csum or remcsum", fw.TunnelChecksum)
	}
	if d.TunnelFlags != 0 && d.TunnelType == ipvs.TunnelIPIP {
		r.addf(join(path, "tunnel_checksum"), "applies to gue and gre tunnels")
	}
	return d
}
