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

// listen returns a TCP listener on loopback that the test closes, and
// its address.
func listen(t *testing.T) (net.Listener, netip.AddrPort) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, ln.Addr().(*net.TCPAddr).AddrPort()
}

// closedPort returns a loopback address where no TCP socket listens.
func closedPort(t *testing.T) netip.AddrPort {
	t.Helper()
	ln, addr := listen(t)
	ln.Close()
	return addr
}

func TestTCP(t *testing.T) {
	ln, addr := listen(t)
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	d := Definition{Kind: KindTCP, Target: addr, Source: netip.MustParseAddr("127.0.0.1"), Timeout: time.Second}
	if out := Probe(context.Background(), d); out.Err != nil {
		t.Fatalf("probe of a listener: %v", out.Err)
	}
	c := <-accepted
	defer c.Close()
	// The probe closes with a reset, leaving no TIME_WAIT behind.
	c.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("the server read %v, want a reset", err)
	}

	d.Target = closedPort(t)
	out := Probe(context.Background(), d)
	if !errors.Is(out.Err, ErrRefused) {
		t.Errorf("probe of a closed port: %v, want ErrRefused", out.Err)
	}
	if got, want := out.Err.Error(), "connect: refused"; got != want {
		t.Errorf("error text %q, want %q", got, want)
	}
}

func TestProbeOfAnInvalidDefinition(t *testing.T) {
	out := Probe(context.Background(), Definition{Kind: KindTCP})
	var fe *FieldError
	if !errors.As(out.Err, &fe) || fe.Field != "target" {
		t.Errorf("Probe of a definition without a target: %v", out.Err)
	}
}

func TestTCPFromSourceAndOverIPv6(t *testing.T) {
	ln, addr := listen(t)
	from := make(chan netip.Addr, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			from <- c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr()
			c.Close()
		}
	}()
	// All of 127.0.0.0/8 is loopback, so 127.0.0.2 is a local address.
	d := Definition{Kind: KindTCP, Target: addr, Source: netip.MustParseAddr("127.0.0.2"), Timeout: time.Second}
	if out := Probe(context.Background(), d); out.Err != nil {
		t.Fatal(out.Err)
	}
	if got := <-from; got != d.Source {
		t.Errorf("the server saw the probe come from %v, want %v", got, d.Source)
	}

	ln6, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer ln6.Close()
	go func() {
		if c, err := ln6.Accept(); err == nil {
			c.Close()
		}
	}()
	d = Definition{Kind: KindTCP, Target: ln6.Addr().(*net.TCPAddr).AddrPort(), Source: netip.IPv6Loopback(), Timeout: time.Second}
	if out := Probe(context.Background(), d); out.Err != nil {
		t.Errorf("probe over IPv6: %v", out.Err)
	}
}
