package ipvs

import (
	"context"
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs/internal/fakekernel"
	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
	"github.com/ipvs-go/ipvs/internal/seam"
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
	w := nlmsg.AttrWriter{B: make([]byte, 0, 512)}
	for b.Loop() {
		w.B = w.B[:0]
		sip.encodeNest(&w, sip.key())
	}
}

func BenchmarkEncodeDestination(b *testing.B) {
	b.ReportAllocs()
	w := nlmsg.AttrWriter{B: make([]byte, 0, 512)}
	for b.Loop() {
		w.B = w.B[:0]
		w.B = destinationOp{tcp4.key(), masq4, true}.encode(w.B)
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

// ackSocket acknowledges every request without allocating, so that what
// a call allocates is the client's alone.
type ackSocket struct {
	ack    [36]byte
	queued bool
}

func (s *ackSocket) Send(b []byte, _ bool) error {
	// An NLMSG_ERROR of errno 0 (an ACK), capped, for the request's
	// sequence number.
	binary.NativeEndian.PutUint32(s.ack[0:], uint32(len(s.ack)))
	binary.NativeEndian.PutUint16(s.ack[4:], nlmsg.TypeError)
	binary.NativeEndian.PutUint16(s.ack[6:], nlmsg.FlagCapped)
	copy(s.ack[8:12], b[8:12])
	binary.NativeEndian.PutUint32(s.ack[12:], testPortID)
	copy(s.ack[20:], b[:16])
	s.queued = true
	return nil
}

func (s *ackSocket) Recv(b []byte, _ bool) (int, error) {
	if !s.queued {
		return 0, seam.ErrWouldBlock
	}
	s.queued = false
	return copy(b, s.ack[:]), nil
}

func (s *ackSocket) SetDeadline(time.Time) error { return nil }
func (s *ackSocket) PortID() uint32              { return testPortID }
func (s *ackSocket) Buffers() (int, int)         { return 1 << 20, 1 << 20 }
func (s *ackSocket) Close() error                { return nil }

// TestSingleWriteAllocations pins what a single write allocates: nothing
// on its way through validation, encoding, the exchange and the pool.
func TestSingleWriteAllocations(t *testing.T) {
	c := newClientWith(&Config{}, func() (seam.Socket, error) { return &ackSocket{}, nil }, genlFamily{id: testFamilyID, version: ipvsh.GenlVersion})
	defer c.Close()
	ctx := context.Background()
	cctx, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	for _, tt := range []struct {
		name string
		ctx  context.Context
		call func(ctx context.Context) error
	}{
		{"create service", ctx, func(ctx context.Context) error { return c.CreateService(ctx, sip) }},
		{"update destination", ctx, func(ctx context.Context) error { return c.UpdateDestination(ctx, tcp4, masq4) }},
		{"remove destination", ctx, func(ctx context.Context) error { return c.RemoveDestination(ctx, tcp4, masq4) }},
		{"remove service, with a deadline", cctx, func(ctx context.Context) error { return c.RemoveService(ctx, tcp4) }},
	} {
		var err error
		n := testing.AllocsPerRun(200, func() { err = tt.call(tt.ctx) })
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		t.Logf("%s: %v allocations", tt.name, n)
		if n > 1 {
			t.Errorf("%s: %v allocations per call, want at most 1", tt.name, n)
		}
	}
}
