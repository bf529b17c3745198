package ipvstest_test

import (
	"context"
	"fmt"
	"net/netip"
	"syscall"
	"testing"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvstest"
)

// drain is the controller logic under test in ExampleFake: it takes a
// destination out of rotation, then removes it once its connections have
// ended. It reports whether the destination is gone.
func drain(ctx context.Context, c *ipvs.Client, svc ipvs.Service, dst ipvs.Destination) (bool, error) {
	dests, err := c.Destinations(ctx, svc)
	if err != nil {
		return false, err
	}
	for _, d := range dests {
		if d.Address != dst.Address || d.Port != dst.Port {
			continue
		}
		switch {
		case d.Weight != 0:
			d.Weight = 0
			return false, c.UpdateDestination(ctx, svc, d)
		case d.ActiveConnections+d.InactiveConnections > 0:
			return false, nil
		}
		return true, c.RemoveDestination(ctx, svc, d)
	}
	return true, nil
}

// A controller's unit test on the in-memory IPVS: the drain waits for the
// connection counts the test sets, as traffic would set them.
func ExampleFake() {
	ctx := context.Background()
	f := ipvstest.NewFake()
	c, err := f.NewClient() // in a test: c := f.Client(t)
	if err != nil {
		panic(err)
	}
	defer c.Close()

	svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "wlc"}
	dst := ipvs.Destination{Address: netip.MustParseAddr("192.168.1.2"), Port: 8080, Weight: 10}
	if err := c.CreateService(ctx, svc); err != nil {
		panic(err)
	}
	if err := c.CreateDestination(ctx, svc, dst); err != nil {
		panic(err)
	}
	if err := f.SetConnections(svc, dst, 2, 1, 0); err != nil {
		panic(err)
	}
	for round := range 3 {
		if round == 2 {
			_ = f.SetConnections(svc, dst, 0, 0, 0) // the last connections end
		}
		gone, err := drain(ctx, c, svc, dst)
		vs := f.VirtualServers()[0]
		fmt.Println(round, gone, err, len(vs.Destinations), vs.Destinations)
	}
	// Output:
	// 0 false <nil> 1 [192.168.1.2:8080]
	// 1 false <nil> 1 [192.168.1.2:8080]
	// 2 true <nil> 0 []
}

// Faults make the model misbehave as the kernel can: here a refusal of
// one chosen request, and a dump marked interrupted.
func ExampleFake_Inject() {
	ctx := context.Background()
	f := ipvstest.NewFake()
	c, err := f.NewClient()
	if err != nil {
		panic(err)
	}
	defer c.Close()
	svc := ipvs.Service{Protocol: ipvs.ProtocolUDP, Address: netip.MustParseAddr("10.0.0.2"), Port: 53, Scheduler: "rr"}

	f.Inject(ipvstest.Fault{Op: ipvstest.OpCreateService, Service: svc.String(), Errno: syscall.ENOMEM, Times: 1})
	fmt.Println(c.CreateService(ctx, svc))
	fmt.Println(c.CreateService(ctx, svc))

	f.Inject(ipvstest.Fault{Op: ipvstest.OpGetServices, Interrupt: true, Times: 1})
	_, err = c.Services(ctx)
	fmt.Println(err != nil)
	// Output:
	// ipvs: create service udp 10.0.0.2:53: cannot allocate memory
	// <nil>
	// true
}

// An integration test of the real kernel, in a namespace of its own. It
// runs as root where the kernel has IPVS, and skips elsewhere.
func ExampleNewKernelClient() {
	_ = func(t *testing.T) {
		t.Parallel() // each test has its own namespace
		c, ns := ipvstest.NewKernelClient(t)
		svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "rr"}
		if err := c.CreateService(t.Context(), svc); err != nil {
			t.Fatal(err)
		}
		out, err := ns.Run("ipvsadm", "-Ln") // a command in the namespace
		if err != nil {
			t.Fatal(err, out)
		}
	}
}
