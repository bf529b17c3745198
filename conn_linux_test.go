//go:build linux

package ipvs

import (
	"context"
	"errors"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/genetlink/genltest"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

func TestResolveFamily(t *testing.T) {
	want := genetlink.Family{ID: 0x24, Version: 1, Name: "IPVS"}
	gc := genltest.Dial(genltest.ServeFamily(want, func(genetlink.Message, netlink.Message) ([]genetlink.Message, error) {
		return nil, nil
	}))
	defer gc.Close()
	f, err := resolveFamily(gc)
	if err != nil || f.ID != want.ID || f.Version != want.Version {
		t.Fatalf("resolveFamily = %+v, %v; want %+v", f, err, want)
	}

	// A kernel without IPVS answers ENOENT for the lookup.
	gc = genltest.Dial(func(genetlink.Message, netlink.Message) ([]genetlink.Message, error) {
		return nil, genltest.Error(int(unix.ENOENT))
	})
	defer gc.Close()
	_, err = resolveFamily(gc)
	if !errors.Is(err, ErrNoIPVS) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing family: got %v, want ErrNoIPVS and os.ErrNotExist", err)
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
	ns, err := openNetNS(&Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	nc, err := dialNetlink(int(ns.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	s, err := newRawSocket(nc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.close() })
	return newConn(s, DefaultReplyTimeout, DefaultReceiveBufferSize)
}

// The nlctrl family's request to list families, which every kernel has:
// the raw socket path is tested on a real dump, ACK and error without
// IPVS.
const (
	ctrlFamilyID     = unix.GENL_ID_CTRL
	ctrlCmdGetFamily = unix.CTRL_CMD_GETFAMILY
	ctrlAttrName     = unix.CTRL_ATTR_FAMILY_NAME
)

// sendRaw sends a request of another family than IPVS through conn's
// socket, as conn.send does.
func sendRaw(ctx context.Context, cn *conn, family uint16, cmd uint8, flags uint16, attrs func(*attrWriter)) error {
	cn.seq++
	b, off := nlmsg.StartRequest(nil, family, flags, cn.seq, cmd, 1)
	w := attrWriter{b: b}
	if attrs != nil {
		attrs(&w)
	}
	cn.rd.Reset(cn.seq, flags&nlmsg.FlagAck != 0)
	return cn.ctxErr(ctx, cn.write(nlmsg.FinishRequest(w.b, off)))
}

func TestRawSocketDump(t *testing.T) {
	cn := hostConn(t)
	ctx := context.Background()
	cn.begin(ctx)
	defer cn.end()
	if err := sendRaw(ctx, cn, ctrlFamilyID, ctrlCmdGetFamily, flagsDump, nil); err != nil {
		t.Fatal(err)
	}
	var names []string
	for {
		msg, err := cn.next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("after %d families: %v", len(names), err)
		}
		a := attrs{b: msg[4:]}
		for a.next() {
			if a.typ == ctrlAttrName {
				names = append(names, a.str())
			}
		}
	}
	found := false
	for _, n := range names {
		found = found || n == "nlctrl"
	}
	if !found {
		t.Fatalf("families %q lack nlctrl", names)
	}
	if cn.broken {
		t.Fatal("socket marked broken after a clean dump")
	}
}

func TestRawSocketGetAndError(t *testing.T) {
	cn := hostConn(t)
	ctx := context.Background()
	get := func(name string) (int, error) {
		cn.begin(ctx)
		defer cn.end()
		if err := sendRaw(ctx, cn, ctrlFamilyID, ctrlCmdGetFamily, flagsGet, func(w *attrWriter) { w.str(ctrlAttrName, name) }); err != nil {
			t.Fatal(err)
		}
		n := 0
		for {
			_, err := cn.next(ctx)
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			if err != nil {
				return n, err
			}
			n++
		}
	}
	if n, err := get("nlctrl"); n != 1 || err != nil {
		t.Fatalf("get nlctrl: %d messages, %v", n, err)
	}
	_, err := get("nosuchfamily")
	if !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("get a missing family: %v, want ENOENT", err)
	}
	// A name longer than the policy's 15 bytes fails validation, with an
	// extended ACK: the real kernel's framing of it parses.
	_, err = get("no-such-family-here")
	var ke *nlmsg.KernelError
	if !errors.As(err, &ke) || ke.Errno != syscall.EINVAL || ke.Message == "" {
		t.Fatalf("get an over-long name: %#v, want EINVAL with a message", err)
	}
	t.Logf("extended ACK: %v (offset %d)", ke, ke.Offset)
	// The error ended the reply cleanly: the socket still works.
	if n, err := get("nlctrl"); n != 1 || err != nil || cn.broken {
		t.Fatalf("after an error: %d messages, %v, broken %v", n, err, cn.broken)
	}
}

// TestRawSocketStaleDeadline makes calls with a rolling deadline that has
// expired between them: the next call must not fail on it.
func TestRawSocketStaleDeadline(t *testing.T) {
	cn := hostConn(t)
	cn.replyTimeout = 20 * time.Millisecond
	ctx := context.Background()
	for i := range 3 {
		cn.begin(ctx)
		// A dump waits once the first chunk is read, so it arms a deadline.
		if err := sendRaw(ctx, cn, ctrlFamilyID, ctrlCmdGetFamily, flagsDump, nil); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if _, err := cn.arm(); err != nil {
			t.Fatal(err)
		}
		for {
			_, err := cn.next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
		}
		cn.end()
		time.Sleep(50 * time.Millisecond)
	}
}
