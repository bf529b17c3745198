package reconcile

import (
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/ipvs-go/ipvs"
)

// randomTable returns a random valid desired table drawn from a small
// space, so that successive tables overlap: services of both families and
// every protocol, fwmark ones, persistence, every forwarding method.
func randomTable(rng *rand.Rand) []ipvs.VirtualServer {
	var out []ipvs.VirtualServer
	seen := map[ipvs.ServiceKey]bool{}
	for range rng.IntN(8) {
		svc := randomService(rng)
		if k := svc.Key(); !seen[k] {
			seen[k] = true
			out = append(out, ipvs.VirtualServer{Service: svc, Destinations: randomDests(rng, svc)})
		}
	}
	return out
}

func randomService(rng *rand.Rand) ipvs.Service {
	six := rng.IntN(3) == 0
	svc := ipvs.Service{Scheduler: []string{"rr", "wlc", "sh"}[rng.IntN(3)]}
	if rng.IntN(5) == 0 {
		svc.Family, svc.FWMark = ipvs.FamilyIPv4, uint32(1+rng.IntN(3))
		if six {
			svc.Family = ipvs.FamilyIPv6
		}
	} else {
		svc.Protocol = []ipvs.Protocol{ipvs.ProtocolTCP, ipvs.ProtocolUDP, ipvs.ProtocolSCTP}[rng.IntN(3)]
		svc.Address = randomAddr(rng, six, 1)
		svc.Port = uint16(80 + rng.IntN(2))
	}
	if rng.IntN(3) == 0 {
		svc.Flags = ipvs.FlagPersistent
		svc.Timeout = time.Duration(1+rng.IntN(600)) * time.Second
		if !six && rng.IntN(2) == 0 {
			svc.Netmask = ipvs.PrefixMask(24)
		}
	}
	if rng.IntN(4) == 0 {
		svc.Flags |= ipvs.FlagSHPort
	}
	return svc
}

func randomDests(rng *rand.Rand, svc ipvs.Service) []ipvs.Destination {
	var out []ipvs.Destination
	seen := map[netip.AddrPort]bool{}
	six := svc.Family == ipvs.FamilyIPv6 || svc.Address.Is6()
	for range rng.IntN(6) {
		d := ipvs.Destination{
			Address: randomAddr(rng, six, 2),
			Port:    uint16(rng.IntN(3)) * 8080, // 0: the service's
			Forward: []ipvs.ForwardMethod{ipvs.ForwardMasquerade, ipvs.ForwardDirectRoute, ipvs.ForwardTunnel}[rng.IntN(3)],
			Weight:  uint32(rng.IntN(4)),
		}
		if svc.FWMark != 0 && d.Port == 0 {
			d.Port = 8080
		}
		if d.Forward == ipvs.ForwardTunnel && rng.IntN(2) == 0 {
			d.TunnelType, d.TunnelPort = ipvs.TunnelGUE, 6080
		}
		if rng.IntN(4) == 0 {
			d.UpperThreshold, d.LowerThreshold = 100, uint32(rng.IntN(100))
		}
		if k := d.Key(svc.Key()); !seen[k] {
			seen[k] = true
			out = append(out, d)
		}
	}
	return out
}

// randomAddr returns one of a few addresses of net 10.net.0.0/16 or its
// IPv6 counterpart.
func randomAddr(rng *rand.Rand, six bool, net byte) netip.Addr {
	host := byte(1 + rng.IntN(4))
	if six {
		return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: net<<4 | host})
	}
	return netip.AddrFrom4([4]byte{10, net, 0, host})
}
