package ipvs

import (
	"context"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ipvs-go/ipvs/internal/fakekernel"
	"github.com/ipvs-go/ipvs/internal/procfs"
	"github.com/ipvs-go/ipvs/internal/seam"
)

// The methods that read the namespace's procfs rather than the netlink
// family: the connection table's filter, and Totals over a fake procfs.

// connCmp compares netip values by value.
var connCmp = cmpopts.EquateComparable(netip.AddrPort{})

func TestConnMatcher(t *testing.T) {
	ap := netip.MustParseAddrPort
	tcp := Connection{Protocol: ProtocolTCP, Client: ap("10.99.0.2:40000"), Virtual: ap("10.99.1.1:80"), Destination: ap("10.99.0.1:8080")}
	udp6 := Connection{Protocol: ProtocolUDP, Client: ap("[fd00::2]:40000"), Virtual: ap("[fd00:1::1]:53"), Destination: ap("[fd00::1]:53")}
	fwmTemplate := Connection{Client: ap("10.99.0.0:0"), Virtual: ap("0.0.0.7:0"), Destination: ap("10.99.0.1:0"), State: "ASSURED"}
	fwm6Template := Connection{Client: ap("[fd00::]:0"), Virtual: ap("[0:8::]:0"), Destination: ap("[fd00::1]:0")}
	all := []Connection{tcp, udp6, fwmTemplate, fwm6Template}
	fwm := &connMatcher{f: ConnectionFilter{Service: Service{Family: FamilyIPv4, FWMark: 7}},
		dests: map[netip.AddrPort]bool{ap("10.99.0.1:8080"): true}, template: fwmarkTemplateAddr(Service{FWMark: 7})}
	fwm6 := &connMatcher{f: ConnectionFilter{Service: Service{Family: FamilyIPv6, FWMark: 8}},
		dests: map[netip.AddrPort]bool{ap("[fd00::1]:0"): true}, template: fwmarkTemplateAddr(Service{Family: FamilyIPv6, FWMark: 8})}
	for _, tt := range []struct {
		m    *connMatcher
		want []Connection
	}{
		{&connMatcher{}, all},
		{&connMatcher{f: ConnectionFilter{Service: Service{Protocol: ProtocolTCP}}}, []Connection{tcp}},
		{&connMatcher{f: ConnectionFilter{Service: Service{Address: netip.MustParseAddr("10.99.1.1"), Port: 80}}}, []Connection{tcp}},
		{&connMatcher{f: ConnectionFilter{Service: Service{Address: netip.MustParseAddr("10.99.1.1"), Port: 81}}}, nil},
		{&connMatcher{f: ConnectionFilter{Service: Service{Protocol: ProtocolUDP, Address: netip.MustParseAddr("fd00:1::1")}}}, []Connection{udp6}},
		{&connMatcher{f: ConnectionFilter{Destination: ap("10.99.0.1:0")}}, []Connection{tcp, fwmTemplate}},
		{&connMatcher{f: ConnectionFilter{Destination: ap("10.99.0.1:8080")}}, []Connection{tcp}},
		{fwm, []Connection{tcp, fwmTemplate}},
		// A destination of port 0 keeps the packet's port.
		{fwm6, []Connection{udp6, fwm6Template}},
	} {
		var got []Connection
		for _, c := range all {
			if tt.m.match(&c) {
				got = append(got, c)
			}
		}
		if diff := cmp.Diff(tt.want, got, connCmp); diff != "" {
			t.Errorf("filter %+v (-want +got):\n%s", tt.m.f, diff)
		}
	}
}

// TestConnMatcherIdentity: a filter's service address is taken as the
// service's Key takes it, as the kernel reads it back into the table: a
// mapped IPv4 address of family 0 is IPv4, of family ipv6 stays IPv6,
// and a zone, which the table has no place for, goes.
func TestConnMatcherIdentity(t *testing.T) {
	ap := netip.MustParseAddrPort
	v4 := Connection{Protocol: ProtocolTCP, Client: ap("10.99.0.2:40000"), Virtual: ap("10.99.1.1:80"), Destination: ap("10.99.0.1:8080")}
	mapped := Connection{Protocol: ProtocolTCP, Client: ap("[fd00::2]:40000"), Virtual: ap("[::ffff:10.99.1.1]:80"), Destination: ap("[fd00::1]:80")}
	v6 := Connection{Protocol: ProtocolUDP, Client: ap("[fe80::2]:40000"), Virtual: ap("[fe80::1]:53"), Destination: ap("[fd00::1]:53")}
	all := []Connection{v4, mapped, v6}
	for _, tt := range []struct {
		svc  Service
		want []Connection
	}{
		{Service{Address: netip.MustParseAddr("::ffff:10.99.1.1")}, []Connection{v4}},
		{Service{Family: FamilyIPv4, Address: netip.MustParseAddr("::ffff:10.99.1.1")}, []Connection{v4}},
		{Service{Family: FamilyIPv6, Address: netip.MustParseAddr("::ffff:10.99.1.1")}, []Connection{mapped}},
		{Service{Address: netip.MustParseAddr("fe80::1%eth0"), Port: 53}, []Connection{v6}},
	} {
		var c *Client // a filter without a fwmark needs no read
		m, err := c.connMatcher(context.Background(), ConnectionFilter{Service: tt.svc})
		if err != nil {
			t.Fatal(err)
		}
		var got []Connection
		for _, c := range all {
			if m.match(&c) {
				got = append(got, c)
			}
		}
		if diff := cmp.Diff(tt.want, got, connCmp); diff != "" {
			t.Errorf("filter service of family %v, address %v (-want +got):\n%s", tt.svc.Family, tt.svc.Address, diff)
		}
	}
}

// statsProc is a procfs whose ip_vs_stats is text, or fails with err.
type statsProc struct {
	seam.Proc // the other files: never read here
	text      string
	err       error
}

func (p statsProc) ReadStats() ([]byte, error) { return []byte(p.text), p.err }

func totalsClient(p seam.Proc) *Client {
	c := newClientWith(&Config{}, nil, genlFamily{})
	c.proc = p
	return c
}

// TestTotals maps each value of ip_vs_stats to its field, and each way a
// read fails to an *Error of the operation that matches its cause.
func TestTotals(t *testing.T) {
	want := Stats{Connections: 1, InPackets: 2, OutPackets: 3, InBytes: 4, OutBytes: 5,
		ConnectionRate: 6, InPacketRate: 7, OutPacketRate: 8, InByteRate: 9, OutByteRate: 1 << 40}
	text := fakekernel.FormatStats(procfs.Stats(want))
	if got, err := totalsClient(statsProc{text: text}).Totals(context.Background()); err != nil || got != want {
		t.Errorf("Totals of\n%s= %+v, %v; want %+v", text, got, err, want)
	}

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tt := range []struct {
		name    string
		c       *Client
		ctx     context.Context
		targets []error
		says    string
	}{
		{"no procfs", totalsClient(nil), context.Background(), []error{errors.ErrUnsupported}, "reads no procfs"},
		{"a cancelled call", totalsClient(statsProc{text: text}), cancelled, []error{context.Canceled}, "canceled"},
		{"no ip_vs", totalsClient(statsProc{err: &fs.PathError{Op: "open", Path: procfs.StatsFile, Err: syscall.ENOENT}}),
			context.Background(), []error{ErrNoIPVS, os.ErrNotExist, syscall.ENOENT}, "ip_vs_stats"},
		{"a line that does not parse", totalsClient(statsProc{text: strings.Replace(text, "       1 ", "      -1 ", 1)}),
			context.Background(), []error{os.ErrInvalid}, `ip_vs_stats line 3: invalid column Total Conns: "-1"`},
	} {
		_, err := tt.c.Totals(tt.ctx)
		var e *Error
		if !errors.As(err, &e) || e.Op != opTotals || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%s: %v; want an *Error of %q that says %q", tt.name, err, opTotals, tt.says)
		}
		for _, target := range tt.targets {
			if !errors.Is(err, target) {
				t.Errorf("%s: %v does not match %v", tt.name, err, target)
			}
		}
	}
}
