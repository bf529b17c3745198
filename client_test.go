package ipvs

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// TestClientErrors returns each errno from the kernel for each method and
// checks what errors.Is, errors.As and the message make of it.
func TestClientErrors(t *testing.T) {
	errnos := []struct {
		errno syscall.Errno
		is    error
	}{
		{syscall.ESRCH, os.ErrNotExist},
		{syscall.ENOENT, os.ErrNotExist},
		{syscall.EEXIST, os.ErrExist},
		{syscall.EPERM, os.ErrPermission},
		{syscall.EACCES, os.ErrPermission},
		{syscall.ENODEV, os.ErrNotExist},
		{syscall.EINVAL, nil},
		{syscall.ERANGE, nil},
		{syscall.EOPNOTSUPP, nil},
	}
	for _, m := range goldenRequests {
		for _, e := range errnos {
			t.Run(fmt.Sprintf("%s/%s", m.name, e.errno), func(t *testing.T) {
				k := newFakeKernel(t, func(req kernelRequest) kernelReply { return kernelReply{Errno: e.errno} })
				err := m.call(context.Background(), k.client())
				if err == nil {
					t.Fatal("no error")
				}
				var ie *Error
				if !errors.As(err, &ie) {
					t.Fatalf("error %T is not an *ipvs.Error: %v", err, err)
				}
				if !errors.Is(err, e.errno) {
					t.Errorf("errors.Is(err, %s) is false: %v", e.errno, err)
				}
				var errno syscall.Errno
				if !errors.As(err, &errno) || errno != e.errno {
					t.Errorf("errors.As gives errno %v, want %v", errno, e.errno)
				}
				for _, sentinel := range []error{os.ErrNotExist, os.ErrExist, os.ErrPermission} {
					if got, want := errors.Is(err, sentinel), sentinel == e.is; got != want {
						t.Errorf("errors.Is(err, %v) = %v, want %v: %v", sentinel, got, want, err)
					}
				}
				if !strings.HasPrefix(err.Error(), "ipvs: "+ie.Op) {
					t.Errorf("message %q does not start with the operation %q", err, ie.Op)
				}
			})
		}
	}
}

// TestErrorMeanings checks that errno spellings follow libipvs's table,
// which tells a missing scheduler from a missing service or destination.
func TestErrorMeanings(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		errno syscall.Errno
		call  func(c *Client) error
		want  string
	}{
		{syscall.ENOENT, func(c *Client) error { return c.CreateService(ctx, tcp4) },
			"ipvs: create service tcp 10.0.0.1:80: scheduler or persistence engine not found (no such file or directory)"},
		{syscall.ESRCH, func(c *Client) error { return c.RemoveService(ctx, tcp4) },
			"ipvs: remove service tcp 10.0.0.1:80: no such service (no such process)"},
		{syscall.ENOENT, func(c *Client) error { return c.RemoveDestination(ctx, tcp4, masq4) },
			"ipvs: remove destination 192.168.1.2:8080 of tcp 10.0.0.1:80: no such destination (no such file or directory)"},
		{syscall.ESRCH, func(c *Client) error { return c.CreateDestination(ctx, tcp4, masq4) },
			"ipvs: create destination 192.168.1.2:8080 of tcp 10.0.0.1:80: service not defined (no such process)"},
		{syscall.EEXIST, func(c *Client) error { return c.StartDaemon(ctx, Daemon{State: DaemonBackup, Interface: "lo"}) },
			"ipvs: start daemon backup on lo (sync id 0): a daemon of that state is already running (file exists)"},
		{syscall.EPERM, func(c *Client) error { _, err := c.Services(ctx); return err },
			"ipvs: list services: permission denied: IPVS needs CAP_NET_ADMIN in the initial user namespace, for reads too (operation not permitted)"},
	}
	for _, tt := range tests {
		k := newFakeKernel(t, func(kernelRequest) kernelReply { return kernelReply{Errno: tt.errno} })
		if got := tt.call(k.client()); got == nil || got.Error() != tt.want {
			t.Errorf("got  %v\nwant %s", got, tt.want)
		}
	}
}

func TestClientExtendedAck(t *testing.T) {
	k := newFakeKernel(t, func(kernelRequest) kernelReply {
		return kernelReply{Errno: syscall.EINVAL, ExtAck: "Attribute failed policy validation"}
	})
	err := k.client().StartDaemon(context.Background(), Daemon{State: DaemonMaster, Interface: "eth0"})
	var ie *Error
	if !errors.As(err, &ie) || ie.Message != "Attribute failed policy validation" {
		t.Fatalf("extended ACK message not carried: %#v", err)
	}
	if !strings.HasSuffix(err.Error(), ": kernel says: Attribute failed policy validation") {
		t.Errorf("message %q lacks the kernel's text", err)
	}
}

// dumpOf serves dumps of services and destinations from fixed lists.
func dumpOf(services []Service, dests []Destination) kernelHandler {
	return func(req kernelRequest) kernelReply {
		var r kernelReply
		switch req.Cmd {
		case ipvsh.CmdGetService:
			for _, s := range services {
				r.Msgs = append(r.Msgs, kernelService(s, replyOptions{}))
			}
		case ipvsh.CmdGetDest:
			for _, d := range dests {
				r.Msgs = append(r.Msgs, kernelDestination(d, replyOptions{}))
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
	k.perDgram = 3 // 7 services in 3 datagrams, DONE in the last
	got, err := k.client().Services(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		t.Fatalf("unexpected services (-want +got):\n%s", diff)
	}
}

func TestClientEmptyDumps(t *testing.T) {
	k := newFakeKernel(t, dumpOf(nil, nil))
	c := k.client()
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
	k := newFakeKernel(t, func(req kernelRequest) kernelReply {
		r := dumpOf(manyServices(3), nil)(req)
		if first {
			r.DoneErr, first = syscall.EINTR, false
		}
		return r
	})
	c := k.client()
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
	if k.dialled != 1 {
		t.Errorf("dialled %d sockets, want 1", k.dialled)
	}
}

// TestClientDumpInterrupted has the kernel mark a dump message with
// NLM_F_DUMP_INTR, which Linux's IPVS never does today but a later one may.
func TestClientDumpInterrupted(t *testing.T) {
	k := newFakeKernel(t, func(req kernelRequest) kernelReply { return kernelReply{Silent: true} })
	c := k.client()
	cn, _ := c.acquire()
	fs := cn.sock.(*fakeSocket)
	c.release(cn)
	done := make(chan error, 1)
	go func() { _, err := c.Services(context.Background()); done <- err }()
	for len(k.requests()) == 0 {
		time.Sleep(time.Millisecond)
	}
	seq := k.requests()[0].Header.Sequence
	fs.deliver(appendMessage(nil, testFamilyID, nlmsg.FlagMulti|nlmsg.FlagDumpIntr, seq, testPortID, kernelService(tcp4, replyOptions{})))
	if err := <-done; !errors.Is(err, nlmsg.ErrDumpInterrupted) {
		t.Fatalf("got %v, want ErrDumpInterrupted", err)
	}
	if !fs.closed {
		t.Error("the socket of the interrupted dump was reused")
	}
}

// TestClientReplyTimeout checks that a lost reply can not hang a call
// whose context has no deadline.
func TestClientReplyTimeout(t *testing.T) {
	k := newFakeKernel(t, func(req kernelRequest) kernelReply { return kernelReply{Silent: true} })
	c := k.client()
	c.replyTimeout = 30 * time.Millisecond
	err := c.Flush(context.Background())
	if !errors.Is(err, errReplyTimeout) {
		t.Fatalf("got %v, want errReplyTimeout", err)
	}
	if !k.socks[0].closed {
		t.Error("the socket that lost its reply was reused")
	}
}

func TestClientRejectsStrayReply(t *testing.T) {
	k := newFakeKernel(t, func(req kernelRequest) kernelReply { return kernelReply{Silent: true} })
	c := k.client()
	cn, _ := c.acquire()
	fs := cn.sock.(*fakeSocket)
	c.release(cn)
	// A reply to an earlier request waits on the socket.
	fs.deliver(appendMessage(nil, nlmsg.TypeError, 0, 1, testPortID, make([]byte, 20)))
	err := c.Flush(context.Background())
	if err == nil || !strings.Contains(err.Error(), "sequence") {
		t.Fatalf("got %v, want a sequence mismatch", err)
	}
	if !fs.closed {
		t.Error("the out-of-step socket was not closed")
	}
}

// TestClientCancel cancels a call that the kernel never answers, then
// checks that the next call succeeds on a new socket, and that the
// abandoned socket's late reply reaches nobody.
func TestClientCancel(t *testing.T) {
	var mu sync.Mutex
	silent := true
	k := newFakeKernel(t, func(req kernelRequest) kernelReply {
		mu.Lock()
		defer mu.Unlock()
		if silent {
			return kernelReply{Silent: true}
		}
		return answer(req)
	})
	c := k.client()

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

	k.mu.Lock()
	old := k.socks[0]
	k.mu.Unlock()
	if !old.closed {
		t.Fatal("the abandoned socket was not closed")
	}
	mu.Lock()
	silent = false
	mu.Unlock()
	// The late reply to the first request arrives on the abandoned socket.
	old.deliver(appendMessage(nil, testFamilyID, 0, k.requests()[0].Header.Sequence, testPortID, kernelInfo(Info{})))
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatalf("call after cancellation: %v", err)
	}
	if info.ConnectionTableSize != 4096 {
		t.Fatalf("got %+v, want the new request's reply", info)
	}
	if k.dialled != 3 {
		t.Errorf("dialled %d sockets, want 3: each abandoned one replaced", k.dialled)
	}
}

func TestClientCancelledBeforeCall(t *testing.T) {
	k := newFakeKernel(t, answer)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := k.client().Flush(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if n := len(k.requests()); n != 0 {
		t.Fatalf("sent %d requests", n)
	}
}

func TestClientIteratorBreak(t *testing.T) {
	k := newFakeKernel(t, dumpOf(manyServices(10), nil))
	c := k.client()
	for range c.AllServices(context.Background()) {
		break
	}
	got, err := c.Services(context.Background())
	if err != nil || len(got) != 10 {
		t.Fatalf("after a broken-off iteration: %d services, %v", len(got), err)
	}
	if k.dialled != 2 {
		t.Errorf("dialled %d sockets, want 2: the half-read one must not be reused", k.dialled)
	}
}

// TestClientConcurrent runs calls from many goroutines; go test -race
// checks the pool.
func TestClientConcurrent(t *testing.T) {
	k := newFakeKernel(t, dumpOf(manyServices(5), nil))
	c := k.client()
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
	if len(c.idle) > maxIdleSockets {
		t.Errorf("%d idle sockets, more than %d", len(c.idle), maxIdleSockets)
	}
}

func TestClientClose(t *testing.T) {
	k := newFakeKernel(t, answer)
	c := k.client()
	if _, err := c.Info(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if !k.socks[0].closed {
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
			k := newFakeKernel(t, func(req kernelRequest) kernelReply {
				if req.Cmd == ipvsh.CmdDelDaemon {
					return kernelReply{Silent: true}
				}
				var r kernelReply
				for _, d := range tt.running {
					r.Msgs = append(r.Msgs, kernelDaemon(d))
				}
				return r
			})
			err := k.client().StopDaemon(context.Background(), DaemonMaster)
			if (err != nil) != tt.wantErr {
				t.Fatalf("StopDaemon: %v, want error %v", err, tt.wantErr)
			}
			if cmds := len(k.requests()); cmds != 2 {
				t.Errorf("sent %d requests, want DEL_DAEMON then GET_DAEMON", cmds)
			}
		})
	}
}

// TestClientValidation checks that bad input is refused before anything
// is sent, with an error naming the field and the value.
func TestClientValidation(t *testing.T) {
	ctx := context.Background()
	long := "abcdefghijklmnop" // 16 bytes
	tests := []struct {
		name, want string
		call       func(c *Client) error
	}{
		{"no identity", "invalid service: has neither fwmark nor address", func(c *Client) error {
			return c.CreateService(ctx, Service{Family: FamilyIPv4, Protocol: ProtocolTCP, Scheduler: "rr"})
		}},
		{"no family", "invalid service: needs a family", func(c *Client) error { return c.RemoveService(ctx, Service{FWMark: 1}) }},
		{"fwmark and address", "has fwmark 3 and also", func(c *Client) error {
			return c.RemoveService(ctx, Service{FWMark: 3, Protocol: ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1")})
		}},
		{"family mismatch", "invalid service address: 2001:db8::1 does not match family ipv4", func(c *Client) error {
			return c.RemoveService(ctx, Service{Family: FamilyIPv4, Protocol: ProtocolTCP, Address: netip.MustParseAddr("2001:db8::1")})
		}},
		{"unknown protocol", "invalid service protocol: proto(200) is not tcp, udp or sctp", func(c *Client) error {
			return c.CreateService(ctx, Service{Protocol: 200, Address: netip.MustParseAddr("10.0.0.1"), Scheduler: "rr"})
		}},
		{"long scheduler", `invalid service scheduler: "abcdefghijklmnop" is 16 bytes, longer than 15`, func(c *Client) error {
			s := tcp4
			s.Scheduler = long
			return c.CreateService(ctx, s)
		}},
		{"long pe", `invalid service persistence engine: "abcdefghijklmnop" is 16 bytes`, func(c *Client) error {
			s := tcp4
			s.PersistenceEngine = long
			return c.CreateService(ctx, s)
		}},
		{"empty scheduler", "invalid service scheduler: is empty", func(c *Client) error {
			s := tcp4
			s.Scheduler = ""
			return c.CreateService(ctx, s)
		}},
		{"ipv6 prefix 0", "invalid service netmask: prefix length 0 is outside 1..128", func(c *Client) error {
			s := udp6
			s.Netmask = PrefixMask(0)
			return c.CreateService(ctx, s)
		}},
		{"ipv6 prefix 129", "invalid service netmask: prefix length 129 is outside 1..128", func(c *Client) error {
			s := udp6
			s.Netmask = PrefixMask(129)
			return c.CreateService(ctx, s)
		}},
		{"ipv4 prefix 33", "invalid service netmask: prefix length 33 is outside 0..32", func(c *Client) error {
			s := tcp4
			s.Netmask = PrefixMask(33)
			return c.CreateService(ctx, s)
		}},
		{"fractional timeout", "invalid service timeout: 1.5s is not a whole number of seconds", func(c *Client) error {
			s := tcp4
			s.Timeout = 1500 * time.Millisecond
			return c.CreateService(ctx, s)
		}},
		{"weight", "invalid destination weight: 2147483648 is more than 2147483647", func(c *Client) error {
			d := masq4
			d.Weight = 1 << 31
			return c.CreateDestination(ctx, tcp4, d)
		}},
		{"upper threshold", "invalid destination upper threshold: 4294967295 is more than", func(c *Client) error {
			d := masq4
			d.UpperThreshold, d.LowerThreshold = 1<<32-1, 0
			return c.CreateDestination(ctx, tcp4, d)
		}},
		{"inverted thresholds", "invalid destination lower threshold: 10 is above the upper threshold 0", func(c *Client) error {
			d := masq4
			d.LowerThreshold = 10
			return c.UpdateDestination(ctx, tcp4, d)
		}},
		{"gue without port", "invalid destination tunnel port: is 0, and a GUE tunnel needs one", func(c *Client) error {
			return c.CreateDestination(ctx, tcp4, Destination{Address: netip.MustParseAddr("10.0.0.3"), Forward: ForwardTunnel, TunnelType: TunnelGUE})
		}},
		{"mixed family masq", "invalid destination family: ipv6 differs from the service's ipv4", func(c *Client) error {
			return c.CreateDestination(ctx, tcp4, Destination{Address: netip.MustParseAddr("2001:db8::3"), Forward: ForwardMasquerade})
		}},
		{"no destination address", "invalid destination address: is not set", func(c *Client) error {
			return c.RemoveDestination(ctx, tcp4, Destination{Port: 80})
		}},
		{"daemon state", "invalid daemon state: state(3) is not master or backup", func(c *Client) error {
			return c.StartDaemon(ctx, Daemon{State: 3, Interface: "eth0"})
		}},
		{"stop daemon state", "invalid daemon state: state(0) is not master or backup", func(c *Client) error {
			return c.StopDaemon(ctx, 0)
		}},
		{"long interface", `invalid daemon interface: "abcdefghijklmnop" is 16 bytes, longer than 15`, func(c *Client) error {
			return c.StartDaemon(ctx, Daemon{State: DaemonMaster, Interface: long})
		}},
		{"group not multicast", "invalid daemon group: 10.0.0.1 is not a multicast address", func(c *Client) error {
			return c.StartDaemon(ctx, Daemon{State: DaemonMaster, Interface: "eth0", Group: netip.MustParseAddr("10.0.0.1")})
		}},
		{"negative timeout", "invalid UDP timeout: -1s is negative", func(c *Client) error {
			return c.SetTimeouts(ctx, Timeouts{UDP: -time.Second})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newFakeKernel(t, answer)
			err := tt.call(k.client())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v\nwant it to contain %q", err, tt.want)
			}
			if !errors.Is(err, os.ErrInvalid) {
				t.Errorf("errors.Is(err, os.ErrInvalid) is false")
			}
			if n := len(k.requests()); n != 0 {
				t.Errorf("sent %d requests for invalid input", n)
			}
		})
	}
}

func TestClientDecodesReplies(t *testing.T) {
	svc := Service{Family: FamilyIPv4, Protocol: ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "rr", Flags: FlagHashed, Stats: someStats}
	dst := Destination{Family: FamilyIPv4, Address: netip.MustParseAddr("10.0.0.2"), Port: 80, Weight: 1, Stats: someStats}
	k := newFakeKernel(t, func(req kernelRequest) kernelReply {
		switch req.Cmd {
		case ipvsh.CmdGetService:
			return kernelReply{Msgs: [][]byte{kernelService(svc, replyOptions{})}}
		case ipvsh.CmdGetDest:
			return kernelReply{Msgs: [][]byte{kernelDestination(dst, replyOptions{})}}
		}
		return answer(req)
	})
	c := k.client()
	ctx := context.Background()
	got, err := c.Service(ctx, tcp4)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(svc, got, cmpOpts...); diff != "" {
		t.Errorf("Service (-want +got):\n%s", diff)
	}
	dests, err := c.Destinations(ctx, tcp4)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Destination{dst}, dests, cmpOpts...); diff != "" {
		t.Errorf("Destinations (-want +got):\n%s", diff)
	}
	info, err := c.Info(ctx)
	if err != nil || info.Version.String() != "1.2.1" || info.ConnectionTableSize != 4096 {
		t.Errorf("Info = %+v, %v", info, err)
	}
	to, err := c.Timeouts(ctx)
	if err != nil || to != (Timeouts{TCP: 900 * time.Second, TCPFin: 120 * time.Second, UDP: 300 * time.Second}) {
		t.Errorf("Timeouts = %+v, %v", to, err)
	}
}
