package ipvs

import (
	"errors"
	"net/netip"
	"os"
	"reflect"
	"syscall"
	"testing"

	"github.com/cloudflare/ipvs/netmask"
	"github.com/mdlayher/netlink"

	lib "github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvstest"
)

// fakeClient returns a client of an in-memory IPVS, and the model.
func fakeClient(t *testing.T) (*client, *ipvstest.Fake) {
	t.Helper()
	f := ipvstest.NewFake()
	return &client{c: f.Client(t)}, f
}

func TestCompatServiceRoundTrip(t *testing.T) {
	c, _ := fakeClient(t)
	svcs := []Service{
		{Family: INET, Protocol: TCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "wlc",
			Netmask: netmask.MaskFrom(31, 32), Timeout: 300, Flags: ServicePersistent},
		{Family: INET, Protocol: UDP, Address: netip.MustParseAddr("10.0.0.2"), Port: 53, Scheduler: "rr",
			Netmask: netmask.MaskFrom4([4]byte{255, 0, 255, 0})},
		{Family: INET6, Protocol: SCTP, Address: netip.MustParseAddr("2001:db8::1"), Port: 9, Scheduler: "sh",
			Netmask: netmask.MaskFrom(64, 128)},
		{Family: INET, FWMark: 7, Scheduler: "rr", Netmask: netmask.MaskFrom(32, 32)},
	}
	for _, s := range svcs {
		if err := c.CreateService(s); err != nil {
			t.Fatalf("CreateService(%+v): %v", s, err)
		}
	}
	// No netmask, which cloudflare/ipvs leaves out and the kernel then
	// refuses, means the full one.
	if err := c.CreateService(Service{Protocol: TCP, Address: netip.MustParseAddr("2001:db8::2"), Port: 80, Scheduler: "rr"}); err != nil {
		t.Fatal(err)
	}
	svcs = append(svcs, Service{Family: INET6, Protocol: TCP, Address: netip.MustParseAddr("2001:db8::2"), Port: 80, Scheduler: "rr",
		Netmask: netmask.MaskFrom(128, 128)})
	got, err := c.Services()
	if err != nil || len(got) != len(svcs) {
		t.Fatalf("Services = %+v, %v", got, err)
	}
	byKey := map[Service]Service{}
	for _, g := range got {
		byKey[Service{Family: g.Family, Protocol: g.Protocol, Address: g.Address, Port: g.Port, FWMark: g.FWMark}] = g.Service
	}
	for i, want := range svcs {
		want.Flags |= ServiceHashed // the kernel's mark of a live service
		g := byKey[Service{Family: want.Family, Protocol: want.Protocol, Address: want.Address, Port: want.Port, FWMark: want.FWMark}]
		if !reflect.DeepEqual(g, want) {
			t.Errorf("service %d:\n got %+v\nwant %+v", i, g, want)
		}
		one, err := c.Service(want)
		if err != nil || one.Service != want {
			t.Errorf("Service(%d) = %+v, %v", i, one.Service, err)
		}
	}
}

// TestCompatKernelErrors pins the error of a kernel's refusal as
// cloudflare/ipvs returns it.
func TestCompatKernelErrors(t *testing.T) {
	c, _ := fakeClient(t)
	s := Service{Family: INET, Protocol: TCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "rr"}
	if err := c.CreateService(s); err != nil {
		t.Fatal(err)
	}
	err := c.CreateService(s)
	var oe *netlink.OpError
	if !errors.As(err, &oe) || oe.Err != syscall.EEXIST || err.Error() != "netlink receive: file exists" || !errors.Is(err, os.ErrExist) {
		t.Errorf("second CreateService: %#v", err)
	}
	s.Port = 81
	if _, err := c.Service(s); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("Service of a missing service: %v", err)
	}
	// A refusal of bad input is the library's, before anything is sent.
	if err := c.CreateService(Service{Family: INET, Protocol: TCP, Port: 80, Scheduler: "rr"}); !errors.Is(err, os.ErrInvalid) {
		t.Errorf("CreateService without an address: %v", err)
	}
}

// TestCompatEmptyLists pins the fix of cloudflare/ipvs's os.ErrNotExist
// for an empty list, which is kept for a service that does not exist.
func TestCompatEmptyLists(t *testing.T) {
	c, _ := fakeClient(t)
	if svcs, err := c.Services(); err != nil || svcs == nil || len(svcs) != 0 {
		t.Errorf("Services of an empty table = %#v, %v; want an empty list", svcs, err)
	}
	s := Service{Family: INET, Protocol: TCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "rr"}
	if dests, err := c.Destinations(s); err != os.ErrNotExist || dests != nil {
		t.Errorf("Destinations of a missing service = %#v, %v; want os.ErrNotExist", dests, err)
	}
	if err := c.CreateService(s); err != nil {
		t.Fatal(err)
	}
	if dests, err := c.Destinations(s); err != nil || dests == nil || len(dests) != 0 {
		t.Errorf("Destinations of a service without any = %#v, %v; want an empty list", dests, err)
	}
}

func TestCompatDestinations(t *testing.T) {
	c, f := fakeClient(t)
	s := Service{Family: INET, Protocol: TCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "rr"}
	if err := c.CreateService(s); err != nil {
		t.Fatal(err)
	}
	dests := []Destination{
		{Address: netip.MustParseAddr("192.168.0.1"), FwdMethod: DirectRoute, Weight: 70000, Port: 8080, Family: INET,
			UpperThreshold: 10, LowerThreshold: 5},
		{Address: netip.MustParseAddr("192.168.0.2"), FwdMethod: Tunnel, Weight: 1, Port: 80, Family: INET,
			TunnelType: GUE, TunnelPort: 5555, TunnelFlags: TunnelEncapRemoteChecksum},
	}
	for _, d := range dests {
		if err := c.CreateDestination(s, d); err != nil {
			t.Fatalf("CreateDestination(%+v): %v", d, err)
		}
	}
	big := lib.Stats{Connections: 1<<32 + 5, InPackets: 1<<33 + 1, InBytes: 1 << 40, ConnectionRate: 1<<32 + 2}
	if err := f.SetDestinationStats(toService(s), toDestination(dests[0]), big); err != nil {
		t.Fatal(err)
	}
	got, err := c.Destinations(s)
	if err != nil || len(got) != 2 {
		t.Fatalf("Destinations = %+v, %v", got, err)
	}
	// The kernel lists the newest destination first.
	if got[0].Address == dests[0].Address {
		got[0], got[1] = got[1], got[0]
	}
	for i, want := range dests {
		if got[1-i].Destination != want {
			t.Errorf("destination %d:\n got %+v\nwant %+v", i, got[1-i].Destination, want)
		}
	}
	s64, s32 := got[1].Stats64, got[1].Stats
	if s64.Connections != big.Connections || s64.IncomingBytes != 1<<40 || s32.Connections != 5 || s32.IncomingPackets != 1 ||
		s32.IncomingBytes != 1<<40 || s32.ConnectionRate != 2 {
		t.Errorf("stats: 64-bit %+v, 32-bit %+v", s64, s32)
	}
	dests[0].Weight = 0
	if err := c.UpdateDestination(s, dests[0]); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveDestination(s, dests[1]); err != nil {
		t.Fatal(err)
	}
	got, _ = c.Destinations(s)
	if len(got) != 1 || got[0].Weight != 0 {
		t.Errorf("after update and remove: %+v", got)
	}
	if err := c.RemoveService(s); err != nil {
		t.Fatal(err)
	}
}

func TestCompatInfoAndConfig(t *testing.T) {
	c, _ := fakeClient(t)
	info, err := c.Info()
	if err != nil || info.Version != [3]int{1, 2, 1} || info.ConnectionTableSize != 4096 {
		t.Errorf("Info = %+v, %v", info, err)
	}
	if err := c.SetConfig(Config{TCPTimeout: 70, UDPTimeout: 40}); err != nil {
		t.Fatal(err)
	}
	// A zero timeout is left as it was: 120 s, the default.
	if cfg, err := c.Config(); err != nil || cfg != (Config{TCPTimeout: 70, TCPFinTimeout: 120, UDPTimeout: 40}) {
		t.Errorf("Config = %+v, %v", cfg, err)
	}
}

func TestCompatStrings(t *testing.T) {
	for got, want := range map[string]string{
		Masquerade.String():          "Masquerade",
		ForwardType(7).String():      "ForwardType(7)",
		INET6.String():               "INET6",
		AddressFamily(3).String():    "AddressFamily(3)",
		SCTP.String():                "SCTP",
		GRE.String():                 "GRE",
		TunnelEncapChecksum.String(): "TunnelEncapChecksum",
		TunnelFlags(3).String():      "TunnelFlags(3)",
		(ServicePersistent | ServiceSchedulerOpt2 | 0x100).String(): "ServicePersistent | ServiceSchedulerOpt2 | 0x100",
		Flags(0).String(): "",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

// TestCompatReadAhead walks the table as programs do: the walk is
// answered from one read once it asks for a second service, and the
// client's own writes are seen at once.
func TestCompatReadAhead(t *testing.T) {
	c, f := fakeClient(t)
	var svcs []Service
	for i := range 3 {
		s := Service{Family: INET, Protocol: TCP, Address: netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), Port: 80, Scheduler: "rr"}
		svcs = append(svcs, s)
		if err := c.CreateService(s); err != nil {
			t.Fatal(err)
		}
		if err := c.CreateDestination(s, Destination{Address: netip.MustParseAddr("192.168.0.1"), Port: 80, Weight: 1}); err != nil {
			t.Fatal(err)
		}
	}
	listed, err := c.Services()
	if err != nil {
		t.Fatal(err)
	}
	other := f.Client(t)
	for i, l := range listed {
		d, err := c.Destinations(l.Service)
		if err != nil || len(d) != 1 || d[0].Weight != 1 {
			t.Fatalf("walk, service %d: %+v, %v", i, d, err)
		}
		if i == 1 {
			// Another process's write, after the read-ahead: not seen
			// until the next walk.
			if err := other.UpdateDestination(t.Context(), toService(svcs[2]), lib.Destination{Address: netip.MustParseAddr("192.168.0.1"), Port: 80, Weight: 4}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if d, _ := c.Destinations(svcs[2]); d[0].Weight != 4 {
		t.Errorf("after the walk: weight %d, want 4", d[0].Weight)
	}
}

// TestCompatReadAheadOwnWriteMapped checks that the client reads its own
// write during a walk when the write names the service by the
// IPv4-mapped form of its address (which the client sends as the IPv4
// address): the walk's entry of the service, as the kernel listed it, is
// dropped all the same.
func TestCompatReadAheadOwnWriteMapped(t *testing.T) {
	c, _ := fakeClient(t)
	dest := Destination{Address: netip.MustParseAddr("192.168.0.1"), Port: 80, Weight: 1}
	for i := range 3 {
		s := Service{Family: INET, Protocol: TCP, Address: netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), Port: 80, Scheduler: "rr"}
		if err := c.CreateService(s); err != nil {
			t.Fatal(err)
		}
		if err := c.CreateDestination(s, dest); err != nil {
			t.Fatal(err)
		}
	}
	listed, err := c.Services()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range listed[:2] {
		if _, err := c.Destinations(l.Service); err != nil {
			t.Fatal(err)
		}
	}
	last := listed[2].Service
	mapped := last
	mapped.Address = netip.AddrFrom16(last.Address.As16())
	if err := c.RemoveDestination(mapped, dest); err != nil {
		t.Fatal(err)
	}
	if d, err := c.Destinations(last); err != nil || len(d) != 0 {
		t.Errorf("after removing its only destination: %+v, %v; want none", d, err)
	}
}
