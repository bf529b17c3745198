package ipvstest

import (
	"encoding/binary"
	"net/netip"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/internal/ipvsh"
)

// The model's table, with the kernel's semantics (net/netfilter/ipvs/
// ip_vs_ctl.c and ip_vs_sync.c). Its methods run with Fake.mu held, as
// the kernel's run under __ip_vs_mutex, and return the kernel's errnos.

// svcKey identifies a service as the kernel's hash tables do. IPv4
// addresses keep only their first 4 bytes, as ip_vs_addr_copy does.
type svcKey struct {
	af     uint16
	proto  uint16
	addr   [16]byte
	port   uint16 // host order
	fwmark uint32
}

type service struct {
	key     svcKey
	sched   string // "none" for no scheduler, as the kernel names it
	pe      string
	flags   uint32
	timeout uint32  // jiffies, in 32 bits as the kernel stores it
	netmask [4]byte // as sent: a network-order mask, or an IPv6 prefix length in host order
	stats   ipvs.Stats
	dests   []*dest // oldest first; dumps list them newest first
}

type destKey struct {
	af   uint16
	addr [16]byte
	port uint16
}

type dest struct {
	key                       destKey
	fwd, weight               uint32
	uthresh, lthresh          uint32
	tunType                   uint8
	tunPort, tunFlags         uint16
	active, inactive, persist uint32
	stats                     ipvs.Stats
}

type daemon struct {
	ifname  string
	syncID  uint32
	maxLen  uint16
	groupAF uint16
	group   [16]byte
	port    uint16
	ttl     uint8
}

// table is one network namespace's IPVS.
type table struct {
	svcs  map[svcKey]*service
	order []*service // the services without a firewall mark, by creation
	fwm   []*service // the firewall-mark ones, which dumps list last
	mixed int        // destinations whose family is not their service's

	master, backup *daemon
	// Connection timeouts in jiffies, as ip_vs_set_timeout stores them.
	tcp, tcpFin, udp int64
	totals           ipvs.Stats
}

func newTable(hz int64) *table {
	return &table{svcs: map[svcKey]*service{}, tcp: 900 * hz, tcpFin: 120 * hz, udp: 300 * hz}
}

// addService is ip_vs_add_service, after the checks of the caller.
func (f *Fake) addService(u *userService) errno {
	if e := f.checkService(u); e != 0 {
		return e
	}
	s := &service{key: u.key}
	f.setService(s, u)
	s.flags = u.flags&^ipvsh.SvcFHashed | ipvsh.SvcFHashed
	f.t.svcs[s.key] = s
	if s.key.fwmark != 0 {
		f.t.fwm = append(f.t.fwm, s)
	} else {
		f.t.order = append(f.t.order, s)
	}
	return 0
}

// checkService holds the checks ip_vs_add_service and ip_vs_edit_service
// share, in their order.
func (f *Fake) checkService(u *userService) errno {
	if u.sched != "none" && !f.schedulers[u.sched] {
		return eNOENT
	}
	if u.pe != "" && !f.engines[u.pe] {
		return eNOENT
	}
	if u.key.af == ipvsh.AFInet6 {
		if plen := nativeU32(u.netmask); plen < 1 || plen > 128 {
			return eINVAL
		}
	}
	return 0
}

func (f *Fake) setService(s *service, u *userService) {
	s.sched, s.pe, s.netmask = u.sched, u.pe, u.netmask
	s.timeout = u.timeout * uint32(f.hz) // wraps in 32 bits, as the kernel's does
}

// editService is ip_vs_edit_service.
func (f *Fake) editService(s *service, u *userService) errno {
	if e := f.checkService(u); e != 0 {
		return e
	}
	f.setService(s, u)
	s.flags = u.flags | ipvsh.SvcFHashed
	return 0
}

func (t *table) delService(s *service) {
	delete(t.svcs, s.key)
	for _, d := range s.dests {
		if d.key.af != s.key.af {
			t.mixed--
		}
	}
	list := &t.order
	if s.key.fwmark != 0 {
		list = &t.fwm
	}
	for i, o := range *list {
		if o == s {
			*list = append((*list)[:i], (*list)[i+1:]...)
			break
		}
	}
}

func (t *table) flush() {
	clear(t.svcs)
	t.order, t.fwm, t.mixed = nil, nil, 0
}

func (s *service) findDest(k destKey) (int, *dest) {
	for i, d := range s.dests {
		if d.key == k {
			return i, d
		}
	}
	return -1, nil
}

// checkDest holds the checks ip_vs_add_dest and ip_vs_edit_dest share.
// Linux 5.10 has no limit on the upper threshold; 6.1 and later do.
func (f *Fake) checkDest(u *userDest) errno {
	if int32(u.weight) < 0 {
		return eRANGE
	}
	if u.lthresh > u.uthresh {
		return eRANGE
	}
	if u.uthresh > 1<<31-1 && f.kernel >= kernelVersion(6, 1) {
		return eINVAL
	}
	if u.tunType == ipvsh.TunnelTypeGUE && u.tunPort == 0 {
		return eINVAL
	}
	return 0
}

// addDest is ip_vs_add_dest and ip_vs_new_dest.
func (f *Fake) addDest(s *service, u *userDest) errno {
	t := f.t
	if e := f.checkDest(u); e != 0 {
		return e
	}
	if _, d := s.findDest(u.key); d != nil {
		return eEXIST
	}
	if !usableDest(u.key) {
		return eINVAL
	}
	d := &dest{key: u.key}
	d.update(u)
	s.dests = append(s.dests, d)
	if d.key.af != s.key.af {
		t.mixed++
	}
	return 0
}

func (d *dest) update(u *userDest) {
	d.fwd, d.weight, d.uthresh, d.lthresh = u.fwd, u.weight, u.uthresh, u.lthresh
	d.tunType, d.tunPort, d.tunFlags = u.tunType, u.tunPort, u.tunFlags
}

// usableDest is the address check of ip_vs_new_dest, for a fresh
// namespace with lo up: an IPv4 address must route as unicast or local,
// an IPv6 one must be unicast and not link-local unless it is local.
func usableDest(k destKey) bool {
	if k.af == ipvsh.AFInet {
		a := netip.AddrFrom4([4]byte(k.addr[:4]))
		switch {
		case a.IsUnspecified(), a.IsMulticast(), a == netip.AddrFrom4([4]byte{255, 255, 255, 255}),
			a == netip.AddrFrom4([4]byte{127, 255, 255, 255}):
			return false // never unicast, or lo's broadcast route
		}
		return true
	}
	a := netip.AddrFrom16(k.addr)
	if a == netip.IPv6Loopback() {
		return true
	}
	return !a.IsUnspecified() && !a.IsMulticast() && !a.IsLinkLocalUnicast() && !a.Is4In6()
}

// editDest is ip_vs_edit_dest.
func (f *Fake) editDest(s *service, u *userDest) errno {
	if e := f.checkDest(u); e != 0 {
		return e
	}
	_, d := s.findDest(u.key)
	if d == nil {
		return eNOENT
	}
	d.update(u)
	return 0
}

// delDest is ip_vs_del_dest.
func (t *table) delDest(s *service, k destKey) errno {
	i, d := s.findDest(k)
	if d == nil {
		return eNOENT
	}
	s.dests = append(s.dests[:i], s.dests[i+1:]...)
	if d.key.af != s.key.af {
		t.mixed--
	}
	return 0
}

func (t *table) zero(s *service) {
	s.stats = ipvs.Stats{}
	for _, d := range s.dests {
		d.stats = ipvs.Stats{}
	}
}

func (t *table) zeroAll() {
	for _, s := range t.svcs {
		t.zero(s)
	}
	t.totals = ipvs.Stats{}
}

// nativeU32 reads 4 bytes in host order.
func nativeU32(b [4]byte) uint32 { return binary.NativeEndian.Uint32(b[:]) }
