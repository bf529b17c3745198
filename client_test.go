package ipvs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

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
