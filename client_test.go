package ipvs

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
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

// TestClientReplyTimeout checks that a lost reply can not hang a call
// whose context has no deadline.
func TestClientReplyTimeout(t *testing.T) {
	k := newFakeKernel(t, func(req *fakekernel.Request) fakekernel.Answer { return fakekernel.Answer{Lose: true} })
	c := testClient(t, k)
	c.replyTimeout = 30 * time.Millisecond
	err := c.Flush(context.Background())
	if !errors.Is(err, errReplyTimeout) {
		t.Fatalf("got %v, want errReplyTimeout", err)
	}
	if !k.Sockets()[0].Closed() {
		t.Error("the socket that lost its reply was reused")
	}
}

func TestClientRejectsStrayReply(t *testing.T) {
	k := newFakeKernel(t, func(req *fakekernel.Request) fakekernel.Answer { return fakekernel.Answer{Lose: true} })
	c := testClient(t, k)
	cn, _ := c.acquire()
	fs := cn.sock.(*fakekernel.Socket)
	c.release(cn)
	// A reply to an earlier request waits on the socket.
	fs.Deliver(nlmsg.AppendMessage(nil, nlmsg.TypeError, 0, 1, fs.PortID(), make([]byte, 20)))
	err := c.Flush(context.Background())
	if err == nil || !strings.Contains(err.Error(), "sequence") {
		t.Fatalf("got %v, want a sequence mismatch", err)
	}
	if !fs.Closed() {
		t.Error("the out-of-step socket was not closed")
	}
}

// TestClientCancel cancels a call that the kernel never answers, then
// checks that the next call succeeds on a new socket, and that the
// abandoned socket's late reply reaches nobody.
func TestClientCancel(t *testing.T) {
	var mu sync.Mutex
	silent := true
	k := newFakeKernel(t, func(req *fakekernel.Request) fakekernel.Answer {
		mu.Lock()
		defer mu.Unlock()
		if silent {
			return fakekernel.Answer{Lose: true}
		}
		return answer(req)
	})
	c := testClient(t, k)

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Info(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want an error wrapping context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancellation took %s", d)
	}

	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if _, err := c.Info(ctx2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want an error wrapping context.DeadlineExceeded", err)
	}

	old := k.Sockets()[0]
	if !old.Closed() {
		t.Fatal("the abandoned socket was not closed")
	}
	mu.Lock()
	silent = false
	mu.Unlock()
	// The late reply to the first request arrives on the abandoned socket.
	old.Deliver(nlmsg.AppendMessage(nil, testFamilyID, 0, k.Recorded()[0].Header.Sequence, old.PortID(), kernelInfo(Info{})))
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatalf("call after cancellation: %v", err)
	}
	if info.ConnectionTableSize != 4096 {
		t.Fatalf("got %+v, want the new request's reply", info)
	}
	if len(k.Sockets()) != 3 {
		t.Errorf("dialled %d sockets, want 3: each abandoned one replaced", len(k.Sockets()))
	}
}

func TestClientCancelledBeforeCall(t *testing.T) {
	k := newFakeKernel(t, answer)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := testClient(t, k).Flush(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if n := len(k.Recorded()); n != 0 {
		t.Fatalf("sent %d requests", n)
	}
}

// TestClientConcurrent runs calls from many goroutines; go test -race
// checks the pool.
func TestClientConcurrent(t *testing.T) {
	k := newFakeKernel(t, dumpOf(manyServices(5), nil))
	c := testClient(t, k)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 16 {
		wg.Go(func() {
			for range 20 {
				s, err := c.Services(context.Background())
				if err == nil && len(s) != 5 {
					err = fmt.Errorf("got %d services", len(s))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(c.idle[poolDefault]) > maxIdleSockets {
		t.Errorf("%d idle sockets, more than %d", len(c.idle[poolDefault]), maxIdleSockets)
	}
}

func TestStopDaemonWithoutReply(t *testing.T) {
	for _, tt := range []struct {
		name    string
		running []Daemon
		wantErr bool
	}{
		{"stopped", nil, false},
		{"other role runs", []Daemon{{State: DaemonBackup, Interface: "lo"}}, false},
		{"still runs", []Daemon{{State: DaemonMaster, Interface: "lo"}}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k := newFakeKernel(t, func(req *fakekernel.Request) fakekernel.Answer {
				if req.Cmd == ipvsh.CmdDelDaemon {
					return fakekernel.Answer{Lose: true}
				}
				var r fakekernel.Answer
				for _, d := range tt.running {
					r.Msgs = append(r.Msgs, kernelDaemon(d))
				}
				return r
			})
			err := testClient(t, k).StopDaemon(context.Background(), DaemonMaster)
			if (err != nil) != tt.wantErr {
				t.Fatalf("StopDaemon: %v, want error %v", err, tt.wantErr)
			}
			if cmds := len(k.Recorded()); cmds != 2 {
				t.Errorf("sent %d requests, want DEL_DAEMON then GET_DAEMON", cmds)
			}
		})
	}
}

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
	if err := <-done; !errors.Is(err, ErrDumpInterrupted) {
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
