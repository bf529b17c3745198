//go:build integration && linux

package ipvs_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/ipvs-go/ipvs"
)

// TestKernelScale creates 1000 services with 10 destinations each, reads them
// back (the dumps span many receive batches) and removes them.
func TestKernelScale(t *testing.T) {
	_, c := newClient(t)
	ctx := ctxT(t)
	const nsvc, ndst = 1000, 10
	start := time.Now()
	for i := range nsvc {
		svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.AddrFrom4([4]byte{10, 20, byte(i >> 8), byte(i)}), Port: 80, Scheduler: "rr"}
		must(t, c.CreateService(ctx, svc))
		for j := range ndst {
			must(t, c.CreateDestination(ctx, svc, ipvs.Destination{Address: netip.AddrFrom4([4]byte{10, 30, byte(j), byte(i % 250)}), Port: uint16(8000 + i/250), Weight: 1}))
		}
	}
	created := time.Since(start)
	start = time.Now()
	svcs, err := c.Services(ctx)
	must(t, err)
	if len(svcs) != nsvc {
		t.Fatalf("dumped %d services, want %d", len(svcs), nsvc)
	}
	total := 0
	for _, s := range svcs {
		d, err := c.Destinations(ctx, s)
		must(t, err)
		if len(d) != ndst {
			t.Fatalf("%s has %d destinations, want %d", s, len(d), ndst)
		}
		total += len(d)
	}
	read := time.Since(start)
	start = time.Now()
	snap, err := c.VirtualServers(ctx)
	must(t, err)
	snapRead := time.Since(start)
	if len(snap) != nsvc {
		t.Fatalf("VirtualServers: %d services", len(snap))
	}
	for _, vs := range snap {
		if len(vs.Destinations) != ndst {
			t.Fatalf("VirtualServers: %s has %d destinations", vs.Service, len(vs.Destinations))
		}
	}
	t.Logf("read with one dump per service: %s; with VirtualServers: %s", read, snapRead)
	start = time.Now()
	for _, s := range svcs {
		must(t, c.RemoveService(ctx, s))
	}
	left, err := c.Services(ctx)
	must(t, err)
	if len(left) != 0 || total != nsvc*ndst {
		t.Fatalf("%d services left, %d destinations read", len(left), total)
	}
	t.Logf("%d services, %d destinations: created in %s, read in %s, removed in %s (under emulation)", nsvc, total, created, read, time.Since(start))
}

// TestKernelVirtualServers reads services with their destinations, one of
// them with more than fit a dump's chunk, and compares each with what
// Destinations reads.
func TestKernelVirtualServers(t *testing.T) {
	_, c := newClient(t)
	ctx := ctxT(t)
	var b ipvs.Batch
	want := map[string]int{}
	for i := range 20 {
		svc := ipvs.Service{Protocol: ipvs.ProtocolUDP, Address: netip.AddrFrom4([4]byte{10, 40, 0, byte(i)}), Port: 53, Scheduler: "rr"}
		b.CreateService(svc)
		n := i % 3
		if i == 5 {
			n = 300
		}
		for j := range n {
			b.CreateDestination(svc, ipvs.Destination{Address: netip.AddrFrom4([4]byte{10, 41, byte(j >> 8), byte(j)}), Port: 53, Weight: 1})
		}
		want[svc.String()] = n
	}
	res, err := c.Apply(ctx, &b)
	must(t, err)
	for i, r := range res {
		if r != nil {
			t.Fatalf("write %d: %v", i, r)
		}
	}
	got, err := c.VirtualServers(ctx)
	must(t, err)
	if len(got) != len(want) {
		t.Fatalf("%d services, want %d", len(got), len(want))
	}
	for _, vs := range got {
		if len(vs.Destinations) != want[vs.Service.String()] {
			t.Errorf("%s: %d destinations, want %d", vs.Service, len(vs.Destinations), want[vs.Service.String()])
		}
		single, err := c.Destinations(ctx, vs.Service)
		must(t, err)
		sortDests(single)
		sortDests(vs.Destinations)
		if diff := cmp.Diff(single, vs.Destinations, addrCmp); diff != "" {
			t.Errorf("%s differs from Destinations (-single +VirtualServers):\n%s", vs.Service, diff)
		}
	}
}

// TestKernelBatch applies 1000 services with 10 destinations each, then
// the same again (every write refused as a duplicate), then 10000 weight
// updates and 1000 removals, as batches; and a batch with refused writes
// among applied ones.
func TestKernelBatch(t *testing.T) {
	_, c := newClient(t)
	ctx := ctxT(t)
	const nsvc, ndst = 1000, 10
	svcAt := func(i int) ipvs.Service {
		return ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.AddrFrom4([4]byte{10, 20, byte(i >> 8), byte(i)}), Port: 80, Scheduler: "rr"}
	}
	dstAt := func(i, j int) ipvs.Destination {
		return ipvs.Destination{Address: netip.AddrFrom4([4]byte{10, 30, byte(j), byte(i % 250)}), Port: uint16(8000 + i/250), Weight: 1}
	}
	var create, update, remove ipvs.Batch
	for i := range nsvc {
		create.CreateService(svcAt(i))
		remove.RemoveService(svcAt(i))
		for j := range ndst {
			create.CreateDestination(svcAt(i), dstAt(i, j))
			d := dstAt(i, j)
			d.Weight = uint32(2 + j)
			update.UpdateDestination(svcAt(i), d)
		}
	}
	apply := func(name string, b *ipvs.Batch, want error) time.Duration {
		t.Helper()
		start := time.Now()
		res, err := c.Apply(ctx, b)
		took := time.Since(start)
		// Apply's error reports refused writes too: nil only if none was.
		var be *ipvs.BatchError
		if want == nil {
			must(t, err)
		} else if !errors.As(err, &be) || be.Cause != nil || !errors.Is(err, want) {
			t.Fatalf("%s: %v, want a *BatchError of refusals matching %v", name, err, want)
		}
		bad := 0
		for _, r := range res {
			if (want == nil) != (r == nil) || want != nil && !errors.Is(r, want) {
				if bad++; bad < 3 {
					t.Errorf("%s: %v, want %v", name, r, want)
				}
			}
		}
		if bad > 0 {
			t.Fatalf("%s: %d of %d results wrong", name, bad, len(res))
		}
		return took
	}
	tc := apply("create", &create, nil)
	svcs, err := c.Services(ctx)
	must(t, err)
	if len(svcs) != nsvc {
		t.Fatalf("%d services after the batch", len(svcs))
	}
	dup := apply("create again", &create, os.ErrExist)
	tu := apply("update weights", &update, nil)
	d, err := c.Destinations(ctx, svcAt(999))
	must(t, err)
	for _, x := range d {
		if x.Weight < 2 || x.Weight > 11 {
			t.Fatalf("weight not updated: %+v", x)
		}
	}
	tr := apply("remove", &remove, nil)
	if left, _ := c.Services(ctx); len(left) != 0 {
		t.Fatalf("%d services left", len(left))
	}
	t.Logf("batches of %d: create %s, create again (all refused) %s, update %s, remove %s (under emulation)", create.Len(), tc, dup, tu, tr)

	// Refused writes among applied ones.
	var mixed ipvs.Batch
	mixed.CreateService(svcAt(1))
	mixed.CreateDestination(svcAt(2), dstAt(2, 0)) // no such service
	mixed.CreateDestination(svcAt(1), dstAt(1, 0))
	mixed.RemoveDestination(svcAt(1), dstAt(1, 1)) // no such destination
	mixed.CreateService(ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.9.0.1"), Port: 1, Scheduler: "nosuch"})
	res, err := c.Apply(ctx, &mixed)
	var be *ipvs.BatchError
	if !errors.As(err, &be) || be.Failed != 3 || be.Total != 5 {
		t.Fatalf("mixed batch: %v, want a *BatchError of 3 of 5 writes", err)
	}
	for i, want := range []error{nil, unix.ESRCH, nil, unix.ENOENT, unix.ENOENT} {
		if want == nil && res[i] != nil || want != nil && !errors.Is(res[i], want) {
			t.Errorf("mixed op %d: %v, want %v", i, res[i], want)
		}
	}
	if d, _ := c.Destinations(ctx, svcAt(1)); len(d) != 1 {
		t.Fatalf("the applied writes are missing: %v", d)
	}
}

// TestKernelConnCost measures, when IPVS_CONN_COST is set, how long a read
// of the whole table takes as it grows: UDP entries from many client
// ports. It only logs.
func TestKernelConnCost(t *testing.T) {
	if os.Getenv("IPVS_CONN_COST") == "" {
		t.Skip("set IPVS_CONN_COST to measure")
	}
	lab := newConnLab(t)
	// Reads grow quadratically: more time than ctxT gives.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	link := linkOtherThanLo(t, lab.client)
	made := 0
	for _, n := range []int{5_000, 10_000, 20_000, 40_000} {
		must(t, lab.client.in(func() error {
			for ; made < n; made++ {
				ip := fmt.Sprintf("10.99.0.%d", 10+made/50_000)
				if made%50_000 == 0 {
					if out, err := exec.Command("ip", "addr", "add", ip+"/24", "dev", link).CombinedOutput(); err != nil {
						return fmt.Errorf("%v: %s", err, out)
					}
				}
				local := &net.UDPAddr{IP: net.ParseIP(ip), Port: 1024 + made%50_000}
				c, err := net.DialUDP("udp", local, &net.UDPAddr{IP: net.ParseIP("10.99.1.1"), Port: 53})
				if err != nil {
					return err
				}
				_, err = c.Write([]byte("x"))
				c.Close()
				if err != nil {
					return err
				}
			}
			return nil
		}))
		eventually(t, "the entries", func() bool {
			states, err := lab.c.ConnectionStates(ctx, ipvs.ConnectionFilter{})
			return err == nil && states["UDP"] >= n
		})
		start := time.Now()
		count := 0
		for _, err := range lab.c.Connections(ctx, ipvs.ConnectionFilter{}) {
			must(t, err)
			count++
		}
		d := time.Since(start)
		t.Logf("%d entries: read in %v (%.2f µs an entry)", count, d.Round(time.Millisecond), float64(d.Microseconds())/float64(count))
	}
}
