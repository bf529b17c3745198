package reconcile_test

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/reconcile"
)

// A sync loop: every few seconds, converge the table to what the caller
// wants, draining the destinations it no longer wants. The services on
// port 22 belong to someone else and are never touched.
func ExampleReconciler() {
	c, err := ipvs.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	r := reconcile.NewReconciler(c, reconcile.Options{
		Owns:         func(s ipvs.Service) bool { return s.Port != 22 },
		DrainTimeout: 10 * time.Minute, // then remove even with connections left
	})
	desired := func() []ipvs.VirtualServer { // the caller's source of truth
		svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("192.0.2.10"), Port: 80, Scheduler: "rr"}
		return []ipvs.VirtualServer{{Service: svc, Destinations: []ipvs.Destination{
			{Address: netip.MustParseAddr("10.0.0.2"), Port: 8080, Forward: ipvs.ForwardMasquerade, Weight: 1},
		}}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		p, err := r.Sync(ctx, desired())
		if err != nil {
			log.Print(err) // each refused write is a *reconcile.ChangeError
		}
		if p != nil && !p.Empty() {
			fmt.Print(p)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// A dry run: plan from a table as read, and print the plan without
// applying it. Destination 10.0.0.3 is no longer wanted but still has
// connections, so it is drained rather than removed.
func ExampleCompute() {
	svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("192.0.2.10"), Port: 80, Scheduler: "rr"}
	d := func(addr string, weight uint32) ipvs.Destination {
		return ipvs.Destination{Address: netip.MustParseAddr(addr), Port: 8080, Forward: ipvs.ForwardMasquerade, Weight: weight}
	}
	busy := d("10.0.0.3", 1)
	busy.ActiveConnections = 4
	current := []ipvs.VirtualServer{{Service: svc, Destinations: []ipvs.Destination{d("10.0.0.2", 1), busy}}}
	desired := []ipvs.VirtualServer{{Service: svc, Destinations: []ipvs.Destination{d("10.0.0.2", 2), d("10.0.0.4", 1)}}}

	p, err := reconcile.Compute(current, desired, reconcile.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(p)
	// Output:
	// create destination 10.0.0.4:8080 of tcp 192.0.2.10:80: not in the table (masq, weight 1)
	// update destination 10.0.0.2:8080 of tcp 192.0.2.10:80: weight 1 -> 2
	// drain destination 10.0.0.3:8080 of tcp 192.0.2.10:80: not desired; weight 1 -> 0 until its 4 active, 0 inactive connections end
	// # draining 10.0.0.3:8080 of tcp 192.0.2.10:80: 4 active, 0 inactive, 0 persistent connections
}

// Watching a table: print what changes in it, polled every second.
func ExampleWatch() {
	c, err := ipvs.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for e, err := range reconcile.Watch(ctx, c, time.Second) {
		if err != nil {
			log.Print(err)
			continue
		}
		fmt.Println(e) // such as "destination changed 10.0.0.2:80 of tcp 192.0.2.10:80: weight 1 -> 0"
	}
}
