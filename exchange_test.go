package ipvs

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs/internal/fakekernel"
	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
	"github.com/ipvs-go/ipvs/internal/seam"
)

// Regression tests of the exchange path: each pins a promise the client
// broke before it had one exchange path.

// endlessSocket answers a dump with datagrams that never end, each
// always ready, as a peer that keeps sending would: the kernel builds
// each chunk within the recvmsg that asks for it, so a real dump never
// makes the reader wait either.
type endlessSocket struct {
	seq    atomic.Uint32
	reads  atomic.Int64
	closed atomic.Bool
	dgram  []byte
}

func (s *endlessSocket) Send(b []byte, _ bool) error {
	s.seq.Store(binary32(b[8:12]))
	return nil
}

func (s *endlessSocket) Recv(b []byte, _ bool) (int, error) {
	if s.closed.Load() {
		return 0, os.ErrClosed
	}
	s.reads.Add(1)
	d := nlmsg.AppendMessage(s.dgram[:0], testFamilyID, nlmsg.FlagMulti, s.seq.Load(), testPortID, kernelService(tcp4v, fakekernel.Options{}))
	return copy(b, d), nil
}

func (s *endlessSocket) SetDeadline(time.Time) error { return nil }
func (s *endlessSocket) PortID() uint32              { return testPortID }
func (s *endlessSocket) Buffers() (int, int)         { return 1 << 16, 1 << 16 }
func (s *endlessSocket) Close() error                { s.closed.Store(true); return nil }

// tcp4v is tcp4 with its family set, as the kernel reports it.
var tcp4v = func() Service { s := tcp4; s.Family = FamilyIPv4; return s }()

func binary32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// endlessClient returns a client whose every socket is endless, and the
// first of them.
func endlessClient(t *testing.T) (*Client, *endlessSocket) {
	first := &endlessSocket{}
	dialled := false
	c := newClientWith(&Config{}, func() (seam.Socket, error) {
		if !dialled {
			dialled = true
			return first, nil
		}
		return &endlessSocket{}, nil
	}, genlFamily{id: testFamilyID, version: ipvsh.GenlVersion})
	t.Cleanup(func() { _ = c.Close() })
	return c, first
}

// TestContextEndsDumpThatNeverWaits: a context's deadline and its
// cancellation end a dump whose datagrams are always ready.
func TestContextEndsDumpThatNeverWaits(t *testing.T) {
	c, _ := endlessClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.Services(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Services: %v, want context.DeadlineExceeded", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	n := 0
	for _, err := range c.AllServices(ctx) {
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("AllServices: %v, want context.Canceled", err)
			}
			break
		}
		if n++; n == 100 {
			cancel()
		}
		if n > 101 {
			t.Fatal("the dump went on after its context was cancelled")
		}
	}
}

// TestEndlessDumpBoundedByLimit: without a deadline, a reply stream that
// never ends stops at the documented limit of a collected dump instead of
// growing memory without bound.
func TestEndlessDumpBoundedByLimit(t *testing.T) {
	defer func(n int) { maxCollected = n }(maxCollected)
	maxCollected = 5000
	c, s := endlessClient(t)
	_, err := c.Services(context.Background())
	if !errors.Is(err, errTooLarge) {
		t.Fatalf("Services: %v, want errTooLarge", err)
	}
	if r := s.reads.Load(); r > 5002 {
		t.Errorf("read %d datagrams for a limit of 5000 objects", r)
	}
}

// TestApplySequenceWrap sends a batch whose datagram's sequence numbers
// cross 2^32: every answer must still be matched to its write.
func TestApplySequenceWrap(t *testing.T) {
	k := newFakeKernel(t, func(req *fakekernel.Request) fakekernel.Answer {
		if req.Cmd == ipvsh.CmdNewDest {
			return fakekernel.Answer{Errno: syscall.EEXIST}
		}
		return fakekernel.Answer{}
	})
	k.SendBuffer, k.ReceiveBuffer = 1<<20, 1<<20
	c := testClient(t, k)
	cn, err := c.acquire()
	if err != nil {
		t.Fatal(err)
	}
	cn.seq = ^uint32(0) - 3
	c.release(cn)
	var b Batch
	for range 4 {
		b.CreateService(tcp4)
		b.CreateDestination(tcp4, masq4)
	}
	res, err := c.Apply(context.Background(), &b)
	var be *BatchError
	if !errors.As(err, &be) || be.Failed != 4 || be.Cause != nil {
		t.Fatalf("Apply: %v; want 4 refused destinations and no cause", err)
	}
	for i, r := range res {
		if want := i%2 == 1; (r != nil) != want || (want && !errors.Is(r, os.ErrExist)) {
			t.Errorf("write %d: %v", i, r)
		}
	}
	if k.Writes() != 1 {
		t.Errorf("%d datagrams, want 1 across the wrap", k.Writes())
	}
}

// TestClientClose: Close closes the idle sockets, and a call after it
// fails as one on a closed client.
func TestClientClose(t *testing.T) {
	k := newFakeKernel(t, answer)
	c := testClient(t, k)
	if _, err := c.Info(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if !k.Sockets()[0].Closed() {
		t.Error("idle socket left open")
	}
	if err := c.Flush(context.Background()); !errors.Is(err, errClosed) {
		t.Errorf("call after Close: %v", err)
	}
}

// TestCloseConcurrently closes a client from many goroutines: go test
// -race checks the release of the namespace handle.
func TestCloseConcurrently(t *testing.T) {
	k := newFakeKernel(t, answer)
	c := testClient(t, k)
	var released atomic.Int32
	c.releaseNS = func() error { released.Add(1); return nil }
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { _ = c.Close() })
	}
	wg.Wait()
	if n := released.Load(); n != 1 {
		t.Fatalf("namespace released %d times", n)
	}
}

// TestCloseEndsCallsInFlight: Close ends a call that waits on a silent
// kernel and a dump that reads, at once, with net.ErrClosed.
func TestCloseEndsCallsInFlight(t *testing.T) {
	k := newFakeKernel(t, func(req *fakekernel.Request) fakekernel.Answer { return fakekernel.Answer{Lose: true} })
	silent := testClient(t, k)
	endless, _ := endlessClient(t)
	errs := make(chan error, 2)
	go func() { errs <- silent.Flush(context.Background()) }()
	go func() { _, err := endless.Services(context.Background()); errs <- err }()
	for len(k.Recorded()) == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond)
	start := time.Now()
	_ = silent.Close()
	_ = endless.Close()
	for range 2 {
		if err := <-errs; !errors.Is(err, net.ErrClosed) {
			t.Errorf("call in flight: %v, want net.ErrClosed", err)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %s to end the calls (ReplyTimeout is 5s)", d)
	}
}

// TestCloseWaitsForDial: a call that passed the closed check dials while
// Close runs; the namespace handle must outlive that dial, and the call
// must end with net.ErrClosed, never with a socket of a released handle.
func TestCloseWaitsForDial(t *testing.T) {
	k := newFakeKernel(t, answer)
	dialing, proceed := make(chan struct{}), make(chan struct{})
	var nsOpen atomic.Bool
	nsOpen.Store(true)
	c := newClientWith(&Config{}, func() (seam.Socket, error) {
		close(dialing)
		<-proceed
		if !nsOpen.Load() {
			t.Error("dialled with a released namespace handle")
		}
		return k.Dial()
	}, genlFamily{id: testFamilyID, version: ipvsh.GenlVersion})
	c.releaseNS = func() error { nsOpen.Store(false); return nil }
	errc := make(chan error, 1)
	go func() { errc <- c.Flush(context.Background()) }()
	<-dialing
	closed := make(chan struct{})
	go func() { _ = c.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a dial was using the namespace")
	case <-time.After(20 * time.Millisecond):
	}
	close(proceed)
	<-closed
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("call racing Close: %v, want net.ErrClosed", err)
	}
	if !k.Sockets()[0].Closed() {
		t.Error("the socket dialled during Close was left open")
	}
}

// TestStrayDatagramAfterGet: a datagram queued after a complete single
// reply must not fail the next, unrelated call on that socket.
func TestStrayDatagramAfterGet(t *testing.T) {
	k := newFakeKernel(t, func(req *fakekernel.Request) fakekernel.Answer {
		r := answer(req)
		if req.Cmd == ipvsh.CmdGetInfo {
			r.Raw = [][]byte{
				nlmsg.AppendMessage(nil, testFamilyID, 0, req.Header.Sequence, req.PortID, kernelInfo(Info{ConnectionTableSize: 4096})),
				nlmsg.AppendMessage(nil, testFamilyID, 0, req.Header.Sequence, req.PortID, kernelInfo(Info{})),
			}
		}
		return r
	})
	c := testClient(t, k)
	if _, err := c.Info(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(context.Background()); err != nil {
		t.Fatalf("the call after a stray datagram: %v", err)
	}
	if len(k.Sockets()) != 2 || !k.Sockets()[0].Closed() {
		t.Errorf("dialled %d; the socket with the stray datagram must be closed, not reused", len(k.Sockets()))
	}
}

// TestReplyTypeAndCommandChecked: a reply of the wrong command or message
// type is an error, never a zero value.
func TestReplyTypeAndCommandChecked(t *testing.T) {
	daemonReply := func(req *fakekernel.Request) fakekernel.Answer {
		return fakekernel.Answer{Msgs: [][]byte{kernelDaemon(Daemon{State: DaemonMaster, Interface: "lo"})}}
	}
	if _, err := testClient(t, newFakeKernel(t, daemonReply)).Timeouts(context.Background()); err == nil {
		t.Error("Timeouts accepted a daemon message")
	}
	wrongType := func(req *fakekernel.Request) fakekernel.Answer {
		return fakekernel.Answer{Raw: [][]byte{nlmsg.AppendMessage(nil, testFamilyID+1, 0, req.Header.Sequence, req.PortID, kernelInfo(Info{}))}}
	}
	if _, err := testClient(t, newFakeKernel(t, wrongType)).Info(context.Background()); err == nil {
		t.Error("Info accepted a message of another type")
	}
}

// TestFamilyReloaded: after ip_vs is reloaded its family has a new ID,
// and requests under the old one get ENOENT; the client looks it up again
// and resends, once. If the family is gone, the error says so.
func TestFamilyReloaded(t *testing.T) {
	k := newFakeKernel(t, answer)
	c := testClient(t, k)
	k.SetFamily(testFamilyID+1, true)
	if err := c.Flush(context.Background()); err != nil {
		t.Fatalf("Flush after a reload: %v", err)
	}
	var b Batch
	b.CreateService(tcp4)
	if _, err := c.Apply(context.Background(), &b); err != nil {
		t.Fatalf("Apply after a reload: %v", err)
	}
	k.SetFamily(testFamilyID+1, false)
	err := c.Flush(context.Background())
	if !errors.Is(err, ErrNoIPVS) {
		t.Fatalf("Flush without IPVS: %v, want ErrNoIPVS", err)
	}
	// An ENOENT of the family itself is not mistaken for a reload.
	k.SetFamily(testFamilyID+1, true)
	k.SetHandler(func(req *fakekernel.Request) fakekernel.Answer { return fakekernel.Answer{Errno: syscall.ENOENT} })
	if err := c.CreateService(context.Background(), tcp4); !errors.Is(err, syscall.ENOENT) || errors.Is(err, ErrNoIPVS) {
		t.Fatalf("unknown scheduler: %v, want plain ENOENT", err)
	}
}

// TestDestinationTakesServicePort: like ipvsadm, a destination without a
// port in a service with one uses the service's.
func TestDestinationTakesServicePort(t *testing.T) {
	k := newFakeKernel(t, answer)
	noPort := masq4
	noPort.Port = 0
	if err := testClient(t, k).CreateDestination(context.Background(), tcp4, noPort); err != nil {
		t.Fatal(err)
	}
	var got Destination
	if err := decodeNested(k.Recorded()[0].Attrs, ipvsh.CmdAttrDest, "DEST", func(b []byte) error { return got.decode(b, FamilyIPv4) }); err != nil {
		t.Fatal(err)
	}
	if got.Port != tcp4.Port {
		t.Fatalf("sent port %d, want the service's %d", got.Port, tcp4.Port)
	}
}
