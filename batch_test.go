package ipvs

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs/internal/fakekernel"
	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

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
