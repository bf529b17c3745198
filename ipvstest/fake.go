package ipvstest

import (
	"fmt"
	"maps"
	"sync"
	"testing"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/internal/fakekernel"
	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/procfs"
	"github.com/ipvs-go/ipvs/internal/seam"
)

// Fake is an in-memory IPVS: the kernel's side of the IPVS family and of
// the Generic Netlink controller, for one network namespace. Clients made
// by Client and NewClient are real *ipvs.Client values whose sockets
// speak netlink bytes to it. A Fake is safe for concurrent use.
type Fake struct {
	mu         sync.Mutex
	t          *table
	hz         int64
	version    uint32
	connTab    uint32
	schedulers map[string]bool
	engines    map[string]bool
	ifaces     map[string]int // name to MTU
	faults     []*faultState
	kernel     int // the Linux version modelled, as kernelVersion makes it
	k          *fakekernel.Kernel
	conns      []procfs.Conn     // the connection table
	sysctls    map[string]string // net/ipv4/vs
}

func kernelVersion(major, minor int) int { return major<<16 | minor }

// SetKernelVersion makes the model behave as the given Linux version
// where the kernels of the project's matrix differ (by default, the
// newest): before 6.1, an upper threshold above 2^31-1 is accepted.
func (f *Fake) SetKernelVersion(major, minor int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kernel = kernelVersion(major, minor)
}

// DefaultSchedulers returns the schedulers a new Fake knows: those of
// every kernel in the project's test matrix (Linux 5.10 to 7.2), and "none".
func DefaultSchedulers() []string {
	return []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "none"}
}

// NewFake returns an empty in-memory IPVS as a fresh network namespace
// has it: no services, no daemons, the default timeouts (900 s, 120 s,
// 300 s), the interface lo (MTU 65536), HZ 250 as on Debian's kernels,
// the schedulers of DefaultSchedulers and the persistence engine "sip".
func NewFake() *Fake {
	f := &Fake{hz: 250, version: 0x010201, connTab: 4096,
		schedulers: map[string]bool{}, engines: map[string]bool{"sip": true},
		ifaces: map[string]int{"lo": 65536}, kernel: kernelVersion(7, 2), sysctls: defaultSysctls()}
	f.k = fakekernel.New(0x24, f.handle)
	f.k.Lock = &f.mu
	for _, s := range DefaultSchedulers() {
		f.schedulers[s] = true
	}
	f.t = newTable(f.hz)
	return f
}

// NewClient returns a client of f. The caller closes it.
func (f *Fake) NewClient() (*ipvs.Client, error) {
	id, _ := f.k.Family()
	c, err := seam.NewClient(f.k.Dial, fakeProc{f}, id, ipvsh.GenlVersion)
	if err != nil {
		return nil, err
	}
	return c.(*ipvs.Client), nil
}

// Client returns a client of f that is closed when the test ends.
func (f *Fake) Client(t testing.TB) *ipvs.Client {
	t.Helper()
	c, err := f.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// SetSchedulers replaces the schedulers the model knows, as if only
// their modules were installed; creating a service with another one
// fails with ENOENT. "none" is always known.
func (f *Fake) SetSchedulers(names ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.schedulers = map[string]bool{"none": true}
	for _, n := range names {
		f.schedulers[n] = true
	}
}

// AddInterface adds a network interface, which sync daemons may use; its
// MTU sizes a backup daemon's messages.
func (f *Fake) AddInterface(name string, mtu int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ifaces[name] = mtu
}

// SetConnectionTableSize sets what Info reports as the size of the
// connection table (4096 by default).
func (f *Fake) SetConnectionTableSize(n uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.connTab = n
}

// Reload models unloading and loading the ip_vs module: the table is
// emptied, and the family gets a new ID, so requests sent with the old
// one fail with ENOENT until the client looks the family up again.
func (f *Fake) Reload() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = newTable(f.hz)
	id, _ := f.k.Family()
	f.k.SetFamily(id+1, true)
}

// Requests returns how many requests of the IPVS family and the
// controller the model has received: a measure of a client's chattiness.
func (f *Fake) Requests() int { return f.k.Requests() }

// Interfaces returns the model's interfaces and their MTUs.
func (f *Fake) Interfaces() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.ifaces)
}

// lookup finds the service svc identifies and, if dst is not nil, its
// destination, by their ipvs Keys; f.mu is held.
func (f *Fake) lookup(svc ipvs.Service, dst *ipvs.Destination) (*service, *dest, error) {
	k := svc.Key()
	s := f.t.svcs[modelKey(k)]
	if s == nil {
		return nil, nil, fmt.Errorf("ipvstest: no service %v", k)
	}
	if dst == nil {
		return s, nil, nil
	}
	ap := dst.Key(k)
	dk := destKey{af: ipvsh.AFInet6, addr: fakekernel.Addr16(ap.Addr()), port: ap.Port()}
	if ap.Addr().Is4() {
		dk.af = ipvsh.AFInet
	}
	_, d := s.findDest(dk)
	if d == nil {
		return nil, nil, fmt.Errorf("ipvstest: no destination %v in service %v", ap, k)
	}
	return s, d, nil
}

// modelKey is the model's table key of the service k identifies: the
// kernel's, in which a fwmark service has protocol TCP.
func modelKey(k ipvs.ServiceKey) svcKey {
	if k.FWMark != 0 {
		return svcKey{af: uint16(k.Family), proto: protoTCP, fwmark: k.FWMark}
	}
	return svcKey{af: uint16(k.Family), proto: uint16(k.Protocol), addr: fakekernel.Addr16(k.Address), port: k.Port}
}
