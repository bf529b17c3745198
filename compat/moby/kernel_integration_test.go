//go:build integration && linux

package ipvs

import (
	"net"
	"syscall"
	"testing"

	"github.com/ipvs-go/ipvs/ipvstest"
)

// TestKernelDropIn pins, on the kernel, the choices compat/README.md
// makes for this package: the errors as moby/ipvs returns them, and what
// it reads back wrong.
func TestKernelDropIn(t *testing.T) {
	c, _ := ipvstest.NewKernelClient(t)
	h := newHandle(c)
	s := &Service{AddressFamily: syscall.AF_INET, Protocol: syscall.IPPROTO_UDP, Address: net.ParseIP("10.0.0.1"), Port: 5060,
		SchedName: "sh", Flags: 0x1, Timeout: 300, Netmask: 0x00FFFFFF, PEName: "sip"}
	if err := h.NewService(s); err != nil {
		t.Fatal(err)
	}
	if err := h.NewService(s); err != syscall.EEXIST || err.Error() != "file exists" {
		t.Errorf("second NewService: %#v, want syscall.EEXIST", err)
	}
	got, err := h.GetService(s)
	if err != nil {
		t.Fatal(err)
	}
	// moby/ipvs reads the persistence engine as "".
	if got.PEName != "sip" || got.Netmask != s.Netmask || got.Flags != 0x3 || got.Timeout != 300 || !got.Address.Equal(s.Address) {
		t.Errorf("GetService = %+v", got)
	}
	// moby/ipvs reads the weight's low 16 bits: 4,464.
	d := &Destination{Address: net.ParseIP("192.168.0.2"), Port: 5060, Weight: 70000}
	if err := h.NewDestination(s, d); err != nil {
		t.Fatal(err)
	}
	ds, err := h.GetDestinations(s)
	if err != nil || len(ds) != 1 || ds[0].Weight != 70000 || ds[0].AddressFamily != syscall.AF_INET {
		t.Fatalf("GetDestinations = %+v, %v", ds, err)
	}
	missing := &Service{AddressFamily: syscall.AF_INET, Protocol: syscall.IPPROTO_TCP, Address: net.ParseIP("10.0.0.9"), Port: 80}
	if _, err := h.GetService(missing); err != syscall.ESRCH {
		t.Errorf("GetService of a missing service: %#v, want syscall.ESRCH", err)
	}
	if ds, err := h.GetDestinations(missing); ds != nil || err != nil {
		t.Errorf("GetDestinations of a missing service = %v, %v; want nil, nil", ds, err)
	}
	if err := h.DelDestination(s, &Destination{Address: net.ParseIP("192.168.0.3"), Port: 5060}); err != syscall.ENOENT {
		t.Errorf("DelDestination of a missing destination: %#v, want syscall.ENOENT", err)
	}
}
