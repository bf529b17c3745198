package ipvs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs/internal/fakekernel"
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
				k := newFakeKernel(t, func(req *fakekernel.Request) fakekernel.Answer { return fakekernel.Answer{Errno: e.errno} })
				err := m.call(context.Background(), testClient(t, k))
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
		k := newFakeKernel(t, func(*fakekernel.Request) fakekernel.Answer { return fakekernel.Answer{Errno: tt.errno} })
		if got := tt.call(testClient(t, k)); got == nil || got.Error() != tt.want {
			t.Errorf("got  %v\nwant %s", got, tt.want)
		}
	}
}

func TestClientExtendedAck(t *testing.T) {
	k := newFakeKernel(t, func(*fakekernel.Request) fakekernel.Answer {
		return fakekernel.Answer{Errno: syscall.EINVAL, ExtAck: "Attribute failed policy validation"}
	})
	err := testClient(t, k).StartDaemon(context.Background(), Daemon{State: DaemonMaster, Interface: "eth0"})
	var ie *Error
	if !errors.As(err, &ie) || ie.Message != "Attribute failed policy validation" {
		t.Fatalf("extended ACK message not carried: %#v", err)
	}
	if !strings.HasSuffix(err.Error(), ": kernel says: Attribute failed policy validation") {
		t.Errorf("message %q lacks the kernel's text", err)
	}
}

// TestErrorSentinels: what a caller matches the errors of a closed client,
// a lost reply and an interrupted dump with.
func TestErrorSentinels(t *testing.T) {
	k := newFakeKernel(t, func(req *fakekernel.Request) fakekernel.Answer { return fakekernel.Answer{Lose: true} })
	c := testClient(t, k)
	c.replyTimeout = 20 * time.Millisecond
	if err := c.Flush(context.Background()); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("lost reply: %v, want os.ErrDeadlineExceeded", err)
	}
	_ = c.Close()
	if err := c.Flush(context.Background()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("closed client: %v, want net.ErrClosed", err)
	}
	if _, err := New(&Config{ReplyTimeout: -1}); !errors.Is(err, os.ErrInvalid) {
		t.Errorf("negative reply timeout: %v", err)
	}
}
