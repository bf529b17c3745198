package schema

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"

	"github.com/ipvs-go/ipvs"
)

// bigTable is a table of 10,000 services × 10 destinations.
func bigTable() []ipvs.VirtualServer {
	vs := make([]ipvs.VirtualServer, 10000)
	for i := range vs {
		vs[i].Service = ipvs.Service{Family: ipvs.FamilyIPv4, Protocol: ipvs.ProtocolTCP, Port: 80, Scheduler: "rr",
			Address: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})}
		for j := range 10 {
			vs[i].Destinations = append(vs[i].Destinations, ipvs.Destination{Address: netip.AddrFrom4([4]byte{172, 16, 0, byte(j + 1)}),
				Port: 8080, Forward: ipvs.ForwardMasquerade, Weight: 1})
		}
	}
	return vs
}

// BenchmarkEncode encodes the listing of bigTable as YAML and JSON.
func BenchmarkEncode(b *testing.B) {
	t := &Table{Services: FromServices(bigTable())}
	for _, yamlOut := range []bool{true, false} {
		b.Run(fmt.Sprintf("yaml=%v", yamlOut), func(b *testing.B) {
			for b.Loop() {
				if _, err := Encode(t, yamlOut, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecode decodes the YAML and JSON listings of bigTable, as
// apply does, and reports the bytes it allocates against the file's
// size.
func BenchmarkDecode(b *testing.B) {
	vs := bigTable()
	for _, yamlOut := range []bool{true, false} {
		data, err := Encode(&Table{Services: FromServices(vs)}, yamlOut, false)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("yaml=%v", yamlOut), func(b *testing.B) {
			var held uint64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				t, err := Decode(data)
				if err != nil {
					b.Fatal(err)
				}
				d, err := t.Desired()
				if err != nil {
					b.Fatal(err)
				}
				runtime.ReadMemStats(&after)
				held = after.TotalAlloc - before.TotalAlloc
				runtime.KeepAlive(d)
			}
			b.ReportMetric(float64(held)/float64(len(data)), "alloc/filebyte")
			b.ReportMetric(float64(len(data))/(1<<20), "fileMiB")
		})
	}
}
