package ipvs

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"reflect"
	"syscall"
	"testing"
	"time"

	lib "github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvstest"
)

// fakeHandle returns a Handle on an in-memory IPVS, and the model.
func fakeHandle(t *testing.T) (*Handle, *ipvstest.Fake) {
	t.Helper()
	f := ipvstest.NewFake()
	h := newHandle(f.Client(t))
	return h, f
}

func tcp4(addr string, port uint16) *Service {
	return &Service{AddressFamily: syscall.AF_INET, Protocol: syscall.IPPROTO_TCP, Address: net.ParseIP(addr), Port: port,
		SchedName: RoundRobin, Netmask: 0xFFFFFFFF}
}

func TestServiceRoundTrip(t *testing.T) {
	h, _ := fakeHandle(t)
	want := []*Service{
		{AddressFamily: syscall.AF_INET, Protocol: syscall.IPPROTO_TCP, Address: net.ParseIP("10.0.0.1"), Port: 80,
			SchedName: "wlc", Flags: 0x1, Timeout: 300, Netmask: 0x00FFFFFF, PEName: "sip"},
		{AddressFamily: syscall.AF_INET6, Protocol: syscall.IPPROTO_UDP, Address: net.ParseIP("2001:db8::1"), Port: 53,
			SchedName: "sh", Netmask: 64},
		{AddressFamily: syscall.AF_INET, FWMark: 7, SchedName: RoundRobin},
	}
	for _, s := range want {
		if err := h.NewService(s); err != nil {
			t.Fatalf("NewService(%+v): %v", s, err)
		}
	}
	got, err := h.GetServices()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("GetServices returned %d services, want %d", len(got), len(want))
	}
	for k, w := range want {
		g := got[k]
		// The kernel sets IP_VS_SVC_F_HASHED on every live service; an
		// IPv4 address reads back in its 4-byte form.
		w.Flags |= 0x2
		if w.Address != nil && w.Address.To4() != nil {
			w.Address = w.Address.To4()
		}
		g.Stats = SvcStats{}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("service %d:\n got %+v\nwant %+v", k, g, w)
		}
		one, err := h.GetService(w)
		if err != nil || !reflect.DeepEqual(one.Address, w.Address) || one.Netmask != w.Netmask {
			t.Errorf("GetService(%d) = %+v, %v", k, one, err)
		}
		if !h.IsServicePresent(w) {
			t.Errorf("IsServicePresent(%d) = false", k)
		}
	}
}

// TestErrorsAreErrnos pins what programs written for moby/ipvs
// test: the bare errno, by == and by its text.
func TestErrorsAreErrnos(t *testing.T) {
	h, _ := fakeHandle(t)
	s := tcp4("10.0.0.1", 80)
	if err := h.NewService(s); err != nil {
		t.Fatal(err)
	}
	if err := h.NewService(s); err != syscall.EEXIST || err.Error() != "file exists" {
		t.Errorf("second NewService: %#v, want syscall.EEXIST", err)
	}
	missing := tcp4("10.0.0.2", 80)
	if _, err := h.GetService(missing); err != syscall.ESRCH {
		t.Errorf("GetService of a missing service: %#v, want syscall.ESRCH", err)
	}
	if h.IsServicePresent(missing) {
		t.Error("IsServicePresent of a missing service is true")
	}
	if err := h.DelService(missing); err != syscall.ESRCH {
		t.Errorf("DelService of a missing service: %#v, want syscall.ESRCH", err)
	}
	d := &Destination{Address: net.ParseIP("192.168.0.1"), Port: 80, Weight: 1}
	if err := h.DelDestination(s, d); err != syscall.ENOENT {
		t.Errorf("DelDestination of a missing destination: %#v, want syscall.ENOENT", err)
	}
}

// TestRefusals pins what moby/ipvs panics on or sends and has refused:
// errors matching os.ErrInvalid, before anything is sent.
func TestRefusals(t *testing.T) {
	h, f := fakeHandle(t)
	s := tcp4("10.0.0.1", 80)
	if err := h.NewService(s); err != nil {
		t.Fatal(err)
	}
	before := f.Requests()
	for name, err := range map[string]error{
		"NewService(nil)":         h.NewService(nil),
		"UpdateService(nil)":      h.UpdateService(nil),
		"DelService(nil)":         h.DelService(nil),
		"NewDestination(s, nil)":  h.NewDestination(s, nil),
		"NewDestination(nil, d)":  h.NewDestination(nil, &Destination{}),
		"weight -1":               h.NewDestination(s, &Destination{Address: net.ParseIP("192.168.0.1"), Port: 80, Weight: -1}),
		"weight 2^31":             h.NewDestination(s, &Destination{Address: net.ParseIP("192.168.0.1"), Port: 80, Weight: 1 << 31}),
		"SetConfig(nil)":          h.SetConfig(nil),
		"negative timeout":        h.SetConfig(&Config{TimeoutTCP: -time.Second}),
		"service without address": h.NewService(&Service{AddressFamily: syscall.AF_INET, Protocol: syscall.IPPROTO_TCP, Port: 80, SchedName: "rr"}),
	} {
		if !errors.Is(err, os.ErrInvalid) {
			t.Errorf("%s: %v, want an error matching os.ErrInvalid", name, err)
		}
	}
	if _, err := h.GetDestinations(nil); !errors.Is(err, os.ErrInvalid) {
		t.Errorf("GetDestinations(nil): %v", err)
	}
	if h.IsServicePresent(nil) {
		t.Error("IsServicePresent(nil) is true")
	}
	if n := f.Requests() - before; n != 0 {
		t.Errorf("the refusals sent %d requests", n)
	}
}

func TestDestinationRoundTrip(t *testing.T) {
	h, _ := fakeHandle(t)
	s := tcp4("10.0.0.1", 80)
	if err := h.NewService(s); err != nil {
		t.Fatal(err)
	}
	// moby/ipvs reads the weight as 16 bits: 70,000 came back as 4,464.
	d := &Destination{Address: net.ParseIP("192.168.0.1"), Port: 8080, Weight: 70000,
		ConnectionFlags: ConnectionFlagDirectRoute, UpperThreshold: 100, LowerThreshold: 10}
	if err := h.NewDestination(s, d); err != nil {
		t.Fatal(err)
	}
	got, err := h.GetDestinations(s)
	if err != nil || len(got) != 1 {
		t.Fatalf("GetDestinations = %v, %v", got, err)
	}
	want := *d
	want.Address, want.AddressFamily = net.IP{192, 168, 0, 1}, syscall.AF_INET
	if !reflect.DeepEqual(*got[0], want) {
		t.Errorf("got %+v\nwant %+v", *got[0], want)
	}
	d.Weight, d.ConnectionFlags = 3, ConnectionFlagTunnel|0x100 // bits outside the mask are not sent
	if err := h.UpdateDestination(s, d); err != nil {
		t.Fatal(err)
	}
	got, _ = h.GetDestinations(s)
	if got[0].Weight != 3 || got[0].ConnectionFlags != ConnectionFlagTunnel {
		t.Errorf("after update: %+v", *got[0])
	}
	if err := h.DelDestination(s, d); err != nil {
		t.Fatal(err)
	}
	// An empty list and a missing service read alike, as nil.
	for _, svc := range []*Service{s, tcp4("10.9.9.9", 1)} {
		if got, err := h.GetDestinations(svc); got != nil || err != nil {
			t.Errorf("GetDestinations(%v) = %v, %v; want nil, nil", svc.Address, got, err)
		}
	}
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, err := h.GetServices(); got != nil || err != nil {
		t.Errorf("GetServices after Flush = %v, %v; want nil, nil", got, err)
	}
}

func TestConfig(t *testing.T) {
	h, _ := fakeHandle(t)
	if err := h.SetConfig(&Config{TimeoutTCP: 66 * time.Second, TimeoutTCPFin: 66 * time.Second, TimeoutUDP: 66 * time.Second}); err != nil {
		t.Fatal(err)
	}
	// Zero leaves a timeout unchanged; fractions of a second are dropped.
	if err := h.SetConfig(&Config{TimeoutTCP: 77*time.Second + 900*time.Millisecond, TimeoutUDP: 77 * time.Second}); err != nil {
		t.Fatal(err)
	}
	got, err := h.GetConfig()
	want := Config{TimeoutTCP: 77 * time.Second, TimeoutTCPFin: 66 * time.Second, TimeoutUDP: 77 * time.Second}
	if err != nil || *got != want {
		t.Errorf("GetConfig = %+v, %v; want %+v", got, err, want)
	}
}

// TestNetmaskBytes pins the IPv4 netmask as moby/ipvs sends it: the
// uint32's bytes in host order are the mask.
func TestNetmaskBytes(t *testing.T) {
	h, f := fakeHandle(t)
	s := tcp4("10.0.0.1", 80)
	s.Netmask = 0x00FFFFFF // 255.255.255.0 on a little-endian host
	if err := h.NewService(s); err != nil {
		t.Fatal(err)
	}
	vs := f.VirtualServers()
	var m [4]byte
	for k := range m {
		m[k] = byte(s.Netmask >> (8 * k))
	}
	if got := vs[0].Service.Netmask; got != lib.IPv4Mask(m) {
		t.Errorf("the kernel holds netmask %v, want %v", got, lib.IPv4Mask(m))
	}
}

// TestReadAhead walks the table as programs do, and checks that the walk
// is answered from one read once it asks for a second service, that the
// handle's own writes are seen at once, and that a pause ends the
// snapshot.
func TestReadAhead(t *testing.T) {
	h, f := fakeHandle(t)
	other, err := f.NewClient() // another process
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var svcs []*Service
	for k := range 4 {
		s := tcp4("10.0.0."+string(rune('1'+k)), 80)
		svcs = append(svcs, s)
		if err := h.NewService(s); err != nil {
			t.Fatal(err)
		}
		if err := h.NewDestination(s, &Destination{Address: net.ParseIP("192.168.0.1"), Port: 80, Weight: 1}); err != nil {
			t.Fatal(err)
		}
	}
	listed, err := h.GetServices()
	if err != nil {
		t.Fatal(err)
	}
	weights := func(s *Service) []int {
		t.Helper()
		ds, err := h.GetDestinations(s)
		if err != nil {
			t.Fatal(err)
		}
		var w []int
		for _, d := range ds {
			w = append(w, d.Weight)
		}
		return w
	}
	// Another process changes the weights behind the walk's back.
	setWeight := func(s *Service, w uint32) {
		t.Helper()
		ls, _ := toService(s)
		d := lib.Destination{Address: netip.MustParseAddr("192.168.0.1"), Port: 80, Weight: w}
		if err := other.UpdateDestination(context.Background(), ls, d); err != nil {
			t.Fatal(err)
		}
	}
	weights(listed[0])
	weights(listed[1]) // the read-ahead reads the table here
	setWeight(svcs[2], 5)
	setWeight(svcs[3], 5)
	if w := weights(listed[2]); !reflect.DeepEqual(w, []int{1}) {
		t.Errorf("service 2 during the walk: weights %v, want the snapshot's [1]", w)
	}
	// A write through the handle is seen at once.
	if err := h.UpdateDestination(svcs[3], &Destination{Address: net.ParseIP("192.168.0.1"), Port: 80, Weight: 9}); err != nil {
		t.Fatal(err)
	}
	if w := weights(listed[3]); !reflect.DeepEqual(w, []int{9}) {
		t.Errorf("service 3 after the handle's write: weights %v, want [9]", w)
	}
	// Each entry serves once: asking again reads the kernel.
	if w := weights(listed[2]); !reflect.DeepEqual(w, []int{5}) {
		t.Errorf("service 2 asked again: weights %v, want [5]", w)
	}
}

// TestConcurrentWrites makes writes from many goroutines at once, which
// the handle sends together: each still gets its own result, in moby's
// form.
func TestConcurrentWrites(t *testing.T) {
	h, f := fakeHandle(t)
	s := tcp4("10.0.0.1", 80)
	if err := h.NewService(s); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 64)
	for g := range 32 {
		go func() {
			d := &Destination{Address: net.IPv4(192, 168, 0, byte(g/2+1)), Port: 80, Weight: 1}
			errs <- h.NewDestination(s, d)
		}()
	}
	created, dup := 0, 0
	for range 32 {
		switch err := <-errs; err {
		case nil:
			created++
		case syscall.EEXIST:
			dup++
		default:
			t.Errorf("NewDestination: %#v", err)
		}
	}
	if created != 16 || dup != 16 || len(f.VirtualServers()[0].Destinations) != 16 {
		t.Errorf("%d created, %d refused as duplicates; want 16 and 16", created, dup)
	}
}
