package ipvs

import (
	"context"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

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
