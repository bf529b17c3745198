package ipvs

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/ipvs-go/ipvs/internal/fakekernel"
	"github.com/ipvs-go/ipvs/internal/ipvsh"
)

func benchReply(b *testing.B, name string) []byte {
	msg, err := os.ReadFile(filepath.Join("testdata", "replies", "linux-6.1", name+".bin"))
	if err != nil {
		b.Fatal(err)
	}
	return msg
}

func BenchmarkDecodeService(b *testing.B) {
	msg := benchReply(b, "service_sip4")
	b.ReportAllocs()
	var s Service
	for b.Loop() {
		if err := decodeServiceMessage(msg, &s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeDestination(b *testing.B) {
	msg := benchReply(b, "dests_tcp4_0")
	b.ReportAllocs()
	var d Destination
	for b.Loop() {
		if err := decodeDestinationMessage(msg, FamilyIPv4, &d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeService(b *testing.B) {
	b.ReportAllocs()
	w := attrWriter{b: make([]byte, 0, 512)}
	for b.Loop() {
		w.b = w.b[:0]
		sip.encodeNest(&w, sip.key())
	}
}

func BenchmarkEncodeDestination(b *testing.B) {
	b.ReportAllocs()
	w := attrWriter{b: make([]byte, 0, 512)}
	for b.Loop() {
		w.b = w.b[:0]
		w.b = destinationSpec{tcp4.key(), masq4}.encode(w.b)
	}
}

// BenchmarkServicesDump reads 1000 services through the whole client
// path, from a fake kernel's datagrams: allocations per service.
func BenchmarkServicesDump(b *testing.B) {
	c := dumpClient(b, 0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		got, err := c.Services(ctx)
		if err != nil || len(got) != 1000 {
			b.Fatal(len(got), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/service")
}

// dumpClient returns a client of a fake kernel with 1000 services of
// dests destinations each.
func dumpClient(b *testing.B, dests int) *Client {
	var svcs, dsts [][]byte
	for _, s := range manyServices(1000) {
		svcs = append(svcs, kernelService(s, fakekernel.Options{}))
	}
	for j := range dests {
		dsts = append(dsts, kernelDestination(Destination{Address: netip.AddrFrom4([4]byte{10, 9, byte(j), 1}), Port: 80, Weight: 1}, fakekernel.Options{}))
	}
	k := newFakeKernel(b, func(req *fakekernel.Request) fakekernel.Answer {
		switch req.Cmd {
		case ipvsh.CmdGetService:
			return fakekernel.Answer{Msgs: svcs}
		case ipvsh.CmdGetDest:
			return fakekernel.Answer{Msgs: dsts}
		}
		return fakekernel.Answer{}
	})
	k.ChunkMessages = 100
	return testClient(b, k)
}

// BenchmarkCreateService is one single call through the client path.
func BenchmarkCreateService(b *testing.B) {
	k := newFakeKernel(b, func(*fakekernel.Request) fakekernel.Answer { return fakekernel.Answer{} })
	c := testClient(b, k)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.CreateService(ctx, sip); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBatch builds and applies 1000 services with 10 destinations
// each against the fake kernel: allocations per write.
func BenchmarkBatch(b *testing.B) {
	k := newFakeKernel(b, func(*fakekernel.Request) fakekernel.Answer { return fakekernel.Answer{} })
	k.SendBuffer, k.ReceiveBuffer = 8<<20, 8<<20
	c := testClient(b, k)
	ctx := context.Background()
	svcs := manyServices(1000)
	var batch Batch
	b.ReportAllocs()
	for b.Loop() {
		batch.Reset()
		for i, s := range svcs {
			batch.CreateService(s)
			for j := range 10 {
				batch.CreateDestination(s, Destination{Address: netip.AddrFrom4([4]byte{10, 9, byte(j), byte(i)}), Port: 80, Weight: 1})
			}
		}
		res, err := c.Apply(ctx, &batch)
		if err != nil || res[0] != nil {
			b.Fatal(err, res[0])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*11000), "ns/write")
}

// BenchmarkBatchBuild measures adding writes to a batch: checking and
// encoding them.
func BenchmarkBatchBuild(b *testing.B) {
	var batch Batch
	svc := tcp4
	b.ReportAllocs()
	for b.Loop() {
		batch.Reset()
		for j := range 100 {
			batch.CreateDestination(svc, Destination{Address: netip.AddrFrom4([4]byte{10, 9, byte(j), 1}), Port: 80, Weight: 1})
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/write")
}

// BenchmarkVirtualServers reads 1000 services with 5 destinations each
// through the whole client path, from a fake kernel's datagrams: the read
// reconcile and the exporter make, with the fake kernel's framing in its
// cost.
func BenchmarkVirtualServers(b *testing.B) {
	c := dumpClient(b, 5)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		got, err := c.VirtualServers(ctx)
		if err != nil || len(got) != 1000 || len(got[999].Destinations) != 5 {
			b.Fatal(len(got), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/service")
}
