package ipvs_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/netip"
	"os"
	"time"

	"github.com/ipvs-go/ipvs"
)

// These examples change the kernel's IPVS table, which needs root (and
// ip_vs), so they are compiled but not run by go test: they have no
// Output comment. The integration suite runs the same calls on a kernel.

// The README's shortest use, kept compiling: TestREADMECode checks that
// the README shows this body.
func readmeShortestUse(ctx context.Context) error {
	c, err := ipvs.New(nil) // errors.Is(err, ipvs.ErrNoIPVS) without ip_vs
	if err != nil {
		return err
	}
	defer c.Close()

	svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("192.0.2.10"), Port: 80, Scheduler: "rr"}
	if err := c.CreateService(ctx, svc); err != nil {
		return err
	}
	dst := ipvs.Destination{Address: netip.MustParseAddr("10.0.0.2"), Port: 8080, Forward: ipvs.ForwardMasquerade, Weight: 1}
	if err := c.CreateDestination(ctx, svc, dst); err != nil {
		return err
	}
	services, err := c.Services(ctx) // with stats; c.Destinations(ctx, svc) for its servers
	if err != nil {
		return err
	}
	for _, s := range services {
		fmt.Println(s, s.Scheduler, s.Stats.Connections)
	}
	return nil
}

var _ = readmeShortestUse

// List every service with its destinations, as ipvsadm -Ln does.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	c, err := ipvs.New(nil)
	if errors.Is(err, ipvs.ErrNoIPVS) {
		log.Fatal("this kernel has no IPVS: modprobe ip_vs")
	}
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	services, err := c.Services(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, svc := range services {
		fmt.Printf("%s %s\n", svc, svc.Scheduler)
		dests, err := c.Destinations(ctx, svc)
		if err != nil {
			log.Fatal(err)
		}
		for _, d := range dests {
			fmt.Printf("  -> %s %s weight %d, %d active\n", d, d.Forward, d.Weight, d.ActiveConnections)
		}
	}
}

// Create a round-robin TCP service with two NAT destinations.
func ExampleClient_CreateService() {
	ctx := context.Background()
	c, err := ipvs.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	svc := ipvs.Service{
		Protocol:  ipvs.ProtocolTCP,
		Address:   netip.MustParseAddr("192.0.2.10"),
		Port:      80,
		Scheduler: "rr",
	}
	if err := c.CreateService(ctx, svc); errors.Is(err, os.ErrExist) {
		log.Printf("%s exists already", svc)
	} else if err != nil {
		log.Fatal(err)
	}
	for _, addr := range []string{"10.0.0.2", "10.0.0.3"} {
		d := ipvs.Destination{
			Address: netip.MustParseAddr(addr),
			Port:    8080,
			Forward: ipvs.ForwardMasquerade,
			Weight:  1,
		}
		if err := c.CreateDestination(ctx, svc, d); err != nil {
			log.Fatal(err)
		}
	}
}

// Turn on one-packet scheduling for a service without touching its
// other flags, such as persistence.
func ExampleClient_UpdateService() {
	ctx := context.Background()
	c, err := ipvs.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	key := ipvs.Service{Protocol: ipvs.ProtocolUDP, Address: netip.MustParseAddr("192.0.2.10"), Port: 53}
	svc, err := c.Service(ctx, key)
	if errors.Is(err, os.ErrNotExist) {
		log.Fatalf("%s does not exist", key)
	} else if err != nil {
		log.Fatal(err)
	}
	// The kernel wants the scheduler, timeout and netmask in every
	// update: svc carries the current ones. The mask limits the change
	// to one flag, atomically in the kernel.
	svc.Flags, svc.FlagsMask = ipvs.FlagOnePacket, ipvs.FlagOnePacket
	if err := c.UpdateService(ctx, svc); err != nil {
		log.Fatal(err)
	}
}

// Start a master synchronization daemon that multicasts connection state
// on eth1, then list the running daemons.
func ExampleClient_StartDaemon() {
	ctx := context.Background()
	c, err := ipvs.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	err = c.StartDaemon(ctx, ipvs.Daemon{
		State:     ipvs.DaemonMaster,
		Interface: "eth1",
		SyncID:    10,
		Group:     netip.MustParseAddr("239.0.0.81"), // the kernel's default is 224.0.0.81
	})
	if err != nil {
		log.Fatal(err)
	}
	daemons, err := c.Daemons(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range daemons {
		fmt.Printf("%s, group %s port %d\n", d, d.Group, d.Port)
	}
}

// Walk a large table without holding it all in memory.
func ExampleClient_AllServices() {
	ctx := context.Background()
	c, err := ipvs.New(&ipvs.Config{NetNSPath: "/var/run/netns/lb"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	var conns uint64
	for svc, err := range c.AllServices(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		conns += svc.Stats.Connections
	}
	fmt.Println("connections scheduled:", conns)
}

// Apply many writes at once: they travel in a few large datagrams, and
// each gets its own result.
func ExampleClient_Apply() {
	ctx := context.Background()
	c, err := ipvs.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	var b ipvs.Batch
	for i := range 100 {
		svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), Port: 80, Scheduler: "rr"}
		b.CreateService(svc)
		b.CreateDestination(svc, ipvs.Destination{Address: netip.MustParseAddr("10.0.0.2"), Port: 8080, Weight: 1})
	}
	results, err := c.Apply(ctx, &b)
	for i, r := range results {
		if r != nil && !errors.Is(r, os.ErrExist) {
			log.Printf("write %d: %v", i, r)
		}
	}
	if err != nil {
		log.Fatal(err) // the batch ended early: see ErrNotSent
	}
}
