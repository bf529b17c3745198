package reconcile

import (
	"net/netip"
	"testing"

	"github.com/ipvs-go/ipvs"
)

// benchTable returns n services of d destinations each, as the bench
// suite's, read back as the kernel would.
func benchTable(n, d int, weight uint32) []ipvs.VirtualServer {
	t := make([]ipvs.VirtualServer, n)
	for i := range t {
		t[i].Service = ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.AddrFrom4([4]byte{10, byte(20 + i>>16), byte(i >> 8), byte(i)}), Port: 80, Scheduler: "rr"}
		t[i].Destinations = make([]ipvs.Destination, d)
		for j := range d {
			t[i].Destinations[j] = ipvs.Destination{Address: netip.AddrFrom4([4]byte{10, 100, byte(j), byte(i % 250)}),
				Port: uint16(8000 + i/250), Forward: ipvs.ForwardMasquerade, Weight: weight}
		}
	}
	return t
}

// BenchmarkComputeConverged plans a converged table of 10,000 services of
// 5 destinations: the cost of a sync that has nothing to do, beside the
// read.
func BenchmarkComputeConverged(b *testing.B) {
	current := readBack(benchTable(10000, 5, 1))
	desired := benchTable(10000, 5, 1)
	b.ReportAllocs()
	for b.Loop() {
		if p, err := Compute(current, desired, Options{}); err != nil || !p.Empty() {
			b.Fatal(err, p)
		}
	}
}

// BenchmarkComputeFromEmpty plans the creation of 10,000 services of 5
// destinations.
func BenchmarkComputeFromEmpty(b *testing.B) {
	desired := benchTable(10000, 5, 1)
	b.ReportAllocs()
	for b.Loop() {
		if p, err := Compute(nil, desired, Options{}); err != nil || len(p.Changes()) != 60000 {
			b.Fatal(err)
		}
	}
}
