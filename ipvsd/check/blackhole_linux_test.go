package check

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

// stuckListener returns a loopback address whose listener never accepts
// and whose queue is full: the kernel drops further SYNs, so a connect
// hangs as it does to a blackholed backend.
func stuckListener(t *testing.T) netip.AddrPort {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := syscall.Getsockname(fd)
	addr := netip.AddrPortFrom(netip.AddrFrom4(sa.(*syscall.SockaddrInet4).Addr), uint16(sa.(*syscall.SockaddrInet4).Port))
	// Fill the queue: connections the listener never takes.
	for range 2 {
		c, err := net.DialTimeout("tcp", addr.String(), 200*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
	}
	return addr
}

func TestConnectToAStuckListenerTimesOut(t *testing.T) {
	addr := stuckListener(t)
	for _, kind := range []Kind{KindTCP, KindHTTP} {
		start := time.Now()
		out := Probe(context.Background(), Definition{Kind: kind, Target: addr, Timeout: 300 * time.Millisecond})
		if !errors.Is(out.Err, ErrTimeout) || out.Err.Error() != "connect: timed out" {
			t.Errorf("%s probe of a stuck listener: %v", kind, out.Err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s probe took %v with a timeout of 300ms", kind, took)
		}
	}
}
