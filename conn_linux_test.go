//go:build linux

package ipvs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// TestLookupFamily looks families up through the host's controller with
// the client's own exchange: nlctrl exists everywhere, IPVS not here.
func TestLookupFamily(t *testing.T) {
	cn := hostConn(t)
	f, err := lookupFamily(context.Background(), cn, "nlctrl")
	if err != nil || f.id != nlmsg.CtrlFamilyID {
		t.Fatalf("lookupFamily(nlctrl) = %+v, %v; want ID %#x", f, err, nlmsg.CtrlFamilyID)
	}
	if _, err := lookupFamily(context.Background(), cn, "nosuchfamily"); !errors.Is(err, ErrNoIPVS) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing family: got %v, want ErrNoIPVS and os.ErrNotExist", err)
	}
	if cn.dirty {
		t.Fatal("an ENOENT left the socket dirty")
	}
}

// TestNewOnHost runs New against the host's kernel: without IPVS (as on
// the machines that build this), it must fail clearly; with it, work.
func TestNewOnHost(t *testing.T) {
	c, err := New(nil)
	if err != nil {
		if !errors.Is(err, ErrNoIPVS) && !errors.Is(err, os.ErrPermission) {
			t.Fatalf("New: %v; want ErrNoIPVS without ip_vs", err)
		}
		t.Logf("New: %v", err)
		return
	}
	defer c.Close()
	if _, err := c.Info(context.Background()); err != nil && !errors.Is(err, os.ErrPermission) {
		t.Fatalf("Info: %v", err)
	}
}

func TestNewBadNamespace(t *testing.T) {
	if _, err := New(&Config{NetNSPath: "/nonexistent/netns"}); !errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrNoIPVS) {
		t.Fatalf("got %v", err)
	}
	if _, err := New(&Config{NetNS: 1 << 20}); err == nil {
		t.Fatal("New accepted a closed namespace fd")
	}
}

// hostConn returns a conn on a real Generic Netlink socket of the host.
func hostConn(t *testing.T) *conn {
	t.Helper()
	nc, err := dialNetlink(0, unix.NETLINK_GENERIC)
	if err != nil {
		t.Fatal(err)
	}
	s, err := newRawSocket(nc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return newConn(s, DefaultReplyTimeout, DefaultReceiveBufferSize, new(atomic.Bool))
}

// ctrlRequest exchanges one request to the controller, a family every
// kernel has, so that the raw socket path is tested on a real dump, reply
// and error without IPVS. It returns the FAMILY_NAMEs of the replies.
func ctrlRequest(ctx context.Context, cn *conn, flags uint16, name string) ([]string, error) {
	seq := cn.next()
	b, off := nlmsg.StartRequest(nil, nlmsg.CtrlFamilyID, flags, seq, nlmsg.CtrlCmdGetFamily, nlmsg.CtrlVersion)
	w := nlmsg.AttrWriter{B: b}
	if name != "" {
		w.Str(nlmsg.CtrlAttrFamilyName, name)
	}
	var names []string
	err := cn.exchange(ctx, nlmsg.FinishRequest(w.B, off), seq, seq, nlmsg.CtrlFamilyID, flags&nlmsg.FlagAck != 0, func(_ nlmsg.Header, msg []byte) error {
		a := nlmsg.NewAttrReader(msg[nlmsg.GenlHeaderLen:])
		for a.Next() {
			if a.Type() == nlmsg.CtrlAttrFamilyName {
				names = append(names, a.Str())
			}
		}
		return a.Err()
	})
	return names, err
}

func TestRawSocketDump(t *testing.T) {
	cn := hostConn(t)
	names, err := ctrlRequest(context.Background(), cn, flagsDump, "")
	if err != nil {
		t.Fatalf("after %d families: %v", len(names), err)
	}
	if !slices.Contains(names, "nlctrl") {
		t.Fatalf("families %q lack nlctrl", names)
	}
	if cn.dirty || !cn.quiet() {
		t.Fatal("socket dirty after a clean dump")
	}
}

func TestRawSocketGetAndError(t *testing.T) {
	cn := hostConn(t)
	ctx := context.Background()
	if names, err := ctrlRequest(ctx, cn, flagsGet, "nlctrl"); len(names) != 1 || err != nil {
		t.Fatalf("get nlctrl: %q, %v", names, err)
	}
	if _, err := ctrlRequest(ctx, cn, flagsGet, "nosuchfamily"); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("get a missing family: %v, want ENOENT", err)
	}
	// A name longer than the policy's 15 bytes fails validation, with an
	// extended ACK: the real kernel's framing of it parses.
	_, err := ctrlRequest(ctx, cn, flagsGet, "no-such-family-here")
	var ke *nlmsg.KernelError
	if !errors.As(err, &ke) || ke.Errno != syscall.EINVAL || ke.Message == "" {
		t.Fatalf("get an over-long name: %#v, want EINVAL with a message", err)
	}
	t.Logf("extended ACK: %v (offset %d)", ke, ke.Offset)
	// The error ended the reply cleanly: the socket still works.
	if names, err := ctrlRequest(ctx, cn, flagsGet, "nlctrl"); len(names) != 1 || err != nil || cn.dirty {
		t.Fatalf("after an error: %q, %v, dirty %v", names, err, cn.dirty)
	}
}

// TestRawSocketStaleDeadline makes calls with a rolling deadline that has
// expired between them: the next call must not fail on it.
func TestRawSocketStaleDeadline(t *testing.T) {
	cn := hostConn(t)
	cn.replyTimeout = 20 * time.Millisecond
	for i := range 3 {
		cn.begin(context.Background())
		if _, err := cn.arm(); err != nil {
			t.Fatal(err)
		}
		cn.end()
		time.Sleep(50 * time.Millisecond)
		if _, err := ctrlRequest(context.Background(), cn, flagsDump, ""); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
}

// TestRawSocketAllocations pins what an exchange on a real socket
// allocates, the socket's system calls included: nothing.
func TestRawSocketAllocations(t *testing.T) {
	cn := hostConn(t)
	req, off := nlmsg.StartRequest(nil, nlmsg.CtrlFamilyID, flagsGet, 0, nlmsg.CtrlCmdGetFamily, nlmsg.CtrlVersion)
	w := nlmsg.AttrWriter{B: req}
	w.Str(nlmsg.CtrlAttrFamilyName, "nlctrl")
	req = nlmsg.FinishRequest(w.B, off)
	ctx := context.Background()
	each := func(nlmsg.Header, []byte) error { return nil }
	var err error
	n := testing.AllocsPerRun(100, func() {
		seq := cn.next()
		nlmsg.SetHeader(req, nlmsg.CtrlFamilyID, flagsGet, seq, nlmsg.CtrlVersion)
		if err = cn.exchange(ctx, req, seq, seq, nlmsg.CtrlFamilyID, false, each); err == nil && !cn.quiet() {
			err = errors.New("something is left queued")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%v allocations per exchange on a real socket, want 0", n)
	}
}

// TestInNetNSFailedReturn: when the thread that ran fn in the client's
// namespace cannot return to its own, neither it nor the caller's thread
// ever runs other Go code: fn ran on a thread other than the caller's,
// and that thread ends with its goroutine (or, the main thread, is
// wedged by the runtime).
func TestInNetNSFailedReturn(t *testing.T) {
	calls := 0
	setns = func(fd, nstype int) error {
		if calls++; calls == 2 {
			return unix.EPERM
		}
		return nil // stays where it is: the test needs no privilege
	}
	t.Cleanup(func() { setns = unix.Setns })
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	c := newClientWith(&Config{}, nil, genlFamily{})
	// No thread is in this namespace, so fn is run in it by entering it.
	c.releaseNS = f.Close
	p := nsProc{c: c, ns: &netNS{f: f}}
	t.Cleanup(func() { _ = c.Close() })

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	caller := unix.Gettid()
	ran := 0
	err = p.inNetNS(func() error {
		ran = unix.Gettid()
		return nil
	})
	if err == nil || calls != 2 {
		t.Fatalf("inNetNS = %v after %d setns calls, want the failed return's error", err, calls)
	}
	if ran == 0 || ran == caller {
		t.Fatalf("fn ran on thread %d, the caller's is %d: the caller's thread must never move", ran, caller)
	}
	if ran == unix.Getpid() {
		// The main thread is never ended: the runtime wedges it instead,
		// which keeps it from Go code as well.
		t.Logf("fn ran on the main thread, which the runtime wedges")
		return
	}
	task := fmt.Sprintf("/proc/self/task/%d", ran)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(task); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("thread %d, which could not return to its namespace, still runs", ran)
		}
	}
}
