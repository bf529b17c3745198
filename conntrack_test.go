package ipvs

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs/internal/fakekernel"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
	"github.com/ipvs-go/ipvs/internal/seam"
)

var (
	ctService = Service{Protocol: ProtocolUDP, Address: netip.MustParseAddr("10.0.0.1"), Port: 53}
	ctVirtual = netip.MustParseAddrPort("10.0.0.1:53")
)

// TestConntrackFilterKey checks what a filter matches: the service's
// protocol, address and port, and the destination's address and port,
// the service's when 0, with IPv4 addresses in their 4-byte form.
func TestConntrackFilterKey(t *testing.T) {
	tests := []struct {
		name string
		f    ConntrackFilter
		want string
	}{
		{"plain", ConntrackFilter{ctService, Destination{Address: netip.MustParseAddr("10.0.0.2"), Port: 5353}}, "udp 10.0.0.1:53 -> 10.0.0.2:5353"},
		{"port 0 is the service's", ConntrackFilter{ctService, Destination{Address: netip.MustParseAddr("10.0.0.2")}}, "udp 10.0.0.1:53 -> 10.0.0.2:53"},
		{"mapped addresses", ConntrackFilter{
			Service{Protocol: ProtocolSCTP, Address: netip.MustParseAddr("::ffff:10.0.0.1"), Port: 9},
			Destination{Address: netip.MustParseAddr("::ffff:10.0.0.3"), Port: 9}}, "sctp 10.0.0.1:9 -> 10.0.0.3:9"},
		{"ipv6", ConntrackFilter{
			Service{Protocol: ProtocolTCP, Address: netip.MustParseAddr("2001:db8::1"), Port: 80},
			Destination{Address: netip.MustParseAddr("2001:db8::2")}}, "tcp [2001:db8::1]:80 -> [2001:db8::2]:80"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := tt.f.key()
			if err != nil {
				t.Fatal(err)
			}
			if got := conntrackString(k); got != tt.want {
				t.Errorf("key %s, want %s", got, tt.want)
			}
			if got := tt.f.String(); got != tt.want {
				t.Errorf("String %s, want %s", got, tt.want)
			}
		})
	}
}

// TestConntrackFilterInvalid checks that each bad filter is refused with
// an error naming the field and the value.
func TestConntrackFilterInvalid(t *testing.T) {
	d := Destination{Address: netip.MustParseAddr("10.0.0.2")}
	tests := []struct {
		name, want string
		f          ConntrackFilter
	}{
		{"fwmark", "invalid service: fwmark 7: conntrack entries record", ConntrackFilter{Service{Family: FamilyIPv4, FWMark: 7}, d}},
		{"protocol", "invalid service protocol: proto(1) is not tcp, udp or sctp",
			ConntrackFilter{Service{Protocol: 1, Address: ctVirtual.Addr(), Port: 53}, d}},
		{"no address", "invalid service: needs a family with its fwmark, or an address", ConntrackFilter{Service{Protocol: ProtocolUDP, Port: 53}, d}},
		{"port 0", "invalid service port: 0: the entries of a port-zero service", ConntrackFilter{Service{Protocol: ProtocolUDP, Address: ctVirtual.Addr()}, d}},
		{"no destination", "invalid destination address: is not set", ConntrackFilter{ctService, Destination{}}},
		{"mixed family", "invalid destination family: ipv6 differs from the service's ipv4: a mixed-family destination is a tunnel",
			ConntrackFilter{ctService, Destination{Address: netip.MustParseAddr("2001:db8::2")}}},
		{"family mismatch", "invalid service address: 10.0.0.1 does not match family ipv6",
			ConntrackFilter{Service{Family: FamilyIPv6, Protocol: ProtocolUDP, Address: ctVirtual.Addr(), Port: 53}, d}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := newConntrackMatcher([]ConntrackFilter{{ctService, d}, tt.f})
			if err == nil || !errors.Is(err, os.ErrInvalid) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "filter 1") {
				t.Fatalf("got %v, want os.ErrInvalid naming filter 1 and %q", err, tt.want)
			}
		})
	}
}

// TestConntrackMatch checks the match of entries against several
// filters at once: every field must agree, whatever the form of the
// entry's addresses.
func TestConntrackMatch(t *testing.T) {
	m, object, err := newConntrackMatcher([]ConntrackFilter{
		{ctService, Destination{Address: netip.MustParseAddr("10.0.0.2")}},
		{ctService, Destination{Address: netip.MustParseAddr("10.0.0.3"), Port: 5353}},
		{Service{Protocol: ProtocolSCTP, Address: netip.MustParseAddr("2001:db8::1"), Port: 9}, Destination{Address: netip.MustParseAddr("2001:db8::2")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if m.Families != [2]bool{true, true} {
		t.Errorf("families %v, want both", m.Families)
	}
	if want := "udp 10.0.0.1:53 -> 10.0.0.2:53 and 2 more"; object != want {
		t.Errorf("object %q, want %q", object, want)
	}
	ap := netip.MustParseAddrPort
	tests := []struct {
		proto             uint8
		origDst, replySrc string
		want              bool
	}{
		{17, "10.0.0.1:53", "10.0.0.2:53", true},
		{17, "[::ffff:10.0.0.1]:53", "[::ffff:10.0.0.2]:53", true},
		{17, "10.0.0.1:53", "10.0.0.3:5353", true},
		{132, "[2001:db8::1]:9", "[2001:db8::2]:9", true},
		{6, "10.0.0.1:53", "10.0.0.2:53", false},  // another protocol
		{17, "10.0.0.1:54", "10.0.0.2:53", false}, // another virtual port
		{17, "10.0.0.9:53", "10.0.0.2:53", false}, // another virtual address
		{17, "10.0.0.1:53", "10.0.0.2:54", false}, // another real port
		{17, "10.0.0.1:53", "10.0.0.4:53", false}, // a live real server
		{17, "10.0.0.1:53", "10.0.0.1:53", false}, // not forwarded (no NAT)
		{17, "10.0.0.1:53", "10.0.0.3:53", false}, // the other filter's server, wrong port
		{132, "[2001:db8::1]:9", "[2001:db8::3]:9", false},
	}
	for _, tt := range tests {
		if got := m.Match(tt.proto, ap(tt.origDst), ap(tt.replySrc)); got != tt.want {
			t.Errorf("match(%d, %s, %s) = %v, want %v", tt.proto, tt.origDst, tt.replySrc, got, tt.want)
		}
	}
	one, object, err := newConntrackMatcher([]ConntrackFilter{{ctService, Destination{Address: netip.MustParseAddr("10.0.0.2")}}})
	if err != nil {
		t.Fatal(err)
	}
	if one.Families != [2]bool{true, false} || object != "udp 10.0.0.1:53 -> 10.0.0.2:53" {
		t.Errorf("one filter: families %v, object %q", one.Families, object)
	}
}

// TestFlushConntrackInvalid checks that a bad filter fails the call with
// a *Error before any socket is opened, and that no filters is no work.
func TestFlushConntrackInvalid(t *testing.T) {
	c := &Client{} // it has nothing to dial with: the call must not get that far
	_, err := c.FlushConntrack(context.Background(), ConntrackFilter{ctService, Destination{}})
	var e *Error
	if !errors.As(err, &e) || e.Op != "flush conntrack" || !errors.Is(err, os.ErrInvalid) {
		t.Fatalf("got %v, want an *Error of flush conntrack matching os.ErrInvalid", err)
	}
	if n, err := c.FlushConntrack(context.Background()); n != 0 || err != nil {
		t.Fatalf("no filters: %d, %v", n, err)
	}
}

// ctDumpAnswer is a netfilter socket whose kernel answers every dump
// with an empty table, or refuses it with errno.
type ctDumpAnswer struct {
	errno   syscall.Errno
	pending [][]byte
	closed  *int
}

func (s *ctDumpAnswer) SetDeadline(time.Time) error { return nil }
func (s *ctDumpAnswer) PortID() uint32              { return 7 }
func (s *ctDumpAnswer) Buffers() (int, int)         { return 1 << 20, 1 << 20 }
func (s *ctDumpAnswer) Close() error                { *s.closed++; return nil }

func (s *ctDumpAnswer) Send(b []byte, _ bool) error {
	h, err := nlmsg.ParseHeader(b)
	if err != nil {
		return err
	}
	if s.errno != 0 {
		s.pending = append(s.pending, fakekernel.AckMessage(h, 7, s.errno, "", 0))
		return nil
	}
	s.pending = append(s.pending, nlmsg.AppendMessage(nil, nlmsg.TypeDone, nlmsg.FlagMulti, h.Sequence, 7, []byte{0, 0, 0, 0}))
	return nil
}

func (s *ctDumpAnswer) Recv(b []byte, wait bool) (int, error) {
	if len(s.pending) == 0 {
		if !wait {
			return 0, seam.ErrWouldBlock
		}
		return 0, os.ErrDeadlineExceeded
	}
	n := copy(b, s.pending[0])
	s.pending = s.pending[1:]
	return n, nil
}

// TestFlushConntrackClient checks the client's side of a flush, over
// sockets that answer its dump (internal/ctnetlink tests the flush
// itself): two sockets dialled and closed, the kernel's refusals turned
// into what they mean, and no flush at all on an in-memory kernel.
func TestFlushConntrackClient(t *testing.T) {
	f := ConntrackFilter{ctService, Destination{Address: netip.MustParseAddr("10.0.0.2")}}
	for _, tt := range []struct {
		errno syscall.Errno
		want  []error
	}{
		{0, nil},
		{syscall.EINVAL, []error{ErrNoConntrack, os.ErrNotExist}},
		{syscall.EPERM, []error{os.ErrPermission}},
	} {
		t.Run(tt.errno.Error(), func(t *testing.T) {
			dials, closed := 0, 0
			c := newClientWith(&Config{}, nil, genlFamily{})
			c.dialConntrack = func() (seam.Socket, error) {
				dials++
				return &ctDumpAnswer{errno: tt.errno, closed: &closed}, nil
			}
			n, err := c.FlushConntrack(context.Background(), f)
			if n != 0 || dials != 2 || closed != 2 {
				t.Errorf("flushed %d, %d sockets dialled, %d closed; want 0, 2, 2", n, dials, closed)
			}
			var e *Error
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.As(err, &e) || e.Op != opFlushConntrack || e.Object != "udp 10.0.0.1:53 -> 10.0.0.2:53" {
				t.Fatalf("got %v, want an *Error of the flush naming the filter", err)
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("%v does not match %v", err, w)
				}
			}
		})
	}
	t.Run("in-memory kernel", func(t *testing.T) {
		c := newClientWith(&Config{}, nil, genlFamily{})
		if _, err := c.FlushConntrack(context.Background(), f); !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("got %v, want errors.ErrUnsupported", err)
		}
	})
}
