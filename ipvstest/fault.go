package ipvstest

import (
	"net/netip"
	"syscall"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/internal/ipvsh"
)

// Op is a request of the IPVS family, to choose which requests a Fault
// affects. Its values are the family's command numbers.
type Op uint8

// The requests a client makes, by the method that makes them.
const (
	OpAny               Op = 0
	OpCreateService     Op = ipvsh.CmdNewService
	OpUpdateService     Op = ipvsh.CmdSetService
	OpRemoveService     Op = ipvsh.CmdDelService
	OpGetServices       Op = ipvsh.CmdGetService // Service, Services and the service dump of VirtualServers
	OpCreateDestination Op = ipvsh.CmdNewDest
	OpUpdateDestination Op = ipvsh.CmdSetDest
	OpRemoveDestination Op = ipvsh.CmdDelDest
	OpGetDestinations   Op = ipvsh.CmdGetDest
	OpStartDaemon       Op = ipvsh.CmdNewDaemon
	OpStopDaemon        Op = ipvsh.CmdDelDaemon
	OpGetDaemons        Op = ipvsh.CmdGetDaemon
	OpSetTimeouts       Op = ipvsh.CmdSetConfig
	OpGetTimeouts       Op = ipvsh.CmdGetConfig
	OpInfo              Op = ipvsh.CmdGetInfo
	OpZero              Op = ipvsh.CmdZero
	OpFlush             Op = ipvsh.CmdFlush
)

// Fault is a misbehaviour of the kernel, injected with Fake.Inject. It
// affects the requests that match Op, Service and Destination, Times
// times (every one, if Times is 0), and does what its other fields say.
type Fault struct {
	// Op is the request to affect; OpAny matches every request of the
	// IPVS family.
	Op Op
	// Service, if set, restricts the fault to requests naming that
	// service, as Service.String spells it ("tcp 10.0.0.1:80").
	Service string
	// Destination, if set, restricts it to requests naming that
	// destination, as Destination.String spells it ("10.0.0.2:8080").
	Destination string
	// Times is how many matching requests the fault affects; 0 means all.
	Times int

	// Errno refuses the request with this errno, leaving the table alone.
	Errno syscall.Errno
	// Lose applies the request but sends no answer at all, as the
	// kernel does when DEL_DAEMON stops a thread that had not run yet.
	Lose bool
	// Delay holds every datagram of the answer back this long.
	Delay time.Duration
	// Interrupt marks every message of a dump NLM_F_DUMP_INTR, as a
	// kernel that checks a dump's consistency does when the table changes.
	Interrupt bool
	// Shift moves the index at which a dump resumes after its first
	// chunk by this many objects: a positive Shift skips objects, a
	// negative one lists some again. The kernel's dumps do both when
	// services are removed or added meanwhile, in this namespace or any
	// other, since the index counts the services of every namespace.
	Shift int
}

// faultState is an injected fault and how often it may still act.
type faultState struct {
	Fault
	left int // -1: unlimited
}

// Inject adds a fault. Faults are tried in the order they were injected;
// the first that matches a request acts on it.
func (f *Fake) Inject(ft Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	left := ft.Times
	if left == 0 {
		left = -1
	}
	f.faults = append(f.faults, &faultState{Fault: ft, left: left})
}

// ClearFaults removes every injected fault.
func (f *Fake) ClearFaults() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = nil
}

// matchFault returns the fault that acts on r, if any; f.mu is held.
func (f *Fake) matchFault(r *request) *Fault {
	for i, fs := range f.faults {
		if fs.Op != OpAny && uint8(fs.Op) != r.cmd {
			continue
		}
		if fs.Service != "" && requestService(r) != fs.Service ||
			fs.Destination != "" && requestDest(r) != fs.Destination {
			continue
		}
		if fs.left > 0 {
			fs.left--
			if fs.left == 0 {
				f.faults = append(f.faults[:i:i], f.faults[i+1:]...)
			}
		}
		return &fs.Fault
	}
	return nil
}

// requestService names the service of a request as ipvs.Service.String.
func requestService(r *request) string {
	if !r.top.Has(ipvsh.CmdAttrService) {
		return ""
	}
	as := r.top.Nested(ipvsh.CmdAttrService)
	if bad, _ := as.Validate(svcPolicy); bad != nil || !as.Has(ipvsh.SvcAttrAF) {
		return ""
	}
	s := ipvs.Service{Family: ipvs.Family(as.U16(ipvsh.SvcAttrAF))}
	switch {
	case as.Has(ipvsh.SvcAttrFwmark):
		s.FWMark = as.U32(ipvsh.SvcAttrFwmark)
	case as.Has(ipvsh.SvcAttrAddr) && as.Has(ipvsh.SvcAttrPort) && as.Has(ipvsh.SvcAttrProtocol):
		var a [16]byte
		as.Memcpy(ipvsh.SvcAttrAddr, a[:])
		s.Address, s.Port, s.Protocol = toAddr(uint16(s.Family), a), as.BE16(ipvsh.SvcAttrPort), ipvs.Protocol(as.U16(ipvsh.SvcAttrProtocol))
	}
	return s.String()
}

// requestDest names the destination of a request as ipvs.Destination.String.
func requestDest(r *request) string {
	if !r.top.Has(ipvsh.CmdAttrDest) {
		return ""
	}
	as := r.top.Nested(ipvsh.CmdAttrDest)
	if bad, _ := as.Validate(destPolicy); bad != nil || !as.Has(ipvsh.DestAttrAddr) || !as.Has(ipvsh.DestAttrPort) {
		return ""
	}
	var a [16]byte
	as.Memcpy(ipvsh.DestAttrAddr, a[:])
	af := uint16(ipvsh.AFInet) // else the service's, as the kernel defaults it
	if as.Has(ipvsh.DestAttrAddrFamily) {
		af = as.U16(ipvsh.DestAttrAddrFamily)
	} else if svc := r.top.Nested(ipvsh.CmdAttrService); svc.Has(ipvsh.SvcAttrAF) && len(svc.A[ipvsh.SvcAttrAF].Data) >= 2 {
		af = svc.U16(ipvsh.SvcAttrAF)
	}
	return ipvs.Destination{Address: toAddr(af, a), Port: as.BE16(ipvsh.DestAttrPort)}.String()
}

// toAddr reads an address of family af from union nf_inet_addr.
func toAddr(af uint16, a [16]byte) netip.Addr {
	if af == ipvsh.AFInet6 {
		return netip.AddrFrom16(a)
	}
	return netip.AddrFrom4([4]byte(a[:4]))
}
