package ipvs

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ipvs-go/ipvs/internal/fakekernel"
	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// The bulk paths: a Batch built and applied, and VirtualServers.

func mixedBatch() *Batch {
	var b Batch
	b.CreateService(tcp4)
	b.CreateDestination(tcp4, masq4)
	d := masq4
	d.Weight = 9
	b.UpdateDestination(tcp4, d)
	b.RemoveDestination(tcp4, masq4)
	s := tcp4
	s.Scheduler = "wrr"
	b.UpdateService(s)
	b.RemoveService(tcp4)
	return &b
}

// TestBatchGolden pins the bytes of a batch: the requests of the single
// calls, without NLM_F_ACK but on the last, with consecutive sequence
// numbers (zeroed in the golden file), in one datagram.
func TestBatchGolden(t *testing.T) {
	skipBigEndian(t)
	k := newFakeKernel(t, answer)
	k.SendBuffer, k.ReceiveBuffer = 1<<17, 100*errorAnswerCost
	res, err := testClient(t, k).Apply(context.Background(), mixedBatch())
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r != nil {
			t.Errorf("op %d: %v", i, r)
		}
	}
	reqs := k.Recorded()
	if k.Writes() != 1 || len(reqs) != 6 {
		t.Fatalf("%d datagrams, %d requests; want 1 and 6", k.Writes(), len(reqs))
	}
	var all []byte
	for i, r := range reqs {
		want := uint16(nlmsg.FlagRequest)
		if i == len(reqs)-1 {
			want |= nlmsg.FlagAck
		}
		if r.Header.Flags != want {
			t.Errorf("request %d has flags %#x, want %#x", i, r.Header.Flags, want)
		}
		if i > 0 && r.Header.Sequence != reqs[i-1].Header.Sequence+1 {
			t.Errorf("request %d has sequence %d after %d", i, r.Header.Sequence, reqs[i-1].Header.Sequence)
		}
		raw := append([]byte(nil), r.Raw...)
		copy(raw[8:12], []byte{0, 0, 0, 0})
		all = append(all, raw...)
	}
	golden(t, filepath.Join("requests", "batch_mixed.bin"), all)
}

// TestBatchResults has the kernel refuse some writes of a batch that
// spans several datagrams, and checks each write's result.
func TestBatchResults(t *testing.T) {
	refuse := map[uint8]syscall.Errno{ipvsh.CmdNewDest: syscall.EEXIST, ipvsh.CmdDelDest: syscall.ENOENT}
	k := newFakeKernel(t, func(req *fakekernel.Request) fakekernel.Answer {
		if req.Cmd == ipvsh.CmdGetInfo {
			return answer(req)
		}
		return fakekernel.Answer{Errno: refuse[req.Cmd]}
	})
	k.ReceiveBuffer = 4 * errorAnswerCost
	c := testClient(t, k)
	var b Batch
	d := masq4
	d.Weight = 9
	s := tcp4
	s.Scheduler = "wrr"
	// An invalid write in the middle is refused by the client alone.
	bad := tcp4
	bad.Scheduler = ""
	for k := range 3 {
		b.CreateService(tcp4)
		b.CreateDestination(tcp4, masq4)
		b.UpdateDestination(tcp4, d)
		b.RemoveDestination(tcp4, masq4)
		b.UpdateService(s)
		if k == 0 {
			b.CreateService(bad)
		}
		b.RemoveService(tcp4)
	}
	res, err := c.Apply(context.Background(), &b)
	// Refused writes make the error non-nil, so that checking it alone is
	// safe: one invalid, three duplicates, three missing destinations.
	var be *BatchError
	if !errors.As(err, &be) || be.Failed != 7 || be.Total != 19 || be.Cause != nil || !errors.Is(err, os.ErrExist) || !errors.Is(err, os.ErrInvalid) {
		t.Fatalf("Apply: %v; want a *BatchError of 7 of 19, matching os.ErrExist and os.ErrInvalid", err)
	}
	if len(res) != 19 {
		t.Fatalf("%d results for 19 writes", len(res))
	}
	for i, r := range res {
		o := b.ops[i]
		switch {
		case i == 5:
			if !errors.Is(r, os.ErrInvalid) {
				t.Errorf("op %d (invalid): %v", i, r)
			}
		case refuse[batchRequests[o.kind].cmd] != 0:
			if !errors.Is(r, refuse[batchRequests[o.kind].cmd]) || !errors.Is(r, map[syscall.Errno]error{syscall.EEXIST: os.ErrExist, syscall.ENOENT: os.ErrNotExist}[refuse[batchRequests[o.kind].cmd]]) {
				t.Errorf("op %d (%s): %v, want %v", i, batchRequests[o.kind].op, r, refuse[batchRequests[o.kind].cmd])
			}
			var e *Error
			if !errors.As(r, &e) || e.Op != batchRequests[o.kind].op {
				t.Errorf("op %d: %#v does not name its operation %q", i, r, batchRequests[o.kind].op)
			}
		case r != nil:
			t.Errorf("op %d (%s): %v", i, batchRequests[o.kind].op, r)
		}
	}
	if sent := len(k.Recorded()); sent != 18 || k.Writes() != 5 {
		t.Errorf("%d requests in %d datagrams; want 18 in 5", sent, k.Writes())
	}
	// The socket stays in step for the next call.
	if _, err := c.Info(context.Background()); err != nil || len(k.Sockets()) != 1 {
		t.Fatalf("after the batch: %v, %d sockets", err, len(k.Sockets()))
	}
}

func TestBatchSplitsByBytes(t *testing.T) {
	k := newFakeKernel(t, answer)
	k.SendBuffer, k.ReceiveBuffer = 600, 1000*errorAnswerCost
	var b Batch
	for i := range 10 {
		s := tcp4
		s.Port = uint16(i + 1)
		b.CreateService(s)
	}
	res, err := testClient(t, k).Apply(context.Background(), &b)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r != nil {
			t.Errorf("op %d: %v", i, r)
		}
	}
	// Each NEW_SERVICE is 92 bytes: three fit 300.
	if k.Writes() != 4 {
		t.Errorf("%d datagrams, want 4", k.Writes())
	}
}

func TestBatchCancelled(t *testing.T) {
	k := newFakeKernel(t, answer)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := testClient(t, k).Apply(ctx, mixedBatch())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	for i, r := range res {
		if !errors.Is(r, ErrNotSent) {
			t.Errorf("op %d: %v, want ErrNotSent", i, r)
		}
	}
}

// TestBatchLostAnswers has the kernel swallow the fence's ACK: the ops of
// that datagram are of unknown outcome, the ones after it not sent.
func TestBatchLostAnswers(t *testing.T) {
	k := newFakeKernel(t, func(req *fakekernel.Request) fakekernel.Answer {
		if req.Cmd == ipvsh.CmdDelDest {
			return fakekernel.Answer{Lose: true}
		}
		return fakekernel.Answer{}
	})
	k.ReceiveBuffer = 4 * errorAnswerCost
	c := testClient(t, k)
	c.replyTimeout = 50 * time.Millisecond
	res, err := c.Apply(context.Background(), mixedBatch())
	if !errors.Is(err, errReplyTimeout) {
		t.Fatalf("got %v", err)
	}
	for i, r := range res {
		want := ErrOutcomeUnknown
		if i >= 4 {
			want = ErrNotSent
		}
		if !errors.Is(r, want) {
			t.Errorf("op %d: %v, want %v", i, r, want)
		}
	}
}

func TestBatchEmptyAndReset(t *testing.T) {
	k := newFakeKernel(t, answer)
	var b Batch
	res, err := testClient(t, k).Apply(context.Background(), &b)
	if err != nil || len(res) != 0 || len(k.Recorded()) != 0 {
		t.Fatalf("empty batch: %v, %v, %d requests", res, err, len(k.Recorded()))
	}
	b.CreateService(Service{Protocol: ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 1, Scheduler: "rr"})
	b.Reset()
	if b.Len() != 0 {
		t.Fatal("Reset left writes")
	}
}

// TestBatchAppliedTwiceAtOnce: Apply writes the requests' headers into
// the Batch, so a second Apply of it while the first runs fails at once,
// and touches nothing the first sends.
func TestBatchAppliedTwiceAtOnce(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	k := newFakeKernel(t, func(req *fakekernel.Request) fakekernel.Answer {
		once.Do(func() { close(arrived); <-release })
		return answer(req)
	})
	c := testClient(t, k)
	var b Batch
	b.CreateService(tcp4)
	b.CreateDestination(tcp4, masq4)
	done := make(chan error, 1)
	go func() { _, err := c.Apply(context.Background(), &b); done <- err }()
	<-arrived
	if _, err := c.Apply(context.Background(), &b); !errors.Is(err, errBatchInUse) {
		t.Errorf("a second Apply of a batch in use: %v, want errBatchInUse", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("the first Apply: %v", err)
	}
	if _, err := c.Apply(context.Background(), &b); err != nil {
		t.Errorf("an Apply after the first: %v", err)
	}
}

// vsKernel serves n services, service i with i%5 destinations.
func vsKernel(t *testing.T, n int) (*fakekernel.Kernel, []VirtualServer) {
	var want []VirtualServer
	for i := range n {
		vs := VirtualServer{Service: manyServices(n)[i], Destinations: []Destination{}}
		for j := range i % 5 {
			vs.Destinations = append(vs.Destinations, Destination{Family: FamilyIPv4, Address: netip.AddrFrom4([4]byte{10, 2, byte(i), byte(j)}), Port: 80, Weight: uint32(j)})
		}
		want = append(want, vs)
	}
	k := newFakeKernel(t, func(req *fakekernel.Request) fakekernel.Answer {
		var r fakekernel.Answer
		switch req.Cmd {
		case ipvsh.CmdGetService:
			for _, vs := range want {
				r.Msgs = append(r.Msgs, kernelService(vs.Service, fakekernel.Options{}))
			}
		case ipvsh.CmdGetDest:
			var key Service
			if err := decodeServiceReply(req.Attrs, &key); err != nil {
				t.Errorf("GET_DEST request: %v", err)
			}
			i := int(key.Address.As4()[2])<<8 | int(key.Address.As4()[3])
			for _, d := range want[i].Destinations {
				r.Msgs = append(r.Msgs, kernelDestination(d, fakekernel.Options{}))
			}
		}
		return r
	})
	return k, want
}

func TestVirtualServers(t *testing.T) {
	k, want := vsKernel(t, 150)
	got, err := testClient(t, k).VirtualServers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		t.Fatalf("unexpected virtual servers (-want +got):\n%s", diff)
	}
	// One dump of services, one of destinations per service.
	if k.Writes() != 151 {
		t.Errorf("%d datagrams for 150 services, want 151", k.Writes())
	}
}

func TestVirtualServersError(t *testing.T) {
	k, _ := vsKernel(t, 10)
	inner := k.Handler()
	k.SetHandler(func(req *fakekernel.Request) fakekernel.Answer {
		if req.Cmd == ipvsh.CmdGetDest {
			return fakekernel.Answer{Errno: syscall.EPERM}
		}
		return inner(req)
	})
	_, err := testClient(t, k).VirtualServers(context.Background())
	if !errors.Is(err, syscall.EPERM) {
		t.Fatalf("got %v, want EPERM", err)
	}
}

func TestAllVirtualServersBreak(t *testing.T) {
	k, _ := vsKernel(t, 100)
	c := testClient(t, k)
	n := 0
	for _, err := range c.AllVirtualServers(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
	}
	// The next read works, on sockets in step.
	got, err := c.VirtualServers(context.Background())
	if err != nil || len(got) != 100 {
		t.Fatalf("after a broken-off read: %d, %v", len(got), err)
	}
}

// TestVirtualServersBadDestination checks that a destination reply that
// does not decode fails the read with the service named, and that a
// context canceled during the read ends it with the context's error.
func TestVirtualServersBadDestination(t *testing.T) {
	k, _ := vsKernel(t, 300)
	inner := k.Handler()
	k.SetHandler(func(req *fakekernel.Request) fakekernel.Answer {
		r := inner(req)
		if req.Cmd == ipvsh.CmdGetDest && len(r.Msgs) == 4 {
			// A DEST attribute whose one attribute is too short.
			r.Msgs[2] = []byte{ipvsh.CmdNewDest, 1, 0, 0, 8, 0, ipvsh.CmdAttrDest, 0x80, 3, 0, 1, 0}
		}
		return r
	})
	_, err := testClient(t, k).VirtualServers(context.Background())
	var e *Error
	if !errors.As(err, &e) || e.Op != opDests || !strings.Contains(err.Error(), "decode reply") || e.Object == "" {
		t.Fatalf("got %v, want a decode error of a destination dump naming its service", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	k.SetHandler(func(req *fakekernel.Request) fakekernel.Answer {
		if req.Cmd == ipvsh.CmdGetDest && req.Attrs != nil {
			cancel()
		}
		return inner(req)
	})
	if _, err := testClient(t, k).VirtualServers(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}
