package ipvs

import (
	"context"
	"errors"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ipvs-go/ipvs/internal/fakekernel"
	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// dumpOf serves dumps of services and destinations from fixed lists.
func dumpOf(services []Service, dests []Destination) func(*fakekernel.Request) fakekernel.Answer {
	return func(req *fakekernel.Request) fakekernel.Answer {
		var r fakekernel.Answer
		switch req.Cmd {
		case ipvsh.CmdGetService:
			for _, s := range services {
				r.Msgs = append(r.Msgs, kernelService(s, fakekernel.Options{}))
			}
		case ipvsh.CmdGetDest:
			for _, d := range dests {
				r.Msgs = append(r.Msgs, kernelDestination(d, fakekernel.Options{}))
			}
		}
		return r
	}
}

func manyServices(n int) []Service {
	var out []Service
	for i := range n {
		out = append(out, Service{Family: FamilyIPv4, Protocol: ProtocolTCP,
			Address: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), Port: 80, Scheduler: "rr", Flags: FlagHashed})
	}
	return out
}

func TestClientDumpSpansDatagrams(t *testing.T) {
	want := manyServices(7)
	k := newFakeKernel(t, dumpOf(want, nil))
	k.ChunkMessages = 3 // 7 services in 3 datagrams, DONE in the last
	got, err := testClient(t, k).Services(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		t.Fatalf("unexpected services (-want +got):\n%s", diff)
	}
}

func TestClientEmptyDumps(t *testing.T) {
	k := newFakeKernel(t, dumpOf(nil, nil))
	c := testClient(t, k)
	ctx := context.Background()
	svcs, err := c.Services(ctx)
	if err != nil || svcs == nil || len(svcs) != 0 {
		t.Fatalf("Services = %#v, %v; want an empty slice and no error", svcs, err)
	}
	dests, err := c.Destinations(ctx, tcp4)
	if err != nil || dests == nil || len(dests) != 0 {
		t.Fatalf("Destinations = %#v, %v; want an empty slice and no error", dests, err)
	}
	daemons, err := c.Daemons(ctx)
	if err != nil || daemons == nil || len(daemons) != 0 {
		t.Fatalf("Daemons = %#v, %v; want an empty slice and no error", daemons, err)
	}
}

func TestClientDumpEndsInError(t *testing.T) {
	first := true
	k := newFakeKernel(t, func(req *fakekernel.Request) fakekernel.Answer {
		r := dumpOf(manyServices(3), nil)(req)
		if first {
			r.DoneErrno, first = syscall.EINTR, false
		}
		return r
	})
	c := testClient(t, k)
	var n int
	var last error
	for _, err := range c.AllServices(context.Background()) {
		if err != nil {
			last = err
			break
		}
		n++
	}
	if n != 3 || !errors.Is(last, syscall.EINTR) {
		t.Fatalf("got %d services and error %v; want 3 and EINTR from NLMSG_DONE", n, last)
	}
	// The reply ended cleanly, so the socket is reused.
	if s, err := c.Services(context.Background()); err != nil || len(s) != 3 {
		t.Fatalf("Services after the failed dump: %d, %v", len(s), err)
	}
	if len(k.Sockets()) != 1 {
		t.Errorf("dialled %d sockets, want 1", len(k.Sockets()))
	}
}

// TestClientDumpInterrupted has the kernel mark a dump message with
// NLM_F_DUMP_INTR, which Linux's IPVS never does today but a later one may.
func TestClientDumpInterrupted(t *testing.T) {
	k := newFakeKernel(t, func(req *fakekernel.Request) fakekernel.Answer { return fakekernel.Answer{Lose: true} })
	c := testClient(t, k)
	cn, _ := c.acquire()
	fs := cn.sock.(*fakekernel.Socket)
	c.release(cn)
	done := make(chan error, 1)
	go func() { _, err := c.Services(context.Background()); done <- err }()
	for len(k.Recorded()) == 0 {
		time.Sleep(time.Millisecond)
	}
	seq := k.Recorded()[0].Header.Sequence
	fs.Deliver(nlmsg.AppendMessage(nil, testFamilyID, nlmsg.FlagMulti|nlmsg.FlagDumpIntr, seq, fs.PortID(), kernelService(tcp4, fakekernel.Options{})))
	if err := <-done; !errors.Is(err, nlmsg.ErrDumpInterrupted) {
		t.Fatalf("got %v, want ErrDumpInterrupted", err)
	}
	if !fs.Closed() {
		t.Error("the socket of the interrupted dump was reused")
	}
}

func TestClientIteratorBreak(t *testing.T) {
	k := newFakeKernel(t, dumpOf(manyServices(10), nil))
	c := testClient(t, k)
	for range c.AllServices(context.Background()) {
		break
	}
	got, err := c.Services(context.Background())
	if err != nil || len(got) != 10 {
		t.Fatalf("after a broken-off iteration: %d services, %v", len(got), err)
	}
	if len(k.Sockets()) != 2 {
		t.Errorf("dialled %d sockets, want 2: the half-read one must not be reused", len(k.Sockets()))
	}
}

// TestReadsAnyProtocol: the kernel accepts a service of any IP protocol,
// though it balances only TCP, UDP and SCTP; a table that holds one must
// still be read whole, its destinations included.
func TestReadsAnyProtocol(t *testing.T) {
	odd := tcp4
	odd.Family, odd.Protocol = FamilyIPv4, 200
	k := newFakeKernel(t, dumpOf([]Service{odd}, []Destination{masq4}))
	vs, err := testClient(t, k).VirtualServers(context.Background())
	if err != nil || len(vs) != 1 || len(vs[0].Destinations) != 1 {
		t.Fatalf("VirtualServers: %v, %v", vs, err)
	}
}
