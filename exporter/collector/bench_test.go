package collector

import (
	"io"
	"net/netip"
	"testing"

	"github.com/ipvs-go/ipvs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// bigTable is services × dests, as the bench suite's table.
func bigTable(services, dests int) *fakeSource {
	src := goldenTable()
	src.vss = make([]ipvs.VirtualServer, services)
	for i := range src.vss {
		vs := &src.vss[i]
		vs.Service = ipvs.Service{Family: ipvs.FamilyIPv4, Protocol: ipvs.ProtocolTCP,
			Address: netip.AddrFrom4([4]byte{10, byte(20 + i>>16), byte(i >> 8), byte(i)}), Port: 80, Scheduler: "rr", Stats: stats(uint64(i))}
		for j := range dests {
			vs.Destinations = append(vs.Destinations, dest(netip.AddrFrom4([4]byte{10, 100, byte(j), byte(i % 250)}),
				uint16(8000+i/250), ipvs.ForwardMasquerade, 1, uint64(j)))
		}
	}
	return src
}

// BenchmarkScrape writes a table of 10,000 services with 10 destinations
// each as the text exposition: as promhttp does, through a registry, and
// with WriteText.
func BenchmarkScrape(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"all", nil},
		{"text", nil},
		{"summed", []Option{WithLabels("protocol", "port", "dest_address")}},
		{"nodests", []Option{WithoutDestinations()}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c, err := New(bigTable(10000, 10), tc.opts...)
			if err != nil {
				b.Fatal(err)
			}
			if tc.name == "text" {
				b.ReportAllocs()
				for b.Loop() {
					if err := WriteText(b.Context(), io.Discard, c); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(c)
			b.ReportAllocs()
			for b.Loop() {
				mfs, err := reg.Gather()
				if err != nil {
					b.Fatal(err)
				}
				enc := expfmt.NewEncoder(io.Discard, expfmt.NewFormat(expfmt.TypeTextPlain))
				for _, mf := range mfs {
					if err := enc.Encode(mf); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
