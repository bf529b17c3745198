//go:build integration && linux

package ipvs

import (
	"errors"
	"net/netip"
	"os"
	"syscall"
	"testing"

	"github.com/cloudflare/ipvs/netmask"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"

	"github.com/ipvs-go/ipvs/ipvstest"
)

// TestKernelDropIn pins, on the kernel, the choices compat/README.md
// makes for this package.
func TestKernelDropIn(t *testing.T) {
	lc, _ := ipvstest.NewKernelClient(t)
	c := &client{c: lc}
	if svcs, err := c.Services(); err != nil || len(svcs) != 0 {
		t.Errorf("Services of an empty table = %v, %v; want an empty list", svcs, err)
	}
	// No family and no netmask: cloudflare/ipvs sends them as they are,
	// and the kernel refuses both.
	s := Service{Protocol: TCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "rr"}
	if err := c.CreateService(s); err != nil {
		t.Fatal(err)
	}
	err := c.CreateService(s)
	var oe *netlink.OpError
	if !errors.As(err, &oe) || oe.Err != syscall.EEXIST || err.Error() != "netlink receive: file exists" {
		t.Errorf("second CreateService: %#v", err)
	}
	got, err := c.Service(s)
	if err != nil || got.Family != INET || got.Netmask != netmask.MaskFrom(32, 32) {
		t.Errorf("Service = %+v, %v", got.Service, err)
	}
	if ds, err := c.Destinations(s); err != nil || ds == nil || len(ds) != 0 {
		t.Errorf("Destinations of a service without any = %v, %v; want an empty list", ds, err)
	}
	missing := Service{Family: INET, Protocol: TCP, Address: netip.MustParseAddr("10.0.0.9"), Port: 80}
	if ds, err := c.Destinations(missing); err != os.ErrNotExist {
		t.Errorf("Destinations of a missing service = %v, %v; want os.ErrNotExist", ds, err)
	}
	d := Destination{Address: netip.MustParseAddr("192.168.0.2"), Port: 80, FwdMethod: Tunnel, Weight: 1, Family: INET,
		TunnelType: GUE, TunnelPort: 5555, TunnelFlags: TunnelEncapRemoteChecksum}
	if err := c.CreateDestination(s, d); err != nil {
		t.Fatal(err)
	}
	ds, err := c.Destinations(s)
	if err != nil || len(ds) != 1 || ds[0].Destination != d {
		t.Errorf("Destinations = %+v, %v; want %+v", ds, err, d)
	}
}

// TestKernelDestinationsOfNoService pins the kernel's answer to what
// cloudflare/ipvs's TestDestinations_Unpack asks (and the library refuses
// to send): the destinations of a service nest with a family alone are
// an empty dump, not an error.
func TestKernelDestinationsOfNoService(t *testing.T) {
	_, ns := ipvstest.NewKernelClient(t)
	conn, err := genetlink.Dial(&netlink.Config{NetNS: ns.Fd()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	f, err := conn.GetFamily("IPVS")
	if err != nil {
		t.Fatal(err)
	}
	nest := nltest.MustMarshalAttributes([]netlink.Attribute{{Type: 1, Data: []byte{2, 0}}}) // IPVS_SVC_ATTR_AF: AF_INET
	req := genetlink.Message{Header: genetlink.Header{Command: 8, Version: f.Version},       // IPVS_CMD_GET_DEST
		Data: nltest.MustMarshalAttributes([]netlink.Attribute{{Type: 1, Data: nest}})} // IPVS_CMD_ATTR_SERVICE
	msgs, err := conn.Execute(req, f.ID, netlink.Request|netlink.Dump)
	if err != nil || len(msgs) != 0 {
		t.Errorf("GET_DEST of Service{Family: INET} = %d messages, %v; want an empty dump", len(msgs), err)
	}
}
