package check

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

func TestMark(t *testing.T) {
	ln, addr := listen(t)
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	d := Definition{Kind: KindTCP, Target: addr, Mark: 7, Timeout: time.Second}
	s, err := prepare(d)
	if err != nil {
		t.Fatal(err)
	}
	var marked int
	dialer := net.Dialer{Control: func(network, address string, rc syscall.RawConn) error {
		if err := s.control(network, address, rc); err != nil {
			return err
		}
		return rc.Control(func(fd uintptr) { marked, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_MARK) })
	}}
	c, err := dialer.DialContext(context.Background(), "tcp", addr.String())
	if errors.Is(err, syscall.EPERM) {
		t.Skip("setting a mark needs CAP_NET_ADMIN")
	}
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if marked != 7 {
		t.Errorf("socket mark %d, want 7", marked)
	}
	if out := Probe(context.Background(), d); out.Err != nil {
		t.Errorf("probe with a mark: %v", out.Err)
	}
}
