package ipvs

import (
	"context"
	"net"
	"net/netip"
	"testing"

	lib "github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvstest"
)

// BenchmarkWrites measures the drop-in's writes on ipvstest's in-memory
// IPVS beside the library's single calls that they make: the difference
// is the drop-in's own work per write (conversion, the read-ahead's
// entry, the group commit). Each op is a pair: a service created and
// removed, or a destination's weight set twice.
func BenchmarkWrites(b *testing.B) {
	ctx := context.Background()
	s := &Service{AddressFamily: 2, Protocol: 6, Address: net.IPv4(10, 0, 0, 1).To4(), Port: 80, SchedName: RoundRobin, Netmask: 0xffffffff}
	d := &Destination{AddressFamily: 2, Address: net.IPv4(192, 168, 0, 1).To4(), Port: 80, Weight: 1}
	ls := lib.Service{Family: lib.FamilyIPv4, Protocol: lib.ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: RoundRobin}
	ld := lib.Destination{Address: netip.MustParseAddr("192.168.0.1"), Port: 80, Weight: 1}
	b.Run("service/drop-in", func(b *testing.B) {
		h := newHandle(ipvstest.NewFake().Client(b))
		b.ReportAllocs()
		for b.Loop() {
			if err := h.NewService(s); err != nil {
				b.Fatal(err)
			}
			if err := h.DelService(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("service/library", func(b *testing.B) {
		c := ipvstest.NewFake().Client(b)
		b.ReportAllocs()
		for b.Loop() {
			if err := c.CreateService(ctx, ls); err != nil {
				b.Fatal(err)
			}
			if err := c.RemoveService(ctx, ls); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("destination/drop-in", func(b *testing.B) {
		h := newHandle(ipvstest.NewFake().Client(b))
		if err := h.NewService(s); err != nil {
			b.Fatal(err)
		}
		if err := h.NewDestination(s, d); err != nil {
			b.Fatal(err)
		}
		d2 := *d
		d2.Weight = 2
		b.ReportAllocs()
		for b.Loop() {
			if err := h.UpdateDestination(s, &d2); err != nil {
				b.Fatal(err)
			}
			if err := h.UpdateDestination(s, d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("destination/library", func(b *testing.B) {
		c := ipvstest.NewFake().Client(b)
		if err := c.CreateService(ctx, ls); err != nil {
			b.Fatal(err)
		}
		if err := c.CreateDestination(ctx, ls, ld); err != nil {
			b.Fatal(err)
		}
		ld2 := ld
		ld2.Weight = 2
		b.ReportAllocs()
		for b.Loop() {
			if err := c.UpdateDestination(ctx, ls, ld2); err != nil {
				b.Fatal(err)
			}
			if err := c.UpdateDestination(ctx, ls, ld); err != nil {
				b.Fatal(err)
			}
		}
	})
}
