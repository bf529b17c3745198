package ipvstest

import (
	"net/netip"
	"testing"

	"github.com/ipvs-go/ipvs"
)

// BenchmarkApply times a batch of 1000 services with 10 destinations each
// through a client and the model, then reads the table back.
func BenchmarkApply(b *testing.B) {
	f := NewFake()
	c := f.Client(b)
	for b.Loop() {
		var batch ipvs.Batch
		for i := range 1000 {
			s := with(sTCP, func(s *ipvs.Service) { s.Port = uint16(i + 1) })
			batch.CreateService(s)
			for j := range 10 {
				batch.CreateDestination(s, ipvs.Destination{Address: netip.AddrFrom4([4]byte{10, 2, byte(j), 1}), Port: 80, Weight: 1})
			}
		}
		if _, err := c.Apply(b.Context(), &batch); err != nil {
			b.Fatal(err)
		}
		if _, err := c.VirtualServers(b.Context()); err != nil {
			b.Fatal(err)
		}
		must(b, c.Flush(b.Context()))
	}
}
