//go:build linux

// Command ipvs-demo shows the library at work, as make demo runs it: in a
// fresh network namespace it creates a virtual TCP service with two
// destinations, has a client namespace make a few connections through
// it, and prints the table with its counters the way
// ipvsadm -Ln --stats --exact does; then, with the programs make demo
// builds, ipvsctl, ipvs_exporter and ipvsd at work on the same
// namespace. It needs root and ip_vs.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/internal/netns"
)

func main() {
	log.SetFlags(0)
	if err := run(); err != nil {
		log.Fatalf("demo: %v", err)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	director, err := netns.New()
	if err != nil {
		return err
	}
	defer director.Close()
	client, err := director.Client()
	if err != nil {
		return err
	}
	defer client.Close()

	c, err := ipvs.New(&ipvs.Config{NetNS: director.Fd()})
	if err != nil {
		return err
	}
	defer c.Close()

	// Two real servers on the director itself, each answering with its name.
	backends := []netip.AddrPort{netip.MustParseAddrPort("10.99.2.1:8080"), netip.MustParseAddrPort("10.99.2.2:8080")}
	for _, b := range backends {
		if out, err := director.Sh("ip addr add " + b.Addr().String() + "/32 dev lo"); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		if err := serve(director, b); err != nil {
			return err
		}
	}

	svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.99.1.1"), Port: 80, Scheduler: "rr"}
	if err := c.CreateService(ctx, svc); err != nil {
		return err
	}
	for _, b := range backends {
		d := ipvs.Destination{Address: b.Addr(), Port: b.Port(), Forward: ipvs.ForwardMasquerade, Weight: 1}
		if err := c.CreateDestination(ctx, svc, d); err != nil {
			return err
		}
	}
	fmt.Printf("created %s with %d destinations in a fresh network namespace\n\n", svc, len(backends))

	// A few connections from the client namespace, round robin.
	answers := map[string]int{}
	err = client.Do(func() error {
		for range 6 {
			conn, err := net.DialTimeout("tcp", "10.99.1.1:80", 5*time.Second)
			if err != nil {
				return err
			}
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			b, err := io.ReadAll(conn)
			conn.Close()
			if err != nil {
				return err
			}
			answers[strings.TrimSpace(string(b))]++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	for _, b := range backends {
		fmt.Printf("%s answered %d of 6 connections\n", b, answers["hello from "+b.String()])
	}
	fmt.Println()
	// The kernel adds up its per-CPU counters into the ones it reports
	// when its rate estimator runs, every two seconds: wait for them.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if s, err := c.Service(ctx, svc); err != nil || s.Stats.Connections >= 6 {
			break
		}
	}
	if err := printStats(ctx, c); err != nil {
		return err
	}
	if out, err := director.Sh("ipvsadm -Ln --stats --exact"); err == nil {
		fmt.Printf("\nand ipvsadm -Ln --stats --exact, for comparison:\n%s", out)
	}
	if err := tools(director); err != nil {
		return err
	}
	if d := program("ipvsd"); d != "" {
		return directorDemo(d, director, client)
	}
	return nil
}

// tools shows the repository's two programs on the same table, when make
// demo built them: ipvsctl's listing beside ipvsadm's and as JSON, and a
// scrape of the exporter with the service's per-destination counters.
func tools(director *netns.NS) error {
	if ctl := program("ipvsctl"); ctl != "" {
		adm, _ := director.Sh("ipvsadm -Ln")
		ours, err := director.Sh(ctl + " -Ln")
		if err != nil {
			return fmt.Errorf("ipvsctl -Ln: %v: %s", err, ours)
		}
		same := "the same bytes"
		if ours != adm {
			same = "DIFFERENT bytes"
		}
		fmt.Printf("\nipvsctl -Ln (%s as ipvsadm -Ln):\n%s", same, ours)
		js, err := director.Sh(ctl + " -Ln -j -p")
		if err != nil {
			return fmt.Errorf("ipvsctl -Ln -j -p: %v: %s", err, js)
		}
		fmt.Printf("\nipvsctl -Ln -j -p:\n%s", js)
	}
	if exp := program("ipvs_exporter"); exp != "" {
		out, err := director.Sh(exp + " --web.listen-address=127.0.0.1:9778 >/tmp/exporter.log 2>&1 & pid=$!; " +
			"for i in $(seq 50); do wget -q -O - http://127.0.0.1:9778/metrics 2>/dev/null && break; sleep 0.1; done | " +
			"grep -E '^ipvs_(up|destination_(connections_total|incoming_packets_total|outgoing_bytes_total|active_connections|weight))'; kill $pid")
		if err != nil {
			return fmt.Errorf("scrape the exporter: %v: %s", err, out)
		}
		fmt.Printf("\na scrape of ipvs_exporter, the service's per-destination series:\n%s", out)
	}
	return nil
}

// program returns the path of a program built beside the demo, or found
// on PATH, or "" if there is none.
func program(name string) string {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if _, err := os.Stat(name); err == nil {
		abs, _ := filepath.Abs(name)
		return abs
	}
	return ""
}

// serve answers each connection to addr, inside ns, with a greeting.
func serve(ns *netns.NS, addr netip.AddrPort) error {
	var l net.Listener
	if err := ns.Do(func() error {
		var err error
		l, err = net.Listen("tcp", addr.String())
		return err
	}); err != nil {
		return err
	}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(conn, "hello from %s\n", addr)
			conn.Close()
		}
	}()
	return nil
}

// printStats prints the table as ipvsadm -Ln --stats --exact does.
func printStats(ctx context.Context, c *ipvs.Client) error {
	info, err := c.Info(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("IP Virtual Server version %s (size=%d)\n", info.Version, info.ConnectionTableSize)
	fmt.Printf("%-33s %8s %8s %8s %8s %8s\n", "Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes")
	fmt.Println("  -> RemoteAddress:Port")
	row := func(name string, s ipvs.Stats) {
		fmt.Printf("%-33s %8d %8d %8d %8d %8d\n", name, s.Connections, s.InPackets, s.OutPackets, s.InBytes, s.OutBytes)
	}
	for svc, err := range c.AllServices(ctx) {
		if err != nil {
			return err
		}
		row(fmt.Sprintf("%-4s %s", strings.ToUpper(svc.Protocol.String()), netip.AddrPortFrom(svc.Address, svc.Port)), svc.Stats)
		dests, err := c.Destinations(ctx, svc)
		if err != nil {
			return err
		}
		for _, d := range dests {
			row("  -> "+d.String(), d.Stats)
		}
	}
	return nil
}
