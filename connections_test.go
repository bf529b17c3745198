package ipvs

import (
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
