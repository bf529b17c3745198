package check

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// udpServer answers each datagram on loopback with what answer returns
// (nothing when nil), until the test ends.
func udpServer(t *testing.T, answer func(req []byte) [][]byte) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { pc.Close(); wg.Wait() })
	wg.Go(func() {
		buf := make([]byte, 64<<10)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			for _, b := range answer(buf[:n]) {
				pc.WriteTo(b, from)
			}
		}
	})
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

func TestUDP(t *testing.T) {
	echo := udpServer(t, func(req []byte) [][]byte { return [][]byte{append([]byte("pong:"), req...)} })
	short := udpServer(t, func([]byte) [][]byte { return [][]byte{[]byte("po")} })
	silent := udpServer(t, func([]byte) [][]byte { return nil })
	closed := closedUDPPort(t)
	const timeout = 300 * time.Millisecond

	tests := []struct {
		name   string
		target netip.AddrPort
		udp    UDPCheck
		class  error // nil passes
		text   string
	}{
		{"reply", echo, UDPCheck{Send: []byte("ping"), RequireReply: true, Expect: []byte("pong:ping")}, nil, ""},
		{"any reply", echo, UDPCheck{Send: []byte("ping"), RequireReply: true}, nil, ""},
		{"wrong reply", echo, UDPCheck{Send: []byte("ping"), RequireReply: true, Expect: []byte("pang")}, ErrMismatch, "reply: byte 1 differs from expect"},
		{"masked reply", echo, UDPCheck{RequireReply: true, Expect: []byte("pXng"), ExpectMask: []byte{0xff, 0, 0xff, 0xff}}, nil, ""},
		{"short reply compared on its length", short, UDPCheck{RequireReply: true, Expect: []byte("pong")}, nil, ""},
		{"reply too short", short, UDPCheck{RequireReply: true, MinReply: 3}, ErrMismatch, "reply: 2 bytes, want 3–any"},
		{"reply too long", echo, UDPCheck{Send: []byte("ping"), RequireReply: true, MaxReply: 5}, ErrMismatch, "reply: 9 bytes, want 0–5"},
		{"silence passes", silent, UDPCheck{Send: []byte("ping")}, nil, ""},
		{"silence with require_reply", silent, UDPCheck{Send: []byte("ping"), RequireReply: true}, ErrTimeout, "receive: timed out"},
		{"port unreachable", closed, UDPCheck{Send: []byte("ping")}, ErrRefused, "receive: refused"},
		{"port unreachable with require_reply", closed, UDPCheck{RequireReply: true}, ErrRefused, "receive: refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantOutcome(t, Probe(context.Background(), Definition{Kind: KindUDP, Target: tt.target, Timeout: timeout, UDP: tt.udp}), tt.class, tt.text)
		})
	}
}

// closedUDPPort returns a loopback address where no UDP socket is bound:
// the kernel answers a datagram there with an ICMP port unreachable.
func closedUDPPort(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	pc.Close()
	return addr
}

// wantOutcome fails t unless out passed (class nil) or failed with an
// error of class whose text starts with text.
func wantOutcome(t *testing.T, out Outcome, class error, text string) {
	t.Helper()
	if class == nil {
		if out.Err != nil {
			t.Fatalf("probe: %v", out.Err)
		}
		return
	}
	if !errors.Is(out.Err, class) || !strings.HasPrefix(out.Err.Error(), text) {
		t.Errorf("probe: %v, want %q (%v)", out.Err, text, class)
	}
}
