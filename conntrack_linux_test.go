//go:build linux

package ipvs

import (
	"net/netip"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/ti-mo/conntrack"
	"github.com/ti-mo/netfilter"
)

// TestConntrackDeleteRequest checks the request that deletes one entry:
// ctnetlink's delete, acknowledged, carrying the entry's original tuple,
// its ID and its zone, and nothing else that could widen or miss it.
func TestConntrackDeleteRequest(t *testing.T) {
	for _, tt := range []struct {
		name   string
		family netfilter.ProtoFamily
		src    string
		dst    string
		zone   uint16
	}{
		{"ipv4", netfilter.ProtoIPv4, "10.99.0.2", "10.99.1.1", 0},
		{"ipv6 in a zone", netfilter.ProtoIPv6, "fd00::2", "fd00::1", 7},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := conntrack.NewFlow(17, 0, netip.MustParseAddr(tt.src), netip.MustParseAddr(tt.dst), 40000, 53, 30, 0)
			f.ID, f.Zone = 0xdeadbeef, tt.zone
			msg, err := deleteRequest(tt.family, &f)
			if err != nil {
				t.Fatal(err)
			}
			if msg.Header.Flags != netlink.Request|netlink.Acknowledge {
				t.Errorf("flags %v", msg.Header.Flags)
			}
			h, attrs, err := netfilter.UnmarshalNetlink(msg)
			if err != nil {
				t.Fatal(err)
			}
			if h.SubsystemID != netfilter.NFSubsysCTNetlink || h.MessageType != ctMsgDelete || h.Family != tt.family {
				t.Errorf("header %v", h)
			}
			got := map[uint16]netfilter.Attribute{}
			for _, a := range attrs {
				got[a.Type] = a
			}
			wantN := 2
			if tt.zone != 0 {
				wantN = 3
				if z, ok := got[ctaZone]; !ok || z.Uint16() != tt.zone {
					t.Errorf("zone %v, want %d", z, tt.zone)
				}
			}
			if len(attrs) != wantN {
				t.Errorf("%d attributes, want %d: %v", len(attrs), wantN, attrs)
			}
			if id := got[ctaID]; id.Uint32() != 0xdeadbeef {
				t.Errorf("id %v", id)
			}
			orig := got[ctaTupleOrig]
			if !orig.Nested || len(orig.Children) != 2 {
				t.Fatalf("original tuple %v", orig)
			}
			ip, proto := orig.Children[0], orig.Children[1]
			off := uint16(0)
			if tt.family == netfilter.ProtoIPv6 {
				off = 2
			}
			if len(ip.Children) != 2 || ip.Children[0].Type != ctaIPv4Src+off || ip.Children[1].Type != ctaIPv4Dst+off ||
				netip.AddrFrom16([16]byte(pad16(ip.Children[0].Data))).Unmap().String() != tt.src ||
				netip.AddrFrom16([16]byte(pad16(ip.Children[1].Data))).Unmap().String() != tt.dst {
				t.Errorf("ip tuple %v", ip)
			}
			if len(proto.Children) != 3 || proto.Children[0].Data[0] != 17 || proto.Children[1].Uint16() != 40000 || proto.Children[2].Uint16() != 53 {
				t.Errorf("proto tuple %v", proto)
			}
		})
	}
}

// pad16 returns an address's bytes as 16, an IPv4 one mapped.
func pad16(b []byte) []byte {
	if len(b) == 4 {
		return append([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, b...)
	}
	return b
}
