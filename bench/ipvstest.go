//go:build linux

package main

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"time"

	lib "github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvstest"
)

// The ipvstest suite times the in-memory IPVS of package ipvstest behind
// a real client: the four workloads on a table of services × dests
// destinations, through the client's whole path (validation, encoding,
// framing, dumps in chunks, decoding) and the model's. It needs no
// kernel; it shows how fast a unit test on the model can be.
func init() { registerSuite("ipvstest", ipvstestSuite) }

func ipvstestSuite(n, d, rep int) error {
	ctx := context.Background()
	f := ipvstest.NewFake()
	c, err := f.NewClient()
	if err != nil {
		return err
	}
	defer c.Close()
	svc := func(i int) lib.Service {
		return lib.Service{Protocol: lib.ProtocolTCP, Address: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}),
			Port: uint16(80 + i>>16), Scheduler: "wlc"}
	}
	dst := func(i, j, weight int) lib.Destination {
		return lib.Destination{Address: netip.AddrFrom4([4]byte{10, 2, byte(j), 1 + byte(i%250)}), Port: uint16(8000 + i/250),
			Forward: lib.ForwardMasquerade, Weight: uint32(weight)}
	}
	batch := func(add func(b *lib.Batch)) error {
		var b lib.Batch
		add(&b)
		_, err := c.Apply(ctx, &b)
		return err
	}
	workloads := []struct {
		name string
		run  func() (int, error)
	}{
		{"create", func() (int, error) {
			return n * (1 + d), batch(func(b *lib.Batch) {
				for i := range n {
					b.CreateService(svc(i))
					for j := range d {
						b.CreateDestination(svc(i), dst(i, j, 1))
					}
				}
			})
		}},
		{"read", func() (int, error) {
			vs, err := c.VirtualServers(ctx)
			objects := len(vs)
			for _, v := range vs {
				objects += len(v.Destinations)
			}
			if err == nil && objects != n*(1+d) {
				err = fmt.Errorf("read %d objects, want %d", objects, n*(1+d))
			}
			return objects, err
		}},
		{"update", func() (int, error) {
			return n * d, batch(func(b *lib.Batch) {
				for i := range n {
					for j := range d {
						b.UpdateDestination(svc(i), dst(i, j, 2))
					}
				}
			})
		}},
		{"remove", func() (int, error) {
			return n, batch(func(b *lib.Batch) {
				for i := range n {
					b.RemoveService(svc(i))
				}
			})
		}},
	}
	for _, w := range workloads {
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		t0 := time.Now()
		objects, err := w.run()
		took := time.Since(t0)
		runtime.ReadMemStats(&ms1)
		if err != nil {
			return fmt.Errorf("ipvstest %s: %w", w.name, err)
		}
		emit(result{Group: "ipvstest", Contender: "ipvs-on-model", Workload: w.name, Services: n, Dests: d, Rep: rep,
			Objects: objects, Seconds: took.Seconds(), Allocs: int64(ms1.Mallocs - ms0.Mallocs)})
	}
	if left := len(f.VirtualServers()); left != 0 {
		return fmt.Errorf("ipvstest: %d services left after remove", left)
	}
	return nil
}
