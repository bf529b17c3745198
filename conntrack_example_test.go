package ipvs_test

import (
	"context"
	"errors"
	"log"
	"net/netip"

	"github.com/ipvs-go/ipvs"
)

// Removing a UDP real server, then the conntrack entries of its flows,
// with expire_nodest_conn on so that IPVS moves the flows at their next
// datagram: what kube-proxy does when a UDP endpoint goes.
func ExampleClient_FlushConntrack() {
	ctx := context.Background()
	c, err := ipvs.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	svc := ipvs.Service{Protocol: ipvs.ProtocolUDP, Address: netip.MustParseAddr("192.0.2.53"), Port: 53}
	gone := ipvs.Destination{Address: netip.MustParseAddr("10.0.0.7")} // port 0: the service's
	if err := c.SetSysctls(ctx, ipvs.SysctlChanges{ExpireNodestConn: new(true)}); err != nil {
		log.Fatal(err)
	}
	if err := c.RemoveDestination(ctx, svc, gone); err != nil {
		log.Fatal(err)
	}
	n, err := c.FlushConntrack(ctx, ipvs.ConntrackFilter{Service: svc, Destination: gone})
	switch {
	case errors.Is(err, ipvs.ErrNoConntrack):
		log.Print("no conntrack here: nothing to flush") // nf_conntrack_netlink is not loaded
	case err != nil:
		log.Fatal(err)
	default:
		log.Printf("deleted %d conntrack entries", n)
	}
}
