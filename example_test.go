package ipvs_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvstest"
)

// The examples run on an in-memory IPVS (package ipvstest), so that go
// test checks their output; in a program, the client comes from
// ipvs.New(nil), which needs ip_vs and CAP_NET_ADMIN, as the README's
// shortest use below shows.

// exampleClient stands for ipvs.New(nil) in the examples: a client of an
// in-memory IPVS, with a service or two to read.
func exampleClient() (*ipvs.Client, *ipvstest.Fake) {
	f := ipvstest.NewFake()
	c, err := f.NewClient()
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	web := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("192.0.2.10"), Port: 80, Scheduler: "wlc"}
	dns := ipvs.Service{Protocol: ipvs.ProtocolUDP, Address: netip.MustParseAddr("192.0.2.10"), Port: 53, Scheduler: "rr"}
	for _, s := range []ipvs.Service{web, dns} {
		if err := c.CreateService(ctx, s); err != nil {
			log.Fatal(err)
		}
	}
	for _, d := range []string{"10.0.0.2:8080", "10.0.0.3:8080"} {
		dst := ipvs.Destination{Address: netip.MustParseAddrPort(d).Addr(), Port: 8080, Forward: ipvs.ForwardMasquerade, Weight: 1}
		if err := c.CreateDestination(ctx, web, dst); err != nil {
			log.Fatal(err)
		}
	}
	return c, f
}

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

	c, _ := exampleClient() // in a program: c, err := ipvs.New(nil)
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
	// Output:
	// tcp 192.0.2.10:80 wlc
	//   -> 10.0.0.3:8080 masq weight 1, 0 active
	//   -> 10.0.0.2:8080 masq weight 1, 0 active
	// udp 192.0.2.10:53 rr
}

// Create a round-robin TCP service with two NAT destinations; a service
// that exists already is an error matching os.ErrExist.
func ExampleClient_CreateService() {
	ctx := context.Background()
	c, _ := exampleClient() // in a program: c, err := ipvs.New(nil)
	defer c.Close()

	svc := ipvs.Service{
		Protocol:  ipvs.ProtocolTCP,
		Address:   netip.MustParseAddr("192.0.2.20"),
		Port:      443,
		Scheduler: "rr",
	}
	for range 2 {
		if err := c.CreateService(ctx, svc); errors.Is(err, os.ErrExist) {
			fmt.Printf("%s exists already\n", svc)
		} else if err != nil {
			log.Fatal(err)
		}
	}
	for _, addr := range []string{"10.0.0.2", "10.0.0.3"} {
		d := ipvs.Destination{
			Address: netip.MustParseAddr(addr),
			Port:    8443,
			Forward: ipvs.ForwardMasquerade,
			Weight:  1,
		}
		if err := c.CreateDestination(ctx, svc, d); err != nil {
			log.Fatal(err)
		}
	}
	dests, _ := c.Destinations(ctx, svc)
	fmt.Println(len(dests), "destinations")
	// Output:
	// tcp 192.0.2.20:443 exists already
	// 2 destinations
}

// Turn on one-packet scheduling for a service without touching its
// other flags, such as persistence.
func ExampleClient_UpdateService() {
	ctx := context.Background()
	c, _ := exampleClient() // in a program: c, err := ipvs.New(nil)
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
	svc, _ = c.Service(ctx, key)
	fmt.Println(svc, svc.Flags)
	// Output: udp 192.0.2.10:53 hashed|one-packet
}

// Start a master synchronization daemon that multicasts connection state
// on eth1, then list the running daemons.
func ExampleClient_StartDaemon() {
	ctx := context.Background()
	c, f := exampleClient() // in a program: c, err := ipvs.New(nil)
	defer c.Close()
	f.AddInterface("eth1", 1500)

	err := c.StartDaemon(ctx, ipvs.Daemon{
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
	// Output: master on eth1 (sync id 10), group 239.0.0.81 port 8848
}

// Walk a large table without holding it all in memory. A client of
// another network namespace (here one that "ip netns add lb" made) comes
// from ipvs.New(&ipvs.Config{NetNSPath: "/var/run/netns/lb"}).
func ExampleClient_AllServices() {
	ctx := context.Background()
	c, _ := exampleClient() // in a program: c, err := ipvs.New(nil)
	defer c.Close()

	n := 0
	for svc, err := range c.AllServices(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		if svc.Protocol == ipvs.ProtocolTCP {
			n++
		}
	}
	fmt.Println("TCP services:", n)
	// Output: TCP services: 1
}

// Apply many writes at once: they travel in a few large datagrams, and
// each gets its own result.
func ExampleClient_Apply() {
	ctx := context.Background()
	c, _ := exampleClient() // in a program: c, err := ipvs.New(nil)
	defer c.Close()

	var b ipvs.Batch
	for i := range 100 {
		svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), Port: 80, Scheduler: "rr"}
		b.CreateService(svc)
		b.CreateDestination(svc, ipvs.Destination{Address: netip.MustParseAddr("10.0.0.2"), Port: 8080, Weight: 1})
	}
	results, err := c.Apply(ctx, &b)
	for i, r := range results {
		if r != nil {
			fmt.Printf("write %d: %v\n", i, r)
		}
	}
	var be *ipvs.BatchError
	if errors.As(err, &be) && be.Cause != nil {
		log.Fatal(err) // the batch ended early: see ErrNotSent
	}
	// Output:
	// write 20: ipvs: create service tcp 192.0.2.10:80: service already exists (file exists)
	// write 21: ipvs: create destination 10.0.0.2:8080 of tcp 192.0.2.10:80: destination already exists (file exists)
}

// Name services as the kernel identifies them: one given with an
// IPv4-mapped address, as a converted net.IP is, is the IPv4 service.
func ExampleService_Key() {
	a := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("::ffff:192.0.2.10"), Port: 80}
	b := ipvs.Service{Family: ipvs.FamilyIPv4, Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("192.0.2.10"), Port: 80}
	fmt.Println(a.Key() == b.Key(), a.Key())
	d := ipvs.Destination{Address: netip.MustParseAddr("10.0.0.2")} // port 0: the service's
	fmt.Println(d.Key(a.Key()))
	// Output:
	// true tcp 192.0.2.10:80
	// 10.0.0.2:80
}

// Check a whole table before changing anything, with the checks the
// client makes before sending.
func ExampleService_Validate() {
	svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("192.0.2.10"), Port: 80, Scheduler: "rr",
		Timeout: 1500 * time.Millisecond}
	err := svc.Validate()
	var ie *ipvs.InvalidError
	fmt.Println(errors.As(err, &ie), ie.Field)
	fmt.Println(err)
	// Output:
	// true service timeout
	// invalid service timeout: 1.5s is not a whole number of seconds
}

// The established connections of one service, and where they go.
func ExampleClient_Connections() {
	c, f := exampleClient() // in a program: c, err := ipvs.New(nil)
	defer c.Close()
	ap := netip.MustParseAddrPort
	f.SetConnectionTable([]ipvs.Connection{ // what traffic would have made
		{Protocol: ipvs.ProtocolTCP, Client: ap("198.51.100.7:40001"), Virtual: ap("192.0.2.10:80"), Destination: ap("10.0.0.2:8080"), State: "ESTABLISHED", Expires: 899 * time.Second},
		{Protocol: ipvs.ProtocolTCP, Client: ap("198.51.100.8:40002"), Virtual: ap("192.0.2.10:80"), Destination: ap("10.0.0.3:8080"), State: "TIME_WAIT", Expires: 60 * time.Second},
	})

	svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("192.0.2.10"), Port: 80}
	for conn, err := range c.Connections(context.Background(), ipvs.ConnectionFilter{Service: svc}) {
		if err != nil {
			log.Fatal(err)
		}
		if conn.State == "ESTABLISHED" {
			fmt.Println(conn.Client, "->", conn.Destination, "expires in", conn.Expires)
		}
	}
	// Output: 198.51.100.7:40001 -> 10.0.0.2:8080 expires in 14m59s
}

// How many connections a real server still has, by state: what a drain
// waits for.
func ExampleClient_ConnectionStates() {
	c, f := exampleClient() // in a program: c, err := ipvs.New(nil)
	defer c.Close()
	ap := netip.MustParseAddrPort
	f.SetConnectionTable([]ipvs.Connection{
		{Protocol: ipvs.ProtocolTCP, Client: ap("198.51.100.7:40001"), Virtual: ap("192.0.2.10:80"), Destination: ap("10.0.0.2:8080"), State: "ESTABLISHED"},
		{Protocol: ipvs.ProtocolTCP, Client: ap("198.51.100.8:40002"), Virtual: ap("192.0.2.10:80"), Destination: ap("10.0.0.2:8080"), State: "TIME_WAIT"},
		{Protocol: ipvs.ProtocolTCP, Client: ap("198.51.100.9:40003"), Virtual: ap("192.0.2.10:80"), Destination: ap("10.0.0.3:8080"), State: "ESTABLISHED"},
	})

	states, err := c.ConnectionStates(context.Background(), ipvs.ConnectionFilter{Destination: ap("10.0.0.2:8080")})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(states["ESTABLISHED"], "established,", states["TIME_WAIT"], "in TIME_WAIT")
	// Output: 1 established, 1 in TIME_WAIT
}

// Before removing UDP destinations at once, make sure their entries go
// with them; tell which settings this kernel lacks.
func ExampleClient_SetSysctls() {
	c, _ := exampleClient() // in a program: c, err := ipvs.New(nil)
	defer c.Close()
	ctx := context.Background()
	s, err := c.Sysctls(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if !s.ExpireNodestConn {
		if err := c.SetSysctls(ctx, ipvs.SysctlChanges{ExpireNodestConn: new(true)}); err != nil {
			log.Fatal(err)
		}
	}
	s, _ = c.Sysctls(ctx)
	fmt.Println("expire_nodest_conn", s.ExpireNodestConn, "conn_reuse_mode", s.ConnReuseMode, "absent:", s.Absent)
	// Output: expire_nodest_conn true conn_reuse_mode 1 absent: [lblc_expiration lblcr_expiration debug_level]
}

// A director's traffic, services removed since included: what
// node_exporter reports as node_ipvs_connections_total and the like, and
// what adding up the services' counters cannot give once one is gone.
func ExampleClient_Totals() {
	c, f := exampleClient() // in a program: c, err := ipvs.New(nil)
	defer c.Close()
	ctx := context.Background()
	// What traffic would have made, on a service removed since too.
	f.SetTotals(ipvs.Stats{Connections: 1200, InPackets: 96_000, OutPackets: 88_000, InBytes: 7_200_000, OutBytes: 120_000_000})

	t, err := c.Totals(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(t.Connections, "connections,", t.InBytes, "bytes in,", t.OutBytes, "bytes out")
	// Output: 1200 connections, 7200000 bytes in, 120000000 bytes out
}

// TestREADMECode checks that the README's shortest use is the body of
// readmeShortestUse in example_test.go, which the compiler checks: the
// README can not drift into code that does not build.
func TestREADMECode(t *testing.T) {
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := strings.Cut(string(src), "func readmeShortestUse(ctx context.Context) error {\n")
	body, _, ok2 := strings.Cut(body, "\n}\n")
	if !ok || !ok2 {
		t.Fatal("example_test.go has no readmeShortestUse")
	}
	var lines []string
	for _, l := range strings.Split(body, "\n") {
		lines = append(lines, strings.TrimPrefix(l, "\t"))
	}
	want := "```go\n" + strings.Join(lines, "\n") + "\n```"
	if !strings.Contains(string(readme), want) {
		t.Errorf("README.md does not show readmeShortestUse's body as a go block:\n%s", want)
	}
}
